"""One member of an archive, as every format reader describes it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO, Callable

FILE, DIR, SYMLINK, HARDLINK, SPECIAL = "file", "dir", "symlink", "hardlink", "special"
KINDS = (FILE, DIR, SYMLINK, HARDLINK, SPECIAL)


@dataclass(frozen=True)
class Member:
    """An archive member: its raw name, kind, permission bits, size, time, link target and data.

    name: the bytes stored in the archive (not yet checked or normalised);
    kind: file, dir, symlink, hardlink or special (device, fifo, socket);
    link: a symlink's target, or the member name a hardlink refers to;
    size: the uncompressed size the archive declares (0 for non-files);
    compressed_size: bytes the member takes in the archive, when the format says;
    data: a small file's bytes when the reader has them already (a tar stream's buffer).
    """

    name: bytes
    kind: str
    mode: int
    size: int
    mtime_ns: int | None = None
    link: bytes | None = None
    compressed_size: int | None = None
    detail: str = ""  # what a special member is ("character device", "fifo", ...)
    data: bytes | None = field(default=None, repr=False, compare=False)
    _opener: Callable[[], BinaryIO] | None = field(default=None, repr=False, compare=False)

    @property
    def shown(self) -> str:
        """The name for messages (bytes that are not UTF-8 escaped)."""
        return self.name.decode("utf-8", "backslashreplace")

    def open(self) -> BinaryIO:
        """A stream of the member's data (a file's bytes); read it before moving to the next member."""
        if self._opener is None:
            import io

            return io.BytesIO(self.data or b"")
        return self._opener()
