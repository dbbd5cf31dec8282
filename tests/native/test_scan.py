"""bodega._native.scan: sorted, complete, never following a link, failing with clear errors."""
from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from bodega import errors
from bodega._native.scan import Kind, scan

BENCH = Path(__file__).resolve().parents[2] / "bench"
from subprocesses import SRC  # the bodega this run imports: installed in CI, src/ in a checkout
THREADS = [pytest.param(1, id="1-thread"), pytest.param(2, id="2-threads")]
KIND_OF_MODE = {stat.S_IFREG: Kind.FILE, stat.S_IFDIR: Kind.DIR, stat.S_IFLNK: Kind.SYMLINK}


def walked(root: Path) -> list[bytes]:
    """Every path below root, relative, as bytes, by os.walk (which never follows links)."""
    base = os.fsencode(root)
    out = []
    for dirpath, dirnames, filenames in os.walk(base):
        rel = os.path.relpath(dirpath, base)
        for name in dirnames + filenames:
            out.append(name if rel == b"." else rel + b"/" + name)
    return out


def make_tricky_tree(root: Path) -> None:
    """Names whose byte order differs from a per-directory walk, plus links of every kind."""
    for d in ("a", "a/x", "a-b", "ab", "a0", "b", "b/c/d/e", "é", "z z"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for f in ("a.c", "a/x/y", "a/1", "a-b/q", "a0/r", "b/c/d/e/deep.txt", "é/ü.txt", "z z/ ", "A"):
        (root / f).write_bytes(b"data of " + f.encode())
    (root / "big").write_bytes(os.urandom(300_000))
    (root / "empty").touch()
    os.symlink("a/x/y", root / "rel-link")
    os.symlink("missing/target", root / "dangling")
    os.symlink("b", root / "dir-link")
    os.link(root / "a.c", root / "a.c.hard")
    os.chmod(root / "a/1", 0o751)
    os.utime(root / "a-b/q", ns=(1, 1_234_567_891_123_456_789))


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


# --- order and content ------------------------------------------------------------------

@pytest.mark.parametrize("threads", THREADS)
def test_order_is_byte_order_of_full_paths(tmp_path, threads):
    make_tricky_tree(tmp_path)
    s = scan(tmp_path, threads=threads)
    paths = [e.path for e in s]
    assert paths == sorted(walked(tmp_path))
    # The case that a per-directory walk gets wrong: a/ sorts after a-b and a.c.
    assert paths.index(b"a") < paths.index(b"a-b") < paths.index(b"a.c") < paths.index(b"a/1")


@pytest.mark.parametrize("threads", THREADS)
def test_generated_tree_is_complete_and_sorted(tmp_path, threads):
    sys.path.insert(0, str(BENCH))
    try:
        import treegen
    finally:
        sys.path.remove(str(BENCH))
    stats = treegen.generate(tmp_path / "t", files=3000, seed=7, scale=0.01)
    s = scan(tmp_path / "t", threads=threads)
    assert [e.path for e in s] == sorted(walked(tmp_path / "t"))
    kinds = [e.kind for e in s]
    assert kinds.count(Kind.DIR) == stats.dirs
    assert kinds.count(Kind.SYMLINK) == stats.symlinks
    assert kinds.count(Kind.FILE) == stats.files + stats.hardlinks


@pytest.mark.parametrize("threads", THREADS)
def test_metadata_equals_lstat(tmp_path, threads):
    make_tricky_tree(tmp_path)
    s = scan(tmp_path, threads=threads)
    assert len(s) == len(walked(tmp_path))
    for e in s:
        st = os.lstat(os.path.join(os.fsencode(tmp_path), e.path))
        assert e.kind == KIND_OF_MODE[stat.S_IFMT(st.st_mode)], e.path
        assert (e.mode, e.size, e.mtime_ns, e.ctime_ns) == (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        assert (e.file_id, e.volume_id, e.nlink) == (st.st_ino, st.st_dev, st.st_nlink)
        assert e.alloc_size == st.st_blocks * 512
        full = os.path.join(os.fsencode(tmp_path), e.path)
        assert e.link_target == (os.readlink(full) if stat.S_ISLNK(st.st_mode) else None)
        assert e.attrs == 0 and e.reparse_tag == 0
    by_path = {e.path: e for e in s}
    assert by_path[b"a-b/q"].mtime_ns == 1_234_567_891_123_456_789
    assert by_path[b"a.c"].nlink == 2 and by_path[b"a.c"].file_id == by_path[b"a.c.hard"].file_id


@pytest.mark.parametrize("threads", THREADS)
def test_directories_opened_ahead_and_by_name_agree_with_lstat(tmp_path, threads):
    """150 subdirectories in one directory: the first are opened as its listing meets them
    (3/4 of BD_SCAN_MAX_OPEN held so at most), the others read by name and opened later."""
    for i in range(150):
        (tmp_path / f"d{i:03d}" / "x").mkdir(parents=True)
        (tmp_path / f"d{i:03d}" / "x" / "f").write_text(str(i))
    before = fd_count()
    s = scan(tmp_path, threads=threads)
    assert fd_count() == before  # every handle opened ahead was closed
    assert [e.path for e in s] == sorted(walked(tmp_path))
    for e in s:
        st = os.lstat(os.path.join(os.fsencode(tmp_path), e.path))
        assert (e.mode, e.size, e.mtime_ns, e.ctime_ns, e.file_id, e.volume_id, e.nlink) == (
            st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev, st.st_nlink), e.path


def test_one_thread_and_two_threads_agree(tmp_path):
    make_tricky_tree(tmp_path)
    for i in range(40):
        (tmp_path / "many" / str(i)).mkdir(parents=True)
        (tmp_path / "many" / str(i) / "f").write_text(str(i))

    def rows(s):
        return [(e.path, e.kind, e.mode, e.size, e.mtime_ns, e.file_id, e.link_target, e.parent) for e in s]

    assert rows(scan(tmp_path, threads=1)) == rows(scan(tmp_path, threads=2))


def test_parent_is_the_directory_entry(tmp_path):
    make_tricky_tree(tmp_path)
    s = scan(tmp_path)
    for e in s:
        head = e.path.rpartition(b"/")[0]
        if head:
            assert s[e.parent].path == head and s[e.parent].kind == Kind.DIR
        else:
            assert e.parent is None


@pytest.mark.parametrize("threads", [1, 2])
def test_directories_of_one_batch_and_of_several_are_ordered_with_their_parents(tmp_path, threads):
    """Each worker sorts its batches; a directory listed in several batches (over 256
    entries) is merged at the end.  "d" < "d-x" < "d.x" < "d/..." in both."""
    for where, count in (("small", 20), ("large", 700)):
        (tmp_path / where).mkdir()
        for i in range(count):
            base = tmp_path / where / f"d{i % 37}"
            base.with_name(base.name + f"-{i}").write_text("x")
            base.with_name(base.name + f".{i}").write_text("x")
            if i < 37:
                (base / "child").mkdir(parents=True)
    s = scan(tmp_path, threads=threads)
    paths = [e.path for e in s]
    assert paths == sorted(paths) and len(paths) == len(set(paths))
    for e in s:
        head = e.path.rpartition(b"/")[0]
        assert (s[e.parent].path == head) if head else e.parent is None


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("width", [3, 40])  # sorted inline (24 items or fewer) or by qsort
def test_names_alike_in_their_first_eight_bytes_are_ordered(tmp_path, threads, width):
    """A batch is sorted on each name's first 8 bytes (a subdirectory's contents with their
    '/') and only ties compare the rest: names that end, fork or take their '/' at the 8th
    byte, or before or after it, and bytes past 0x7F, still give the byte order."""
    names = [b"abcdefg", b"abcdefg-", b"abcdefg.", b"abcdefg0", b"abcdefgh", b"abcdefgh-x",
             b"abcdefgh.x", b"abcdefgh0", b"abcdefghi", b"abcdefgh\xff", b"abcdefg\xc3\xa9",
             b"abcdefghijklmnop", b"abcdefghijklmno", b"abcdefghijklmnop.q", b"\xff\xff\xff\xff\xff\xff\xff\xff\xff"]
    for d in range(width // 3):
        base = os.path.join(os.fsencode(tmp_path), b"d%02d" % d)
        os.makedirs(base)
        for i, name in enumerate(names[: 3 if width == 3 else len(names)]):
            path = os.path.join(base, name)
            if i % 2 == 0:
                os.makedirs(os.path.join(path, b"child"))
            else:
                with open(path, "wb") as f:
                    f.write(name)
    for name in names:  # the top directory: one batch of every name
        path = os.path.join(os.fsencode(tmp_path), name)
        os.makedirs(os.path.join(path, b"x"))
    s = scan(tmp_path, threads=threads)
    assert [e.path for e in s] == sorted(walked(tmp_path))


def test_empty_directory_gives_an_empty_scan(tmp_path):
    s = scan(tmp_path)
    assert len(s) == 0 and list(s) == [] and s.nbytes > 0


def test_sequence_protocol(tmp_path):
    make_tricky_tree(tmp_path)
    s = scan(str(tmp_path))
    n = len(s)
    assert [e.path for e in s] == [s[i].path for i in range(n)]
    assert s[-1].path == s[n - 1].path and s[-1].index == n - 1
    assert [e.path for e in s[2:5]] == [s[i].path for i in (2, 3, 4)]
    with pytest.raises(IndexError):
        s[n]
    with pytest.raises(IndexError):
        s[-n - 1]
    first = s[0]
    del s  # an Entry keeps its Scan alive
    assert first.path == sorted(walked(tmp_path))[0]
    assert scan(os.fsencode(tmp_path)).root == os.fsencode(tmp_path)


def test_nbytes_counts_paths_and_fixed_part(tmp_path):
    make_tricky_tree(tmp_path)
    s = scan(tmp_path)
    text = sum(len(e.path) + len(e.link_target or b"") for e in s)
    assert text + 64 * len(s) <= s.nbytes <= text + 128 * len(s) + 4096


# --- names and shapes ---------------------------------------------------------------------

def test_names_that_are_not_utf8(tmp_path):
    base = os.fsencode(tmp_path)
    os.mkdir(base + b"/caf\xe9")
    with open(base + b"/caf\xe9/\xff\xfe.bin", "wb") as f:
        f.write(b"x")
    os.symlink(b"\xff\xfe.bin", base + b"/caf\xe9/l\x80")
    s = scan(tmp_path)
    assert [e.path for e in s] == [b"caf\xe9", b"caf\xe9/l\x80", b"caf\xe9/\xff\xfe.bin"]
    e = s[2]
    assert e.path_str == b"caf\xe9/\xff\xfe.bin".decode("utf-8", "surrogateescape")
    assert e.name == "\udcff\udcfe.bin"
    assert os.fsencode(e.name) == b"\xff\xfe.bin"
    assert s[1].link_target == b"\xff\xfe.bin"


def test_path_longer_than_path_max(tmp_path):
    name = "d" * 200
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(30):  # 30 * 201 bytes: beyond PATH_MAX (4096) for every syscall
            os.mkdir(name, dir_fd=fd)
            nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        wfd = os.open("bottom.txt", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd)
        os.write(wfd, b"at the bottom")
        os.close(wfd)
        st = os.stat("bottom.txt", dir_fd=fd)
    finally:
        os.close(fd)
    s = scan(tmp_path)
    assert len(s) == 31
    deepest = s[-1]
    assert deepest.path == b"/".join([name.encode()] * 30) + b"/bottom.txt"
    assert len(deepest.path) > 6000
    assert (deepest.size, deepest.file_id, deepest.mtime_ns) == (13, st.st_ino, st.st_mtime_ns)
    # Cleaning up needs the same handle-relative care.
    subprocess.run(["rm", "-rf", str(tmp_path)], check=True)


@pytest.mark.slow
def test_100k_entries_in_one_directory(tmp_path):
    d = tmp_path / "big"
    d.mkdir()
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i in range(100_000):
            os.close(os.open(f"entry-{i:06x}-{'x' * (i % 17)}", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    finally:
        os.close(fd)
    s = scan(tmp_path)
    assert len(s) == 100_001
    assert [e.path for e in s[1:]] == sorted(b"big/" + n for n in os.listdir(os.fsencode(d)))
    assert all(e.parent == 0 for e in s[1:])
    shutil.rmtree(d)  # not left for pytest's retention of the last runs


def test_handles_stay_bounded_in_a_deep_branching_tree(tmp_path):
    """A 400-level tree where every level waits on siblings scans with 200 descriptors."""
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(400):
            for leaf in ("l1", "l2"):
                os.mkdir(leaf, dir_fd=fd)
                os.close(os.open(f"{leaf}/f", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
            os.mkdir("n", dir_fd=fd)
            nfd = os.open("n", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
    finally:
        os.close(fd)
    code = f"""
import json, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200))
from bodega._native.scan import scan
for threads in (1, 2):
    s = scan({str(tmp_path)!r}, threads=threads)
    print(json.dumps([len(s), s[-1].path.count(b"/")]))
"""
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(SRC)),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    # 5 entries per level; the last in byte order is the deepest "n", 400 components long.
    assert [json.loads(line) for line in out.stdout.splitlines()] == [[400 * 5, 399]] * 2
    subprocess.run(["rm", "-rf", str(tmp_path)], check=True)


# --- links and special files --------------------------------------------------------------

@pytest.mark.parametrize("threads", THREADS)
def test_symlink_to_etc_stays_a_link(tmp_path, threads):
    (tmp_path / "inside").mkdir()
    (tmp_path / "inside" / "f").write_text("x")
    os.symlink("/etc", tmp_path / "etc-link")
    os.symlink("/etc/passwd", tmp_path / "inside" / "passwd-link")
    s = scan(tmp_path, threads=threads)
    assert [e.path for e in s] == [b"etc-link", b"inside", b"inside/f", b"inside/passwd-link"]
    assert s[0].kind == Kind.SYMLINK and s[0].link_target == b"/etc"
    assert s[3].kind == Kind.SYMLINK and s[3].size == len(b"/etc/passwd")


@pytest.mark.parametrize("threads", THREADS)
def test_fifo_socket_and_device_are_listed_never_opened(tmp_path, threads):
    os.mkfifo(tmp_path / "fifo")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    expected = {b"fifo": stat.S_IFIFO, b"sock": stat.S_IFSOCK}
    if os.geteuid() == 0:
        os.mknod(tmp_path / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        expected[b"null"] = stat.S_IFCHR
    result = {}
    # Opening a fifo with no writer blocks: a scan that opened it would never finish.
    t = threading.Thread(target=lambda: result.update(s=scan(tmp_path, threads=threads)), daemon=True)
    t.start()
    t.join(60)
    sock.close()
    assert not t.is_alive(), "the scan blocked: it opened the fifo"
    s = result["s"]
    assert {e.path: stat.S_IFMT(e.mode) for e in s} == expected
    assert all(e.kind == Kind.SPECIAL and e.link_target is None for e in s)


def test_directory_swapped_for_a_link_never_redirects(tmp_path):
    root = tmp_path / "root"
    sub = root / "sub"
    for d in ("sub/one", "sub/two/three"):
        (root / d).mkdir(parents=True)
    for f in ("sub/a", "sub/one/b", "sub/two/three/c", "top"):
        (root / f).write_text(f)
    allowed = set(walked(root))
    hold = tmp_path / "hold"
    stop = threading.Event()

    def swapper():
        while not stop.is_set():
            os.rename(sub, hold)
            os.symlink("/etc", sub)
            os.unlink(sub)
            os.rename(hold, sub)

    t = threading.Thread(target=swapper)
    t.start()
    outcomes = {"ok": 0, "refused": 0, "saw the link": 0, "saw no sub": 0}
    try:
        for i in range(3000):  # until the race happened (a scan refused, or saw the swap), at least 300 scans
            if i >= 300 and outcomes["ok"] and sum(outcomes.values()) > outcomes["ok"]:
                break
            try:
                s = scan(root, threads=1 + i % 2)
            except (errors.UnsafePath, errors.ChangedWhileReading, errors.NotADirectory) as exc:
                assert "sub" in str(exc)
                outcomes["refused"] += 1
                continue
            kinds = {e.kind for e in s if e.path == b"sub"}
            if kinds == {Kind.SYMLINK}:
                outcomes["saw the link"] += 1
            elif not kinds:
                outcomes["saw no sub"] += 1
            else:
                outcomes["ok"] += 1
            for e in s:
                assert e.path in allowed, f"{e.path!r} is not from the tree"
                if e.path == b"sub" and e.kind == Kind.SYMLINK:
                    assert e.link_target == b"/etc"
    finally:
        stop.set()
        t.join()
    assert outcomes["ok"] > 0 and sum(outcomes.values()) > outcomes["ok"], outcomes  # the race happened


def scan_changed_mid_listing(root: Path, change) -> list:
    """The scan of root on one thread, change() called once from the first progress callback,
    on the listing thread at its 1024th entry (TICK_EVERY in scan.c)."""
    changed = []

    def progress(files, nbytes):
        if not changed:
            change()
            changed.append(files)

    s = scan(root, progress=progress, threads=1)
    assert changed, "the callback never ran mid-listing"
    return s


def test_directory_swapped_for_a_link_after_its_listing_is_not_entered(tmp_path):
    """The listing names a directory; before the scan opens it, it becomes a link out of the tree.

    The progress callback runs on the listing thread at the 1024th entry (TICK_EVERY in
    scan.c), so the entry listed right after it is swapped between its listing and its open.
    """
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret").write_text("not in the tree")
    for i in range(1100):
        (root / f"f{i:04d}").write_bytes(b"")
    for i in range(40):
        (root / f"d{i:02d}").mkdir()
    order = os.listdir(root)  # the order getdents64 gives the scan too
    victim = next(n for n in order[1024:] if n.startswith("d"))
    # Make it the 1025th entry: remove as many files listed before it as needed.
    extra = [n for n in order[:order.index(victim)] if n.startswith("f")][:order.index(victim) - 1024]
    for n in extra:
        (root / n).unlink()
    assert os.listdir(root).index(victim) == 1024

    def swap():
        os.rename(root / victim, tmp_path / "hold")
        os.symlink(outside, root / victim)

    s = scan_changed_mid_listing(root, swap)
    by_path = {e.path: e for e in s}
    assert by_path[victim.encode()].kind == Kind.SYMLINK  # what the name is when opened
    assert by_path[victim.encode()].link_target == os.fsencode(outside)
    assert not [p for p in by_path if p.startswith(victim.encode() + b"/") or p.endswith(b"secret")]
    assert len(s) == 1100 - len(extra) + 40


def tree_with_an_unread_directory(root: Path) -> str:
    """1000 files and 200 directories (each holding a file "f") in root; returns the name of a
    directory listed before the 1024th entry (where the first progress callback runs, on the
    listing thread: TICK_EVERY in scan.c) and after more than 3/4 of BD_SCAN_MAX_OPEN
    directories: on one thread its metadata is not read when it is listed (scan.c,
    read_subdir), only once it is opened, after the root's listing."""
    root.mkdir()
    for i in range(1200):  # a directory every 6th: spread so in creation order too (XFS lists in it)
        if i % 6:
            (root / f"f{i:04d}").write_bytes(b"")
        else:
            (root / f"d{i:04d}").mkdir()
            (root / f"d{i:04d}" / "f").write_bytes(b"")
    order = os.listdir(root)  # the order getdents64 gives the scan too
    victim = [n for n in order[:1023] if n.startswith("d")][-1]
    assert sum(n.startswith("d") for n in order[:order.index(victim)]) > 100
    return victim


def test_directory_removed_between_its_listing_and_its_opening_is_left_out(tmp_path):
    """A directory that vanishes before the scan opens it is left out, as a vanished file is."""
    root = tmp_path / "root"
    victim = tree_with_an_unread_directory(root)
    s = scan_changed_mid_listing(root, lambda: shutil.rmtree(root / victim))
    paths = [e.path for e in s]
    assert victim.encode() not in paths
    assert paths == sorted(walked(root)) and len(paths) == 1000 + 2 * 199
    for e in s:  # parents point at the right entries, the one left out counted out
        assert (e.parent is None) == (b"/" not in e.path)
        assert e.parent is None or s[e.parent].path == e.path.rsplit(b"/", 1)[0]


def test_directory_replaced_by_another_before_its_opening_is_the_one_listed(tmp_path):
    """A directory renamed into the place of one listed but not opened yet: the scan describes
    and lists the directory it opened, the new one, never a mix of the two."""
    root, other = tmp_path / "root", tmp_path / "other"
    victim = tree_with_an_unread_directory(root)
    other.mkdir()
    (other / "inside").write_text("moved in")

    def replace():
        os.rename(root / victim, tmp_path / "hold")
        os.rename(other, root / victim)

    s = scan_changed_mid_listing(root, replace)
    by_path = {e.path: e for e in s}
    st = os.lstat(root / victim)
    entry = by_path[victim.encode()]
    assert (entry.kind, entry.file_id, entry.mtime_ns, entry.nlink) == (Kind.DIR, st.st_ino, st.st_mtime_ns, st.st_nlink)
    assert [e.path for e in s] == sorted(walked(root))
    assert by_path[victim.encode() + b"/inside"].size == len("moved in")
    assert victim.encode() + b"/f" not in by_path


# --- progress and cancel ------------------------------------------------------------------

def make_wide_tree(root: Path, dirs: int = 300, files: int = 10) -> int:
    for i in range(dirs):
        d = root / f"d{i:03d}"
        d.mkdir()
        for j in range(files):
            (d / f"f{j}").write_bytes(b"x" * j)
    return dirs * (files + 1)


@pytest.mark.parametrize("threads", THREADS)
def test_progress_reports_final_counts(tmp_path, threads):
    total = make_wide_tree(tmp_path)
    calls = []
    s = scan(tmp_path, progress=lambda files, nbytes: calls.append((files, nbytes)), threads=threads)
    assert len(s) == total
    assert calls[-1] == (total, sum(e.size for e in s if e.kind == Kind.FILE))
    assert calls == sorted(calls)


@pytest.mark.parametrize("threads", THREADS)
def test_cancel_half_way_from_the_callback(tmp_path, threads):
    total = make_wide_tree(tmp_path)
    seen = []

    def progress(files, nbytes):
        seen.append(files)
        if files > 0:
            raise errors.Cancelled()

    before = fd_count()
    with pytest.raises(errors.Cancelled):
        scan(tmp_path, progress=progress, threads=threads)
    assert 0 < seen[-1] < total
    assert fd_count() == before


def test_exception_in_callback_is_reraised(tmp_path):
    make_wide_tree(tmp_path, dirs=5)

    def progress(files, nbytes):
        raise ZeroDivisionError("from the callback")

    with pytest.raises(ZeroDivisionError, match="from the callback"):
        scan(tmp_path, progress=progress)


# --- bad input ----------------------------------------------------------------------------

def test_missing_root_names_it(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(errors.PathNotFound) as info:
        scan(missing)
    assert info.value.filename == str(missing)
    assert str(missing) in str(info.value)


def test_root_that_is_a_symlink_is_refused(tmp_path):
    (tmp_path / "real").mkdir()
    os.symlink("real", tmp_path / "link")
    with pytest.raises(errors.UnsafePath) as info:
        scan(tmp_path / "link")
    assert str(tmp_path / "link") in str(info.value)


def test_root_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(errors.NotADirectory) as info:
        scan(tmp_path / "file")
    assert info.value.filename == str(tmp_path / "file")
    assert "Not a directory" in str(info.value)


@pytest.mark.parametrize("kwargs, message", [
    ({"path": "a\0b"}, "NUL"),
    ({"threads": -1}, "threads"),
    ({"threads": 999}, "threads"),
    ({"progress": 42}, "callable"),
])
def test_bad_arguments(tmp_path, kwargs, message):
    kwargs = {"path": tmp_path, **kwargs}
    with pytest.raises(errors.InvalidInput, match=message):
        scan(kwargs.pop("path"), **kwargs)


def test_unreadable_directory_names_it():
    """chmod 000 stops an unprivileged user (root ignores it: the scan then drops to nobody)."""
    root = Path(tempfile.mkdtemp(prefix="bodega-scan-", dir="/tmp"))
    try:
        os.chmod(root, 0o755)
        (root / "ok").mkdir()
        (root / "ok" / "f").write_text("x")
        (root / "ok" / "locked").mkdir()
        (root / "ok" / "locked" / "secret").write_text("x")
        os.chmod(root / "ok" / "locked", 0)
        code = f"""
import json, os
from bodega import errors
from bodega._native.scan import scan
if os.geteuid() == 0:
    os.setgroups([]); os.setgid(65534); os.setuid(65534)
try:
    scan({str(root)!r})
except errors.AccessDenied as exc:
    print(json.dumps({{"filename": exc.filename, "message": str(exc)}}))
"""
        out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(SRC)),
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        got = json.loads(out.stdout)
        assert got["filename"] == str(root / "ok" / "locked")
        assert "Permission denied" in got["message"]
    finally:
        os.chmod(root / "ok" / "locked", 0o755)
        shutil.rmtree(root)
