"""Export and import: bodega vs `zip -r -q -1` / `7z a -mx1`, and vs `unzip -q` / `7z x`, same tree, one run.

Acceptance (issue 12), on the generated tree (BODEGA_BENCH_FILES, default 100000 files):
zip export at least 2x faster than `zip -r -q -1 -y` with a package at most 10% larger; 7z
export at least as fast as `7z a -mx1 -snl` with a package at most 10% larger; import at
least as fast as `unzip -q` / `7z x -snld` of the same package; the round trip keeps the
manifest root hash.  Run (root, ext4 under /var/tmp):

    BODEGA_BENCH_FILES=100000 python -m pytest bench/bench_export.py -s -p no:cacheprovider

Rounds alternate between bodega and the peer; the summary prints medians, ratios and sizes.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

import bodega
from bodega.storage import manifest as mf

from conftest import ROUNDS, need
from measure import interleaved_medians


def seven_zip() -> str:
    for name in ("7z", "7zz"):
        if shutil.which(name):
            return name
    need("7-Zip is not installed (apt-get install 7zip)")
    return ""


@pytest.fixture(scope="module")
def home_with_tree(ext4_tree):
    """A home beside the tree whose container 'dev' holds a copy of it (snapshotted once)."""
    base = Path(tempfile.mkdtemp(prefix="export-", dir=ext4_tree.parent))
    with bodega.open(base / "home") as b:
        c = b.containers.create("dev")
        root = Path(c.storage_path) / "root"
        root.rmdir()
        subprocess.run(["cp", "-a", str(ext4_tree), str(root)], check=True)
        b.snapshots.create("dev")
    yield base, root
    shutil.rmtree(base, ignore_errors=True)


def run_peer(argv: list[str], cwd: Path) -> None:
    """Runs a peer tool in cwd, failing with its stderr when it fails."""
    done = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")


def _fresh(base: Path, name: str) -> Path:
    path = base / name
    if path.exists():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return path


@pytest.mark.parametrize("fmt", ["zip", "7z"])
def test_export_and_import_vs_peers(home_with_tree, ratios, fmt):
    base, root = home_with_tree
    sz = seven_zip()
    ours_pkg, peer_pkg = base / f"ours.{fmt}", base / f"peer.{fmt}"
    peer = ["zip", "-r", "-q", "-1", "-y", str(peer_pkg), "."] if fmt == "zip" else \
        [sz, "a", "-mx1", "-snl", "-bd", str(peer_pkg), "."]

    with bodega.open(base / "home") as b:
        def ours_export() -> None:
            _fresh(base, ours_pkg.name)
            b.exports.export("dev", format=fmt, location=str(ours_pkg))

        def peer_export() -> None:
            _fresh(base, peer_pkg.name)
            run_peer(peer, cwd=root)

        exports = interleaved_medians({"bodega": ours_export, "peer": peer_export}, rounds=ROUNDS)
        ours_size, peer_size = ours_pkg.stat().st_size, peer_pkg.stat().st_size
        n = [0]

        def ours_import() -> None:
            n[0] += 1
            b.imports.import_package(ours_pkg, name=f"copy{n[0]}")

        def peer_import() -> None:
            dest = _fresh(base, "extracted")
            dest.mkdir()
            argv = ["unzip", "-q", str(ours_pkg)] if fmt == "zip" else [sz, "x", "-snld", "-bd", str(ours_pkg)]
            run_peer(argv, cwd=dest)

        imports = interleaved_medians({"bodega": ours_import, "peer": peer_import}, rounds=ROUNDS)
        copy_root = Path(b.containers.get("copy1").storage_path) / "root"
        assert mf.build(copy_root).root == mf.build(root).root
        for i in range(1, n[0] + 1):
            b.containers.delete(f"copy{i}")

    peer_name = "zip -1" if fmt == "zip" else "7z a -mx1"
    ratios.record(f"export {fmt}", "bodega", exports["bodega"])
    ratios.record(f"export {fmt}", peer_name, exports["peer"])
    ratios.record(f"import {fmt}", "bodega", imports["bodega"])
    ratios.record(f"import {fmt}", "unzip -q" if fmt == "zip" else "7z x", imports["peer"])
    ratios.note(f"{fmt} package: bodega {ours_size / 2**20:.1f} MiB, {peer_name} {peer_size / 2**20:.1f} MiB "
                f"(bodega/peer = {ours_size / peer_size:.3f})")
    assert ours_size <= 1.10 * peer_size
    if fmt == "zip":
        assert exports["bodega"] * 2 <= exports["peer"], exports
    else:
        assert exports["bodega"] <= exports["peer"], exports
    assert imports["bodega"] <= imports["peer"], imports
