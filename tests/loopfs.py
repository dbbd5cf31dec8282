"""Real filesystems on loop devices for tests and benchmarks (XFS with reflink, btrfs).

Copy-on-write is never mocked: as root we make an image file, format it, attach it to a
loop device and mount it.  `unmount` always detaches, and `atexit` catches what a crashed
session left, so no loop device outlives the run.
"""
from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

MKFS = {
    "xfs": ["mkfs.xfs", "-q", "-f", "-m", "reflink=1"],
    "btrfs": ["mkfs.btrfs", "-q", "-f"],
    "ext4": ["mkfs.ext4", "-q", "-F"],
}
APT_PACKAGE = {"xfs": "xfsprogs", "btrfs": "btrfs-progs", "ext4": "e2fsprogs"}

_live: list["LoopMount"] = []


@dataclass
class LoopMount:
    """A mounted loop filesystem."""

    fstype: str
    path: Path
    image: Path
    device: str


def can_mount() -> str | None:
    """None when loop mounts are possible here, else the reason why not."""
    if os.geteuid() != 0:
        return "loop mounts need root"
    if shutil.which("losetup") is None:
        return "losetup is missing"
    return None


def _ensure_mkfs(fstype: str) -> None:
    if shutil.which(MKFS[fstype][0]):
        return
    # The test fixtures install what they need, so a fresh machine works (CI runs as root).
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "install", "-y", "-qq", APT_PACKAGE[fstype]], env=env,
                   check=False, capture_output=True)
    if not shutil.which(MKFS[fstype][0]):
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", APT_PACKAGE[fstype]], env=env,
                       check=True, capture_output=True)


def mount(fstype: str, size_mib: int = 1024, workdir: str | None = None, direct_io: bool = False) -> LoopMount:
    """Formats a sparse image of size_mib as fstype and mounts it on a loop device (direct_io:
    the device reads and writes its image past the page cache, as a disk has none below the
    volume's own)."""
    reason = can_mount()
    if reason:
        raise RuntimeError(reason)
    _ensure_mkfs(fstype)
    base = Path(tempfile.mkdtemp(prefix=f"bodega-{fstype}-", dir=workdir or "/var/tmp"))
    image = base / "image"
    mnt = base / "mnt"
    mnt.mkdir()
    with open(image, "wb") as f:
        f.truncate(size_mib * 1024 * 1024)
    subprocess.run([*MKFS[fstype], str(image)], check=True, capture_output=True)
    dio = ["--direct-io=on"] if direct_io else []
    device = subprocess.run(["losetup", "--find", "--show", *dio, str(image)], check=True,
                            capture_output=True, text=True).stdout.strip()
    lm = LoopMount(fstype, mnt, image, device)
    _live.append(lm)
    if direct_io and Path(f"/sys/block/{Path(device).name}/loop/dio").read_text().strip() != "1":
        unmount(lm)  # the kernel fell back to cached I/O: the figures would not be what they claim
        raise RuntimeError(f"{device} ignored --direct-io")
    try:
        subprocess.run(["mount", device, str(mnt)], check=True, capture_output=True)
    except subprocess.CalledProcessError:
        unmount(lm)
        raise
    return lm


def unmount(lm: LoopMount) -> None:
    """Unmounts, detaches the loop device and removes the image; never raises."""
    subprocess.run(["umount", "-l", str(lm.path)], check=False, capture_output=True)
    subprocess.run(["losetup", "-d", lm.device], check=False, capture_output=True)
    shutil.rmtree(lm.image.parent, ignore_errors=True)
    if lm in _live:
        _live.remove(lm)


def fill(path: Path) -> None:
    """Writes the file at path until its volume has no data block left for another 64 KiB."""
    with open(path, "wb") as f:
        try:
            while True:
                f.write(b"\xff" * (1 << 16))
                f.flush()
        except OSError:
            pass


@atexit.register
def _cleanup() -> None:
    for lm in list(_live):
        unmount(lm)
