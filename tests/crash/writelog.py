"""A write-log filesystem: a directory seen through FUSE, whose unsynced file data a power cut drops.

`mounted(home)` mounts, over home itself, a passthrough of what home holds (the server keeps a
descriptor of the directory it covers, so it works on the same files and, once unmounted, home
is what the disk holds).  Every operation goes through at once, but the server remembers, for
each file written since its last fsync, the content it had at that fsync (a file created here:
empty).  When the filesystem is unmounted with `cut()` called, each such file gets that content
back (its mode, times, name and links stay): a power loss where

- data not made durable by fsync/fdatasync of its file is lost (the file comes back empty,
  short or with its old bytes), however long ago it was written;
- namespace and metadata operations (create, mkdir, rename, unlink, link, chmod, utimes) are
  durable at once and in order, as a journaling filesystem commits them: the harshest common
  case for data, a file renamed into place before its data was synced comes back empty.

Not modelled: losing a create or a rename because its directory was not fsynced (a directory
fsync changes nothing here), or metadata reordered (on ext4 and XFS
an fsync commits the journal up to it, earlier renames included); a file torn within (it comes
back exactly as it was at its last fsync); data flushed early by the kernel (a real cut keeps
some unsynced writes: any mix of kept and lost is possible there, this keeps none); syncfs,
which the kernel does not pass to a FUSE server (it succeeds having flushed nothing, on any
FUSE volume but virtiofs), so bodega flushes file by file on FUSE (bd_volume_sync).

The server is a forked child (mfusepy over the system's libfuse 3: a ctypes binding, no build),
single-threaded, so its log needs no lock.
"""
from __future__ import annotations

import ctypes
import errno
import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

RENAME_FLAGS = 0x3  # RENAME_NOREPLACE | RENAME_EXCHANGE: what renameat2 passes through
_libc = ctypes.CDLL(None, use_errno=True)


def missing() -> str | None:
    """Why a write-log filesystem cannot be mounted here (None: it can)."""
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse"
    if shutil.which("fusermount3") is None:
        return "no fusermount3 (Debian package fuse3)"
    try:
        import mfusepy  # noqa: F401
    except (ImportError, OSError) as exc:  # OSError: mfusepy found no libfuse
        return f"mfusepy cannot load libfuse: {exc}"
    return None


def _operations():
    """The FUSE operations class (built on first use: importing mfusepy needs libfuse)."""
    import mfusepy

    def oserror(fn):
        def call(self, *args):
            try:
                return fn(self, *args)
            except OSError as e:
                raise mfusepy.FuseOSError(e.errno or errno.EIO) from None
        return call

    class WriteLog(mfusepy.Operations):
        """Passthrough of the directory open as fd, remembering each file's content at its last fsync."""

        use_ns = True

        def __init__(self, fd: int, ready: int, control: Path):
            self.base = f"/proc/self/fd/{fd}"   # the covered directory, not the mount over it
            self.ready = ready
            self.control = control
            self.synced: dict[int, bytes] = {}  # inode -> its content at its last fsync

        def p(self, path: str) -> str:
            return self.base + path

        def _remember(self, fd: int) -> None:
            """Keeps a file's durable content before its first write since it was last synced."""
            st = os.fstat(fd)
            if st.st_ino not in self.synced:
                with open(f"/proc/self/fd/{fd}", "rb") as f:
                    self.synced[st.st_ino] = f.read()

        def _forget_if_last(self, path: str) -> None:
            try:
                st = os.lstat(self.p(path))
            except FileNotFoundError:
                return
            if st.st_nlink <= 1:
                self.synced.pop(st.st_ino, None)

        # -- the mount's life ----------------------------------------------------------------
        def init(self, path):
            os.write(self.ready, b"ready\n")
            os.close(self.ready)

        def destroy(self, path):
            if self.control.exists() and self.control.read_text() == "cut":
                self.cut()

        def cut(self) -> None:
            """Every file written since its last fsync gets its synced content back (times kept)."""
            for d, dirs, files in os.walk(self.base):
                for name in files:
                    path = os.path.join(d, name)
                    st = os.lstat(path)
                    content = self.synced.get(st.st_ino)
                    if content is None or not os.path.isfile(path) or os.path.islink(path):
                        continue
                    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW)
                    try:
                        os.write(fd, content)
                    finally:
                        os.close(fd)
                    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)

        # -- names and metadata: through at once ---------------------------------------------
        @oserror
        def getattr(self, path, fh=None):
            st = os.lstat(self.p(path))
            return {k: getattr(st, k) for k in ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size",
                                                "st_ino", "st_blocks", "st_rdev")} | {
                "st_atime": st.st_atime_ns, "st_mtime": st.st_mtime_ns, "st_ctime": st.st_ctime_ns}

        @oserror
        def readdir(self, path, fh):
            return [".", ".."] + os.listdir(self.p(path))

        @oserror
        def readlink(self, path):
            return os.readlink(self.p(path))

        @oserror
        def mkdir(self, path, mode):
            os.mkdir(self.p(path), mode)
            return 0

        @oserror
        def rmdir(self, path):
            os.rmdir(self.p(path))
            return 0

        @oserror
        def unlink(self, path):
            self._forget_if_last(path)
            os.unlink(self.p(path))
            return 0

        @oserror
        def symlink(self, target, source):
            os.symlink(source, self.p(target))
            return 0

        @oserror
        def link(self, target, source):
            os.link(self.p(source), self.p(target), follow_symlinks=False)
            return 0

        @oserror
        def rename(self, old, new, flags=0):
            if not flags & 0x2:  # not an exchange: what new named is gone
                self._forget_if_last(new)
            if flags:
                if _libc.renameat2(-100, self.p(old).encode(), -100, self.p(new).encode(), flags) != 0:
                    raise OSError(ctypes.get_errno(), "renameat2")
            else:
                os.rename(self.p(old), self.p(new))
            return 0

        @oserror
        def chmod(self, path, mode):
            os.chmod(self.p(path), mode)
            return 0

        @oserror
        def chown(self, path, uid, gid):
            os.chown(self.p(path), uid, gid, follow_symlinks=False)
            return 0

        @oserror
        def utimens(self, path, times=None):
            os.utime(self.p(path), ns=times, follow_symlinks=False) if times else os.utime(self.p(path))
            return 0

        @oserror
        def statfs(self, path):
            sv = os.statvfs(self.base)
            return {k: getattr(sv, k) for k in ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail",
                                                "f_files", "f_ffree", "f_favail", "f_namemax")}

        @oserror
        def getxattr(self, path, name, position=0):
            return os.getxattr(self.p(path), name, follow_symlinks=False)

        @oserror
        def listxattr(self, path):
            return os.listxattr(self.p(path), follow_symlinks=False)

        @oserror
        def setxattr(self, path, name, value, options, position=0):
            os.setxattr(self.p(path), name, value, options, follow_symlinks=False)
            return 0

        @oserror
        def removexattr(self, path, name):
            os.removexattr(self.p(path), name, follow_symlinks=False)
            return 0

        # -- data: through at once, and logged until synced -----------------------------------
        @oserror
        def create(self, path, mode, flags=os.O_RDWR):
            fd = os.open(self.p(path), (flags & ~os.O_NOFOLLOW) | os.O_CREAT, mode)
            st = os.fstat(fd)
            if st.st_size == 0:
                self.synced[st.st_ino] = b""  # a new file: nothing of it is durable yet
            return fd

        @oserror
        def open(self, path, flags):
            fd = os.open(self.p(path), flags & ~(os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_TRUNC))
            if flags & os.O_TRUNC:
                self._remember(fd)
                os.ftruncate(fd, 0)
            return fd

        @oserror
        def truncate(self, path, length, fh=None):
            fd = os.open(self.p(path), os.O_WRONLY) if fh is None else fh
            try:
                self._remember(fd)
                os.ftruncate(fd, length)
            finally:
                if fh is None:
                    os.close(fd)
            return 0

        @oserror
        def read(self, path, size, offset, fh):
            return os.pread(fh, size, offset)

        @oserror
        def write(self, path, data, offset, fh):
            self._remember(fh)
            return os.pwrite(fh, data, offset)

        def flush(self, path, fh):
            return 0

        @oserror
        def release(self, path, fh):
            os.close(fh)
            return 0

        @oserror
        def fsync(self, path, datasync, fh):
            self.synced.pop(os.fstat(fh).st_ino, None)
            return 0

        def fsyncdir(self, path, datasync, fh):
            return 0  # names are durable at once here (not modelled: a rename lost for want of it)

    class FUSE(mfusepy.FUSE):
        """mfusepy's FUSE, passing renameat2's flags on (mfusepy drops them: an exchange would
        become a plain rename)."""

        def rename_fuse_3(self, old: bytes, new: bytes, flags: int) -> int:
            if flags & ~RENAME_FLAGS:
                return -errno.EINVAL
            return self.operations.rename(old.decode(self.encoding, self.errors),
                                          new.decode(self.encoding, self.errors), flags)

    return WriteLog, FUSE


class Mount:
    """A write-log filesystem mounted over a directory; `cut()` drops its unsynced data at unmount."""

    def __init__(self, path: Path, control: Path, pid: int):
        self.path, self.control, self.pid = path, control, pid

    def cut(self) -> None:
        """The power goes: at unmount, every write not yet fsynced is lost."""
        self.control.write_text("cut")


@contextmanager
def mounted(path: Path) -> Iterator[Mount]:
    """Mounts a write-log filesystem over path while the block runs; unmounts it, cut or not."""
    path = Path(path)
    control = path.parent / f".{path.name}.writelog"
    control.write_text("keep")
    WriteLog, FUSE = _operations()
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the server
        code = 1
        try:
            os.close(ready_r)
            FUSE(WriteLog(fd, ready_w, control), str(path), foreground=True, nothreads=True,
                 fsname="bodega-writelog", hard_remove=True, attr_timeout=0, entry_timeout=0,
                 negative_timeout=0)
            code = 0
        finally:
            os._exit(code)
    os.close(fd)
    os.close(ready_w)
    with os.fdopen(ready_r) as ready:
        said = ready.readline()
    if said != "ready\n":
        os.waitpid(pid, 0)
        raise RuntimeError(f"the write-log filesystem did not mount on {path}")
    try:
        yield Mount(path, control, pid)
    finally:
        subprocess.run(["fusermount3", "-u", str(path)], check=True)
        _, status = os.waitpid(pid, 0)
        control.unlink(missing_ok=True)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"the write-log server ended with {os.waitstatus_to_exitcode(status)}")
