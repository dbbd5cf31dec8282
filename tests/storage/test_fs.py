"""bodega.fs: the clone API's promises on bad input: never following a link out of the
tree, all or nothing, clear errors naming the path."""
from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import bodega
from bodega import errors
from bodega import fs
from treefacts import facts, make_sample_tree

from subprocesses import SRC  # the bodega this run imports: installed in CI, src/ in a checkout


def leftovers(parent: Path) -> list[str]:
    """Staging directories a clone left in parent."""
    return [n for n in os.listdir(parent) if n.startswith(".bodega-staging-")]


def test_bodega_fs_is_the_storage_module():
    import bodega.storage.fs

    assert bodega.fs is bodega.storage.fs
    assert bodega.fs.clone_tree is fs.clone_tree
    from bodega._native.scan import scan

    assert bodega.fs.scan is scan


def test_import_bodega_stays_light():
    code = "import sys, bodega; print('bodega._native' in sys.modules, 'bodega.storage' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(SRC))).stdout
    assert out.split() == ["False", "False"]


def test_clone_and_scan_agree(tmp_path):
    make_sample_tree(tmp_path / "src")
    fs.clone_tree(tmp_path / "src", tmp_path / "dst")
    a, b = fs.scan(tmp_path / "src"), fs.scan(tmp_path / "dst")
    assert [(e.path, e.kind, e.mode, e.size, e.mtime_ns) for e in a] == \
           [(e.path, e.kind, e.mode, e.size, e.mtime_ns) for e in b]


def test_probe_cow_walks_up_to_an_existing_directory(cow_dir, tmp_path):
    assert fs.probe_cow(cow_dir / "not" / "yet") is True
    assert fs.probe_cow(tmp_path / "missing") is False
    assert fs.fs_info(cow_dir / "nope").path == str(cow_dir)


# --- links out of the tree --------------------------------------------------------------

def test_symlink_to_etc_stays_a_link_and_nothing_outside_is_touched(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("do not read")
    old = 1_000_000_000_000_000_000
    os.utime(outside / "secret", ns=(old, old + 5))  # relatime would move atime on a read
    before = (os.listdir(outside), os.stat(outside / "secret"), os.stat(outside).st_mtime_ns)
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    os.symlink("/etc", src / "etc")
    os.symlink(outside, src / "sub" / "out-dir")
    os.symlink(outside / "secret", src / "sub" / "out-file")
    r = fs.clone_tree(src, tmp_path / "dst")
    assert r.symlinks == 3 and r.files == 0
    assert os.readlink(tmp_path / "dst" / "etc") == "/etc"
    assert os.readlink(tmp_path / "dst" / "sub" / "out-dir") == str(outside)
    assert os.readlink(tmp_path / "dst" / "sub" / "out-file") == str(outside / "secret")
    after = (os.listdir(outside), os.stat(outside / "secret"), os.stat(outside).st_mtime_ns)
    assert after[0] == before[0] and after[2] == before[2]
    assert after[1].st_atime_ns == old and after[1].st_mtime_ns == old + 5


def test_directory_swapped_for_a_link_mid_walk_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("private")
    src = tmp_path / "src"
    (src / "victim").mkdir(parents=True)
    (src / "victim" / "ok").write_text("fine")
    (src / "z").write_text("z")
    calls = []

    def swap(p):
        # The first checkpoint comes after the root is listed: victim is known as a
        # directory and created in the destination, but not opened yet.
        if not calls:
            os.rename(src / "victim", tmp_path / "moved")
            os.symlink(outside, src / "victim")
        calls.append(p)

    with pytest.raises(errors.UnsafePath) as exc:
        fs.clone_tree(src, tmp_path / "dst", progress=swap, threads=1)
    assert str(src / "victim") in str(exc.value)
    assert not (tmp_path / "dst").exists() and leftovers(tmp_path) == []
    assert os.listdir(outside) == ["secret"] and (outside / "secret").read_text() == "private"


def test_racing_swaps_never_redirect(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("private")
    src = tmp_path / "src"
    for i in range(30):
        (src / "victim" / f"d{i}").mkdir(parents=True)
        (src / "victim" / f"d{i}" / "f").write_text(str(i))
    stop = threading.Event()

    def flipper():
        while not stop.is_set():
            try:
                os.rename(src / "victim", tmp_path / "real")
                os.symlink(outside, src / "victim")
                time.sleep(0.0005)
                os.unlink(src / "victim")
                os.rename(tmp_path / "real", src / "victim")
            except FileNotFoundError:
                pass

    t = threading.Thread(target=flipper)
    t.start()
    outcomes = set()
    try:
        for i in range(600):  # until the race happened (a walk saw the swap), at least 60 walks
            if i >= 60 and outcomes - {"dir"}:
                break
            dst = tmp_path / f"dst{i}"
            try:
                fs.clone_tree(src, dst)
            except (errors.UnsafePath, errors.ChangedWhileReading, errors.PathNotFound) as exc:
                outcomes.add(type(exc).__name__)
                assert not dst.exists()
                continue
            victim = dst / "victim"
            if not os.path.lexists(victim):
                outcomes.add("absent")  # listed while the flipper had moved it away
            elif victim.is_symlink():
                outcomes.add("link")
                assert os.readlink(victim) == str(outside)
            else:
                outcomes.add("dir")
                assert not (victim / "secret").exists()
                assert all(p.name.startswith("d") for p in victim.iterdir())
    finally:
        stop.set()
        t.join()
    assert os.listdir(outside) == ["secret"] and (outside / "secret").read_text() == "private"
    assert leftovers(tmp_path) == []
    assert outcomes - {"dir"}, f"the race never happened: {outcomes}"  # a walk saw the link, or was refused


# --- all or nothing -----------------------------------------------------------------------

def test_unreadable_file_names_it_and_leaves_nothing(tmp_path):
    make_sample_tree(tmp_path / "src", big=4096)
    (tmp_path / "src" / "a" / "locked").write_text("secret")
    os.chmod(tmp_path / "src" / "a" / "locked", 0)
    # Root reads everything: the clone runs without the capabilities that let it.
    code = "import sys; from bodega import fs; fs.clone_tree(sys.argv[1], sys.argv[2])"
    argv = [sys.executable, "-c", code, str(tmp_path / "src"), str(tmp_path / "dst")]
    if os.geteuid() == 0:
        argv = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *argv]
    done = subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(SRC)))
    assert done.returncode != 0
    assert "AccessDenied" in done.stderr
    assert f"{tmp_path / 'src' / 'a' / 'locked'}: Permission denied" in done.stderr
    assert not (tmp_path / "dst").exists() and leftovers(tmp_path) == []


def test_destination_exists(tmp_path):
    make_sample_tree(tmp_path / "src")
    (tmp_path / "dst").mkdir()
    (tmp_path / "dst" / "mine").write_text("keep")
    with pytest.raises(errors.PathExists) as exc:
        fs.clone_tree(tmp_path / "src", tmp_path / "dst")
    assert exc.value.filename == str(tmp_path / "dst")
    assert os.listdir(tmp_path / "dst") == ["mine"] and leftovers(tmp_path) == []
    os.symlink("nowhere", tmp_path / "dst-link")
    with pytest.raises(errors.PathExists):
        fs.clone_tree(tmp_path / "src", tmp_path / "dst-link")


@pytest.mark.parametrize("setup,error", [
    (lambda p: None, errors.PathNotFound),
    (lambda p: p.write_text("a file"), errors.NotADirectory),
    (lambda p: os.symlink(p.parent / "real", p), errors.UnsafePath),
])
def test_bad_sources(tmp_path, setup, error):
    (tmp_path / "real").mkdir()
    setup(tmp_path / "src")
    with pytest.raises(error) as exc:
        fs.clone_tree(tmp_path / "src", tmp_path / "dst")
    assert str(tmp_path / "src") in str(exc.value)
    assert not (tmp_path / "dst").exists() and leftovers(tmp_path) == []


def test_missing_destination_parent(tmp_path):
    (tmp_path / "src").mkdir()
    with pytest.raises(errors.PathNotFound) as exc:
        fs.clone_tree(tmp_path / "src", tmp_path / "no" / "dst")
    assert exc.value.filename == str(tmp_path / "no")


class Stop(Exception):
    pass


def test_cancel_half_way_leaves_nothing(tmpfs_dir):
    src = tmpfs_dir / "src"
    src.mkdir()
    for i in range(24):
        (src / f"f{i:02}").write_bytes(os.urandom((1 << 20) + 1))
    seen = []

    def progress(p):
        seen.append(p)
        if p.files_done >= 2:
            raise Stop("enough")
        time.sleep(0.11)  # longer than the callback interval: the next checkpoint calls again

    with pytest.raises(Stop):
        fs.clone_tree(src, tmpfs_dir / "dst", progress=progress, threads=1, mode="never")
    assert 2 <= seen[-1].files_done < 24
    assert os.listdir(tmpfs_dir) == ["src"]


def test_special_files_are_reported_and_never_opened(tmp_path):
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    os.mkfifo(src / "fifo")  # opening it for reading would block forever
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(src / "d" / "sock"))
    expected = {str(src / "fifo"), str(src / "d" / "sock")}
    if os.geteuid() == 0:
        os.mknod(src / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        expected.add(str(src / "null"))
    (src / "d" / "file").write_text("kept")
    try:
        r = fs.clone_tree(src, tmp_path / "dst")
    finally:
        sock.close()
    assert set(r.specials) == expected
    assert sorted(p.name for p in (tmp_path / "dst").rglob("*")) == ["d", "file"]


def test_destination_inside_the_source(tmp_path):
    src = tmp_path / "src"
    make_sample_tree(src)
    before = facts(src)
    r = fs.clone_tree(src, src / "a" / "copy")
    after = facts(src / "a" / "copy")
    # Its own staging directory (inside the source) was not cloned into itself; only the
    # mtime of "a", where the staging directory was made, moved.
    assert after.keys() == before.keys() and r.dirs == 5
    assert {k: v for k, v in after.items() if k != b"a"} == {k: v for k, v in before.items() if k != b"a"}


def test_deep_tree_and_long_paths(tmp_path):
    # About 6000 bytes of path below src: more than PATH_MAX, so made with directory fds.
    names = [f"level-{i:03}-{'x' * 30}" for i in range(150)]
    (tmp_path / "src").mkdir()
    fd = os.open(tmp_path / "src", os.O_RDONLY | os.O_DIRECTORY)
    for name in names:
        os.mkdir(name, dir_fd=fd)
        fd, old = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd), fd
        os.close(old)
    leaf = os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(leaf, b"bottom")
    os.close(leaf)
    os.close(fd)
    r = fs.clone_tree(tmp_path / "src", tmp_path / "dst")
    assert r.dirs == 151 and r.files == 1
    key = lambda e: (e.path, e.kind, e.mode, e.size, e.mtime_ns)  # noqa: E731
    assert [key(e) for e in fs.scan(tmp_path / "dst")] == [key(e) for e in fs.scan(tmp_path / "src")]


def test_destination_appearing_meanwhile_is_kept_and_read_only_staging_removed(tmp_path):
    src = tmp_path / "src"
    (src / "ro" / "sub").mkdir(parents=True)
    (src / "ro" / "f").write_text("x")
    (src / "ro" / "sub" / "g").write_text("y")
    os.chmod(src / "ro" / "sub", 0o555)
    os.chmod(src / "ro", 0o555)
    # Just before the rename into place, someone else creates the destination.  The clone,
    # run without root's override of permissions, must then remove a staging tree whose
    # directories are read-only by now.
    code = (
        "import os, sys\n"
        "from bodega import fs\n"
        "def progress(p):\n"
        "    if p.files_total and p.files_done == p.files_total and not os.path.exists(sys.argv[2]):\n"
        "        os.mkdir(sys.argv[2])\n"
        "try:\n"
        "    fs.clone_tree(sys.argv[1], sys.argv[2], progress=progress, threads=1)\n"
        "except FileExistsError as exc:\n"
        "    print('exists', exc.filename)\n"
    )
    argv = [sys.executable, "-c", code, str(src), str(tmp_path / "dst")]
    if os.geteuid() == 0:
        argv = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", *argv]
    done = subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(SRC)))
    assert done.stdout.strip() == f"exists {tmp_path / 'dst'}", done.stderr
    assert os.listdir(tmp_path / "dst") == [] and leftovers(tmp_path) == []
    os.chmod(src / "ro" / "sub", 0o755)
    os.chmod(src / "ro", 0o755)


def test_hardlink_into_a_read_only_directory_without_root_powers(tmp_path):
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "z").mkdir()
    (src / "a" / "first").write_text("shared")
    os.link(src / "a" / "first", src / "z" / "second")
    os.chmod(src / "z", 0o555)
    code = "import sys; from bodega import fs; print(fs.clone_tree(sys.argv[1], sys.argv[2]).hardlinks)"
    argv = [sys.executable, "-c", code, str(src), str(tmp_path / "dst")]
    if os.geteuid() == 0:
        argv = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", *argv]
    done = subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(SRC)))
    assert done.stdout.strip() == "1", done.stderr
    try:
        assert facts(tmp_path / "dst") == facts(src)
        assert os.stat(tmp_path / "dst" / "z" / "second").st_nlink == 2
    finally:
        os.chmod(src / "z", 0o755)
        os.chmod(tmp_path / "dst" / "z", 0o755)
