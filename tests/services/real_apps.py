"""Apps nobody here wrote, as the app tests install them: Debian's busybox-static (an archive of
the package's own files) and pip from Debian's python3-pip-whl (installed by pip itself)."""
from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

from conftest import need

PIP_WHEELS = Path("/usr/share/python-wheels")


def busybox_archive(where: Path) -> Path:
    """busybox-static's files as Debian installs them, in a tar.xz (.ci/run installs the package)."""
    try:
        listed = subprocess.run(["dpkg", "-L", "busybox-static"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        need("Debian's busybox-static is not installed (apt-get install busybox-static)")
    files = [Path(p) for p in listed.split() if Path(p).is_file() and not Path(p).is_symlink()]
    path = where / "busybox-static.tar.xz"
    with tarfile.open(path, "w:xz") as tf:
        for f in files:
            tf.add(f, arcname=str(f.relative_to("/")))
    return path


def pip_wheel() -> Path:
    """Debian's copy of pip's wheel, as published on PyPI."""
    wheels = sorted(PIP_WHEELS.glob("pip-*-py3-none-any.whl"))
    if not wheels or shutil.which("python3") is None:
        need("Debian's python3-pip-whl and python3 are not installed")
    return wheels[-1]


def pip_installer(where: Path) -> Path:
    """An installer script that has pip install pip's wheel into the container's prefix."""
    script = where / "install-pip.sh"
    script.write_text(
        "#!/bin/sh\n"
        "set -e\n"
        f"exec /usr/bin/python3 -m pip install --no-index --no-deps --no-cache-dir --no-compile "
        f"--disable-pip-version-check --ignore-installed --root-user-action=ignore --prefix \"$BODEGA_PREFIX\" {pip_wheel()}\n")
    script.chmod(0o755)
    return script


def record_of(root: Path) -> set[str]:
    """The files pip's RECORD says it installed, relative to the container root."""
    records = list(root.rglob("pip-*.dist-info/RECORD"))
    assert len(records) == 1, records
    site = records[0].parent.parent
    out = set()
    for line in records[0].read_text().splitlines():
        rel = line.split(",")[0]
        out.add((site / rel).resolve().relative_to(root.resolve()).as_posix())
    return out


def tar_of(where: Path, files: dict[str, bytes], name: str = "app.tar.gz", modes: dict[str, int] | None = None) -> Path:
    """A tar.gz of files (path -> bytes)."""
    path = where / name
    with tarfile.open(path, "w:gz") as tf:
        for rel, data in files.items():
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            info.mode = (modes or {}).get(rel, 0o755 if data.startswith((b"#!", b"\x7fELF")) else 0o644)
            tf.addfile(info, io.BytesIO(data))
    return path
