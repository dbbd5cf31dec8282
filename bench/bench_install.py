"""Installing an app: bodega's install transaction vs plain extraction plus one delta snapshot.

Acceptance (issue 11): installing a 20k-file app archive into a container (pre-install
snapshot, checked unpack through the no-follow tree, post-install snapshot, catalogue) costs
at most 1.5x `bsdtar -xf` into the container's tree followed by one delta snapshot.  Both
sides start from a fresh, empty container with a first snapshot; their rounds alternate.

    PYTHONPATH=src python -m pytest bench/bench_install.py -s    # BODEGA_BENCH_INSTALL_FILES=20000
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import bodega
import treegen
from conftest import ROUNDS, need, run_peer
from measure import settle

FILES = int(os.environ.get("BODEGA_BENCH_INSTALL_FILES", "20000"))


@pytest.fixture(scope="module")
def app_archive():
    """A tar.gz of a generated 20k-file tree (its symlinks stay inside it), on /var/tmp."""
    if shutil.which("bsdtar") is None:
        need("bsdtar is not installed (apt-get install libarchive-tools)")
    base = Path(tempfile.mkdtemp(prefix="bodega-bench-install-", dir="/var/tmp"))
    treegen.generate(base / "app", FILES, 0)
    archive = base / "app.tar.gz"
    run_peer(["bsdtar", "-czf", str(archive), "-C", str(base / "app"), "."])
    shutil.rmtree(base / "app")
    os.sync()
    yield base, archive
    shutil.rmtree(base, ignore_errors=True)


def _entry(archive: Path) -> str:
    """An entry point: the first regular file of the archive."""
    listing = subprocess.run(["bsdtar", "-tvf", str(archive)], capture_output=True, text=True, check=True).stdout
    for line in listing.splitlines():
        if line.startswith("-"):
            return line.split()[-1].removeprefix("./")
    raise AssertionError("no file in the archive")


def test_install_vs_bsdtar_plus_a_delta_snapshot(app_archive, ratios):
    base, archive = app_archive
    entry = _entry(archive)
    ours, theirs = [], []
    with bodega.open(base / "home") as b:
        for i in range(ROUNDS):
            for side in ("bodega", "bsdtar"):
                name = f"{side}-{i}"
                c = b.containers.create(name)
                b.snapshots.create(name, label="empty")
                root = Path(c.storage_path) / "root"
                settle()
                start = time.perf_counter()
                if side == "bodega":
                    b.apps.install(name, archive, name="app", entries=[f"app={entry}"])
                    ours.append(time.perf_counter() - start)
                else:
                    (root / "apps/app").mkdir(parents=True)
                    run_peer(["bsdtar", "-xf", str(archive), "-C", str(root / "apps/app")])
                    b.snapshots.create(name, kind="delta", label="after extraction")
                    theirs.append(time.perf_counter() - start)
                b.containers.delete(name)
    mine, peer = sorted(ours)[len(ours) // 2], sorted(theirs)[len(theirs) // 2]
    ratios.record(f"install {FILES} files (ext4)", "bodega", mine)
    ratios.record(f"install {FILES} files (ext4)", "bsdtar -xf + delta snapshot", peer)
    print(f"\ninstall of {FILES} files: bodega {mine * 1000:.0f} ms, bsdtar -xf + one delta snapshot "
          f"{peer * 1000:.0f} ms: ratio {mine / peer:.2f}x (target <= 1.5x)")
