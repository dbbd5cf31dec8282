"""Fixtures shared by every test: a fresh home, real CoW and fallback filesystems."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/loopfs.py, tests/trees.py

import loopfs  # noqa: E402
import native_backends  # noqa: E402

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


# --- back ends: SQLite + the local store, and PostgreSQL + S3 -----------------------------------

# The suites that run on both back ends (the rest run on the embedded default only): the
# catalogue, tasks, events, containers and snapshots.
BOTH_BACKENDS = (
    "catalogue/",
    "services/test_tasks.py", "services/test_events.py", "services/test_containers.py",
    "services/test_concurrency.py", "services/test_snapshots.py", "services/test_snapshot_tasks.py",
    "services/test_snapshot_journals.py", "services/test_snapshot_faults.py", "services/test_scaleout.py",
    "storage/test_snapshot.py",
)


def pytest_generate_tests(metafunc):
    """Runs the BOTH_BACKENDS suites once per back end (ids [local] and [fleet]), and the
    native and storage suites once per back end of the native core ([cython] and [cffi])."""
    rel = Path(str(metafunc.definition.path)).relative_to(Path(__file__).parent).as_posix()
    if native_backends.runs_on_both(rel, metafunc.module):
        metafunc.fixturenames.insert(0, "native_backend")
        metafunc.parametrize("native_backend", native_backends.BACKENDS, indirect=True)
    if "backend" not in metafunc.fixturenames:
        return
    if rel.startswith(BOTH_BACKENDS):
        metafunc.parametrize("backend", ["local", "fleet"], indirect=True)


@pytest.fixture
def native_backend(request, monkeypatch):
    """The back end of the native core this run of the test uses ("cython" or "cffi")."""
    backend = getattr(request, "param", "cython")
    before = set(sys.modules)
    native_backends.use_backend(backend, request.module, monkeypatch)
    yield backend
    native_backends.restore_new_modules(before, backend)


@pytest.fixture
def backend(request) -> str:
    """"local" (SQLite and the store in the home) or "fleet" (PostgreSQL and S3 on loopback)."""
    return getattr(request, "param", "local")


@pytest.fixture(scope="session")
def pg_cluster():
    """A private PostgreSQL cluster on loopback, with the template database the tests copy."""
    import pgserver

    reason = pgserver.missing()
    if reason:
        need(reason)
    cluster = pgserver.start()
    try:
        pgserver.make_template(cluster)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def s3_server():
    """An S3-compatible server on loopback (moto, its own process) behind a counting, faulting proxy."""
    import s3server

    reason = s3server.missing()
    if reason:
        need(reason)
    server = s3server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_store(s3_server, monkeypatch) -> str:
    """A fresh store in the S3 server (a prefix of its bucket); the AWS environment points at it."""
    import uuid

    import s3server

    for k, v in s3_server.env().items():
        monkeypatch.setenv(k, v)
    s3_server.reset_faults()
    url = f"s3://{s3server.BUCKET}/{uuid.uuid4().hex}"
    monkeypatch.setenv("BODEGA_STORE_URL", url)
    monkeypatch.setenv("BODEGA_STORE_BACKOFF", "0.01")  # tests inject faults: retry at once
    return url


@pytest.fixture
def aws(s3_server, monkeypatch):
    """The AWS environment pointing at the S3 test server (for s3:// export locations), parts of
    5 MiB (S3's smallest) so that small packages go up in several."""
    for k, v in s3_server.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("BODEGA_S3_PART_MB", "5")
    monkeypatch.setenv("BODEGA_STORE_BACKOFF", "0.01")  # tests inject faults: retry at once
    s3_server.reset_faults()
    return s3_server


@pytest.fixture
def pg_database(pg_cluster):
    """A fresh catalogue database (the current schema) on the private cluster; its URL."""
    url = pg_cluster.new_database()
    yield url
    pg_cluster.drop(url)


@pytest.fixture
def catalogue_url(backend, tmp_path, request) -> str:
    """The URL of an empty catalogue database on this test's back end."""
    if backend == "local":
        return f"sqlite:///{tmp_path / 'bodega.db'}"
    cluster = request.getfixturevalue("pg_cluster")
    url = cluster.empty_database()
    request.addfinalizer(lambda: cluster.drop(url))
    return url


@pytest.fixture
def home(tmp_path, monkeypatch, backend, request) -> Path:
    """A fresh BODEGA_HOME (on the fleet back end, with its own PostgreSQL database and S3 store)."""
    h = tmp_path / "home"
    monkeypatch.setenv("BODEGA_HOME", str(h))
    if backend == "fleet":
        monkeypatch.setenv("BODEGA_DATABASE_URL", request.getfixturevalue("pg_database"))
        request.getfixturevalue("s3_store")
    return h


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):
    """argon2id with tiny parameters, so tests that hash passwords stay fast (the format is the same)."""
    from argon2 import PasswordHasher

    from bodega.services import credentials

    monkeypatch.setattr(credentials, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
