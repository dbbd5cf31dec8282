"""BLAKE3 in the native core: every back end against the `blake3` package and the official
test vectors; file and batch hashing with their failures (changed, vanished, unreadable,
links, fifos)."""
from __future__ import annotations

import json
import os
import random
import threading
from pathlib import Path

import blake3
import pytest

from bodega import errors
from bodega._native import hash as bh
from native_backends import binding

VECTORS = json.loads((Path(__file__).parent / "data" / "blake3_test_vectors.json").read_text())
KIB, MIB = 1024, 1024 * 1024

# every size class: empty, one byte, block (64) and chunk (1024) edges, chunk counts at
# tree boundaries (2, 3, 4, 8, 16, 31/32/33 chunks), 1 MiB edges
SIZES = [0, 1, 63, 64, 65, 1023, 1024, 1025, 2048, 3072, 4096, 8 * KIB - 1, 8 * KIB, 8 * KIB + 1,
         16 * KIB - 1, 16 * KIB, 16 * KIB + 1, 31 * KIB, 32 * KIB, 33 * KIB, MIB - 1, MIB, MIB + 1]


@pytest.fixture(params=bh.implementations())
def impl(request):
    """Runs the test once per BLAKE3 back end this CPU can run."""
    before = bh.implementation()
    bh.use_implementation(request.param)
    yield request.param
    bh.use_implementation(before)


def random_bytes(n: int, seed: int = 0) -> bytes:
    return random.Random(seed * 1_000_003 + n).randbytes(n)


# --- the hash itself ----------------------------------------------------------------------

def test_every_backend_this_cpu_has_is_compiled_in():
    # x86-64 with GCC: the SIMD back ends must be there whenever the CPU has the instructions
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    expected = {"portable"}
    for name, flag in (("sse41", "sse4_1"), ("avx2", "avx2"), ("avx512", "avx512vl")):
        if f" {flag}" in flags:
            expected.add(name)
    assert set(bh.implementations()) == expected
    assert bh.implementation() == bh.implementations()[-1]


@pytest.mark.parametrize("size", SIZES)
def test_one_shot_matches_blake3_package(impl, size):
    data = random_bytes(size)
    assert bh.Blake3(data).digest() == blake3.blake3(data).digest()


@pytest.mark.parametrize("backend", ["cython", "cffi"])
def test_many_messages_hashed_side_by_side_match_one_by_one(impl, backend):
    # sizes around the chunk, the lanes' and the small-message limit (16 KiB), in one batch
    sizes = [0, 1, 64, 1023, 1024, 1025, 4096, 16 * KIB - 1, 16 * KIB, 16 * KIB + 1, 100 * KIB] * 3
    messages = [random_bytes(n, seed=i) for i, n in enumerate(sizes)]
    views = [memoryview(m) for m in messages[:5]] + [bytearray(m) for m in messages[5:10]] + messages[10:]
    hash_many = binding(backend, "hash").hash_many
    assert hash_many(views) == [blake3.blake3(m).digest() for m in messages]
    assert hash_many([]) == []


@pytest.mark.parametrize("size", [1025, 8 * KIB + 1, 33 * KIB, MIB + 1])
def test_any_split_into_updates_gives_the_same_hash(impl, size):
    data = random_bytes(size, seed=1)
    rng = random.Random(size)
    h = bh.Blake3()
    pos = 0
    while pos < size:
        step = rng.choice([1, 63, 64, 1000, 1024, 4096, 20000])
        h.update(data[pos:pos + step])
        pos += step
    assert h.digest() == blake3.blake3(data).digest()


def test_100_megabytes(impl):
    data = random_bytes(100_000_000, seed=2)
    expected = blake3.blake3(data, max_threads=blake3.blake3.AUTO).digest()
    assert bh.Blake3(data).digest() == expected
    h = bh.Blake3()
    view = memoryview(data)
    for start in range(0, len(data), 7 * MIB + 3):  # unaligned pieces
        h.update(view[start:start + 7 * MIB + 3])
    assert h.digest() == expected


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: str(c["input_len"]))
def test_official_vectors(impl, case):
    data = bytes(i % 251 for i in range(case["input_len"]))
    key = VECTORS["key"].encode()
    context = VECTORS["context_string"]
    for mode, h in (("hash", bh.Blake3(data)), ("keyed_hash", bh.Blake3(data, key=key)),
                    ("derive_key", bh.Blake3(data, derive_key_context=context))):
        expected = bytes.fromhex(case[mode])
        assert h.digest(len(expected)) == expected, mode
        assert h.digest() == expected[:32], mode


def test_hash_object_is_hashlib_shaped():
    h = bh.Blake3(b"abc")
    fork = h.copy()
    fork.update(b"def")
    assert h.digest() == blake3.blake3(b"abc").digest()  # the copy is independent
    assert fork.hexdigest() == blake3.blake3(b"abcdef").hexdigest()
    assert h.update(bytearray(b"x")) is None
    h.update(memoryview(b"yz"))
    assert h.digest() == blake3.blake3(b"abcxyz").digest()
    assert (h.name, h.digest_size, h.block_size) == ("blake3", 32, 64)
    assert h.digest(0) == b""


def test_hash_object_refuses_bad_input():
    with pytest.raises(TypeError, match="encoded"):
        bh.Blake3().update("text")
    with pytest.raises(TypeError):
        bh.Blake3().update(data=b"x")  # positional only, like hashlib
    with pytest.raises(errors.InvalidInput, match="32 bytes"):
        bh.Blake3(key=b"short")
    with pytest.raises(errors.InvalidInput, match="not both"):
        bh.Blake3(key=bytes(32), derive_key_context="c")
    with pytest.raises(errors.InvalidInput, match="negative"):
        bh.Blake3().digest(-1)
    with pytest.raises(errors.InvalidInput, match="unknown BLAKE3 back end"):
        bh.use_implementation("sse9")


def test_updates_from_threads_are_serialised():
    data = random_bytes(MIB, seed=3)
    h = bh.Blake3()
    workers = [threading.Thread(target=lambda: [h.update(data) for _ in range(8)]) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert h.digest() == blake3.blake3(data * 32).digest()


# --- one file -----------------------------------------------------------------------------

@pytest.mark.parametrize("size", [0, 1, 5 * MIB + 3, 36 * MIB + 1025])
@pytest.mark.parametrize("threads", [None, 1, 2, 3])
def test_hash_file_matches_blake3(tmp_path, size, threads):
    data = random_bytes(size, seed=4)
    f = tmp_path / "f.bin"
    f.write_bytes(data)
    assert bh.hash_file(f, threads=threads) == blake3.blake3(data).digest()


def test_hash_file_every_backend(tmp_path, impl):
    data = random_bytes(9 * MIB + 7, seed=5)
    (tmp_path / "f").write_bytes(data)
    assert bh.hash_file(str(tmp_path / "f")) == blake3.blake3(data).digest()


def grow_once(path: Path):
    """A progress callback that appends to path the first time it is called."""
    calls = []

    def callback(progress):
        if not calls:
            with open(path, "ab") as f:
                f.write(b"more")
        calls.append(progress)
    return callback, calls


@pytest.mark.parametrize("threads", [1, 2])
def test_file_growing_while_hashed_is_reported(tmp_path, threads):
    f = tmp_path / "growing"
    f.write_bytes(random_bytes(12 * MIB))
    callback, calls = grow_once(f)
    with pytest.raises(errors.ChangedWhileReading) as exc:
        bh.hash_file(f, threads=threads, progress=callback)
    assert calls, "the callback never ran, so nothing was modified"
    assert str(f) in str(exc.value)


def test_file_shrinking_while_hashed_is_reported(tmp_path):
    f = tmp_path / "shrinking"
    f.write_bytes(random_bytes(3 * MIB))

    def truncate(progress):
        os.truncate(f, 1000)
    with pytest.raises(errors.ChangedWhileReading, match="shrinking"):
        bh.hash_file(f, threads=1, progress=truncate)


def test_file_vanishing_while_hashed_is_reported(tmp_path):
    f = tmp_path / "vanishing"
    f.write_bytes(random_bytes(3 * MIB))
    os.utime(f, ns=(0, 0))
    threading.Event().wait(0.05)  # so the unlink's ctime is a later tick than the creation's

    def unlink(progress):
        if f.exists():
            f.unlink()
    with pytest.raises(errors.ChangedWhileReading, match="vanishing"):
        bh.hash_file(f, threads=1, progress=unlink)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(errors.PathNotFound) as exc:
        bh.hash_file(tmp_path / "nope")
    assert exc.value.filename == str(tmp_path / "nope")


def run_unprivileged(fn):
    """Runs fn() in a child process that has dropped root, returning what it raised (or None)."""
    if os.geteuid() != 0:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - handed back to the test to check
            return exc
        return None
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop to nobody, run, report the exception type and message
        os.close(r)
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            fn()
            out = b"None"
        except Exception as exc:  # noqa: BLE001
            out = f"{type(exc).__name__}\n{exc}\n{getattr(exc, 'filename', '')}".encode()
        os.write(w, out)
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    if data == b"None":
        return None
    name, message, filename = data.decode().split("\n", 2)
    return (name, message, filename)


@pytest.fixture
def world_dir():
    """A fresh directory that an unprivileged user can enter (pytest's tmp_path is 0700)."""
    import shutil
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="bodega-t-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_unreadable_file_is_named(world_dir):
    f = world_dir / "secret"
    f.write_bytes(b"x" * 100)
    f.chmod(0)
    result = run_unprivileged(lambda: bh.hash_file(f))
    if isinstance(result, tuple):
        name, message, filename = result
        assert name == "AccessDenied" and filename == str(f), result
    else:
        assert isinstance(result, errors.AccessDenied) and result.filename == str(f)


def test_symlink_is_refused(tmp_path):
    (tmp_path / "real").write_bytes(b"data")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(errors.UnsafePath, match="link"):
        bh.hash_file(tmp_path / "link")


def test_fifo_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    outcome = []
    t = threading.Thread(target=lambda: outcome.append(pytest.raises(errors.SpecialFile, bh.hash_file, fifo)),
                         daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), "hashing a fifo blocked"
    assert outcome and outcome[0].value.details["path"] == str(fifo)


def test_directory_is_not_a_file(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(errors.IsADirectory):
        bh.hash_file(tmp_path / "d")
    with pytest.raises(errors.InvalidInput):
        bh.hash_file(tmp_path / "..")


@pytest.mark.parametrize("threads", [0, -1, 1.5, "2", True])
def test_bad_thread_counts_are_refused(tmp_path, threads):
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(errors.InvalidInput, match="threads"):
        bh.hash_file(tmp_path / "f", threads=threads)


@pytest.mark.parametrize("threads, size", [(1, 2 * MIB), (2, 40 * MIB)])
def test_progress_reports_bytes_and_its_exception_cancels(tmp_path, threads, size):
    f = tmp_path / "f"
    f.write_bytes(random_bytes(size))
    seen = []

    def stop(progress):
        seen.append(progress)
        raise KeyError("stop here")
    with pytest.raises(KeyError, match="stop here"):
        bh.hash_file(f, threads=threads, progress=stop)
    assert len(seen) == 1 and 0 < seen[0].bytes_done < size
    with pytest.raises(TypeError, match="callable"):
        bh.hash_file(f, progress=42)


# --- many files ---------------------------------------------------------------------------

def make_tree(root: Path) -> dict[str, bytes]:
    """A small tree with nested directories, shared prefixes, an empty and a big file."""
    files = {}
    rng = random.Random(7)
    names = ["a/b/c/one", "a/b/c/two", "a/b/three", "a/bb/four", "a/b-c/five", "top", "x/y/z/w/deep",
             "a/b/c/d/e/six", "empty", "x/big"]
    for i in range(40):
        names.append(f"many/d{i % 5}/f{i}")
    for name in names:
        size = 0 if name == "empty" else 9 * MIB + 5 if name == "x/big" else rng.choice([1, 100, 1025, 70000])
        data = rng.randbytes(size)
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
        files[name] = data
    return files


@pytest.mark.parametrize("threads", [None, 1, 2])
def test_hash_files_matches_blake3_in_input_order(tmp_path, threads):
    files = make_tree(tmp_path)
    names = list(files)
    random.Random(threads or 0).shuffle(names)  # unsorted on purpose: the chains must cope
    digests = bh.hash_files(tmp_path, names, threads=threads)
    assert digests == [blake3.blake3(files[n]).digest() for n in names]


def test_hash_files_every_size_class_every_backend(tmp_path, impl):
    # small files are hashed many at once, their chunks side by side in the SIMD lanes
    sizes = SIZES + [16 * KIB + 1024, 15 * KIB + 7, 3 * KIB + 1] + list(range(0, 200, 13))
    files = {}
    for i, size in enumerate(sizes):
        files[f"f{i:03}"] = random_bytes(size, seed=i)
        (tmp_path / f"f{i:03}").write_bytes(files[f"f{i:03}"])
    names = sorted(files)
    for threads in (1, 2):
        assert bh.hash_files(tmp_path, names, threads=threads) == [blake3.blake3(files[n]).digest() for n in names]


def test_hash_files_report_carries_metadata_and_per_file_errors(tmp_path):
    files = make_tree(tmp_path)
    os.symlink(tmp_path / "top", tmp_path / "link")
    os.symlink(tmp_path / "a", tmp_path / "linkdir")
    os.mkfifo(tmp_path / "fifo")
    names = ["a/b/c/one", "gone", "link", "linkdir/b/three", "fifo", "a/b/c", "top", "nodir/file"]
    report = bh.hash_files_report(tmp_path, names)
    assert [r.path for r in report] == [n.encode() for n in names]
    ok = {r.path.decode(): r for r in report if r.error is None}
    assert set(ok) == {"a/b/c/one", "top"}
    for name, r in ok.items():
        st = os.lstat(tmp_path / name)
        assert r.digest == blake3.blake3(files[name]).digest()
        assert (r.size, r.mtime_ns, r.ctime_ns, r.file_id, r.mode) == (st.st_size, st.st_mtime_ns, st.st_ctime_ns,
                                                                       st.st_ino, st.st_mode)
    failed = {r.path.decode(): r.error for r in report if r.error is not None}
    assert isinstance(failed["gone"], errors.PathNotFound)
    assert failed["gone"].filename == str(tmp_path / "gone")
    assert isinstance(failed["link"], errors.UnsafePath)
    assert isinstance(failed["linkdir/b/three"], errors.UnsafePath)
    assert isinstance(failed["fifo"], errors.SpecialFile)
    assert isinstance(failed["a/b/c"], errors.IsADirectory)
    assert isinstance(failed["nodir/file"], errors.PathNotFound)
    for name, error in failed.items():
        assert str(tmp_path / name) in str(error), error


@pytest.mark.parametrize("threads", [1, 2])
def test_read_files_keeps_the_bytes_it_hashed_up_to_each_cap(tmp_path, threads):
    sizes = [0, 1, 1023, 16 * KIB, 16 * KIB + 1, 300 * KIB, 9 * MIB]
    files = {}
    for i, size in enumerate(sizes):
        files[f"f{i}"] = random_bytes(size, seed=100 + i)
        (tmp_path / f"f{i}").write_bytes(files[f"f{i}"])
    names = sorted(files)
    caps = [len(files[n]) if n != "f5" else 100 * KIB for n in names]  # f5 is over its cap
    results = bh.read_files(tmp_path, names, caps, threads=threads)
    for name, (fh, data) in zip(names, results):
        assert fh.error is None and fh.digest == blake3.blake3(files[name]).digest()
        if name == "f5":
            assert data is None
        else:
            assert bytes(data) == files[name]


def test_read_files_reports_each_failure_and_keeps_the_rest(tmp_path):
    (tmp_path / "ok").write_bytes(b"fine")
    os.symlink(tmp_path / "ok", tmp_path / "link")
    results = bh.read_files(tmp_path, ["gone", "link", "ok"], [10, 10, 10])
    assert isinstance(results[0][0].error, errors.PathNotFound) and results[0][1] is None
    assert isinstance(results[1][0].error, errors.UnsafePath) and results[1][1] is None
    assert bytes(results[2][1]) == b"fine"


@pytest.mark.parametrize("caps", [[1], [1, -1]])
def test_read_files_refuses_bad_caps(tmp_path, caps):
    (tmp_path / "a").write_bytes(b"a")
    (tmp_path / "b").write_bytes(b"b")
    with pytest.raises(errors.InvalidInput):
        bh.read_files(tmp_path, ["a", "b"], caps)


def test_hash_files_raises_the_first_failure(tmp_path):
    make_tree(tmp_path)
    with pytest.raises(errors.PathNotFound) as exc:
        bh.hash_files(tmp_path, ["top", "missing-1", "missing-2"])
    assert exc.value.filename == str(tmp_path / "missing-1")


def test_hash_files_unreadable_file_is_named(world_dir):
    tmp_path = world_dir
    (tmp_path / "ok").write_bytes(b"fine")
    (tmp_path / "secret").write_bytes(b"x")
    (tmp_path / "secret").chmod(0)

    def run():
        report = bh.hash_files_report(tmp_path, ["ok", "secret"])
        assert report[0].error is None
        raise report[1].error
    result = run_unprivileged(run)
    if isinstance(result, tuple):
        assert result[0] == "AccessDenied" and result[2] == str(tmp_path / "secret"), result
    else:
        assert isinstance(result, errors.AccessDenied) and result.filename == str(tmp_path / "secret")


@pytest.mark.parametrize("bad", ["/etc/passwd", "../x", "a//b", "a/./b", "", "a/", "a\0b"])
def test_hash_files_refuses_paths_that_are_not_plain_relative(tmp_path, bad):
    (tmp_path / "a").mkdir()
    with pytest.raises(errors.InvalidInput, match="relative path"):
        bh.hash_files(tmp_path, [bad])


def test_hash_files_on_a_missing_root_names_it(tmp_path):
    with pytest.raises(errors.PathNotFound) as exc:
        bh.hash_files(tmp_path / "none", ["a"])
    assert exc.value.filename == str(tmp_path / "none")


def test_hash_files_progress_counts_files_and_cancels(tmp_path):
    files = make_tree(tmp_path)
    names = [n for n in files if n != "x/big"]
    seen = []
    bh.hash_files(tmp_path, names, threads=2, progress=seen.append)
    assert seen and all(p.files_total == len(names) for p in seen)
    assert seen[-1].files_done == len(names)
    assert seen[-1].bytes_done == sum(len(files[n]) for n in names)

    def stop(progress):
        raise RuntimeError("enough")
    with pytest.raises(RuntimeError, match="enough"):
        bh.hash_files(tmp_path, names, threads=2, progress=stop)


def test_hash_files_of_nothing(tmp_path):
    assert bh.hash_files(tmp_path, []) == []


def test_hash_files_accepts_bytes_paths_that_are_not_utf8(tmp_path):
    name = b"caf\xe9"
    with open(os.path.join(os.fsencode(tmp_path), name), "wb") as f:
        f.write(b"latin-1 name")
    assert bh.hash_files(tmp_path, [name]) == [blake3.blake3(b"latin-1 name").digest()]


def test_a_report_that_drops_the_cache_hashes_and_fails_the_same(tmp_path):
    """drop_cached changes what stays cached (native/tests/test_hash_files.c checks that), not the results."""
    sizes = [0, 3000, (1 << 20) + 7, (9 << 20) + 3]
    names = [f"f{i}" for i in range(len(sizes))]
    for name, size in zip(names, sizes):
        (tmp_path / name).write_bytes(random_bytes(size, seed=size))
    names.append("gone")
    kept = bh.hash_files_report(tmp_path, names, threads=2)
    dropped = bh.hash_files_report(tmp_path, names, threads=2, drop_cached=True)
    assert [r.digest for r in dropped] == [r.digest for r in kept]
    assert [r.digest for r in dropped[:-1]] == [blake3.blake3((tmp_path / n).read_bytes()).digest() for n in names[:-1]]
    assert isinstance(dropped[-1].error, errors.PathNotFound)
