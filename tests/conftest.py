"""Fixtures shared by every test: a fresh home, real CoW and fallback filesystems."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/loopfs.py, tests/trees.py

import loopfs  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(reason: str) -> None:
    """Skips a test whose environment is missing, except in CI, where it fails."""
    if IN_CI:
        pytest.fail(f"CI=true and this test cannot run: {reason}")
    pytest.skip(reason)


def _session_mount(fstype: str, size_mib: int):
    reason = loopfs.can_mount()
    if reason:
        return None, reason
    try:
        return loopfs.mount(fstype, size_mib), None
    except Exception as exc:  # the reason is reported by the tests that need it
        return None, f"cannot mount {fstype}: {exc}"


@pytest.fixture(scope="session")
def xfs_mount():
    """A 2 GiB XFS filesystem with reflink=1 on a loop device (root only)."""
    lm, reason = _session_mount("xfs", 2048)
    if lm is None:
        need(reason)
    yield lm.path
    loopfs.unmount(lm)


@pytest.fixture(scope="session")
def btrfs_mount():
    """A 1 GiB btrfs filesystem on a loop device (root only)."""
    lm, reason = _session_mount("btrfs", 1024)
    if lm is None:
        need(reason)
    yield lm.path
    loopfs.unmount(lm)


@pytest.fixture
def cow_dir(xfs_mount, request) -> Path:
    """A fresh directory on the XFS mount, removed after the test."""
    import shutil
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="t-", dir=xfs_mount))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def ext4_mount():
    """A 1 GiB ext4 filesystem (no reflink) on a loop device (root only), checked to be ext4."""
    lm, reason = _session_mount("ext4", 1024)
    if lm is None:
        need(reason)
    found = subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "--target", str(lm.path)],
                           capture_output=True, text=True).stdout.strip()
    if found != "ext4":
        loopfs.unmount(lm)
        pytest.fail(f"the ext4 loop volume at {lm.path} is {found or 'not mounted'}")
    yield lm.path
    loopfs.unmount(lm)


@pytest.fixture
def ext4_dir(ext4_mount) -> Path:
    """A fresh directory on the ext4 loop volume (a filesystem without reflink), removed after the test."""
    import shutil
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="t-", dir=ext4_mount))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def tmpfs_dir() -> Path:
    """A fresh directory on tmpfs (/dev/shm)."""
    import shutil
    import tempfile

    if not Path("/dev/shm").is_dir():
        need("/dev/shm is missing")
    d = Path(tempfile.mkdtemp(prefix="bodega-t-", dir="/dev/shm"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh BODEGA_HOME."""
    h = tmp_path / "home"
    monkeypatch.setenv("BODEGA_HOME", str(h))
    return h


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):
    """argon2id with tiny parameters, so tests that hash passwords stay fast (the format is the same)."""
    from argon2 import PasswordHasher

    from bodega.services import credentials

    monkeypatch.setattr(credentials, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
