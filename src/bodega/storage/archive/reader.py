"""What every format reader is: an iterable of members over one open archive file."""
from __future__ import annotations

import bz2  # noqa: F401  (bz2 errors are OSError)
import lzma
import os
import tarfile
import zipfile
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from types import TracebackType
from typing import BinaryIO

import zstandard

from bodega import errors
from bodega.storage.archive.member import Member

# What a damaged or truncated archive raises in the standard readers (an OSError without an
# errno is a decoder's complaint, such as gzip's and bz2's; one with an errno is the disk's).
DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, lzma.LZMAError, tarfile.TarError, zstandard.ZstdError,
          UnicodeDecodeError, ValueError, KeyError, IndexError, OverflowError)


def damage_error(exc: BaseException, path: str, member: str | None) -> errors.BodegaError:
    """The bodega error for an exception raised while reading an archive (member: where)."""
    if isinstance(exc, errors.BodegaError):
        return exc
    if isinstance(exc, OSError) and exc.errno is not None:
        return errors.os_error(exc, "read archive", path)
    where = f"member {member!r}: " if member else ""
    return errors.ArchiveCorrupt(f"{path}: {where}damaged or truncated ({type(exc).__name__}: {exc})",
                                 member=member, path=path)


def is_damage(exc: BaseException) -> bool:
    """Whether exc is what a reader raises on damaged data (not a bodega error, not a disk error)."""
    if isinstance(exc, errors.BodegaError):
        return False
    return isinstance(exc, DAMAGE) or (isinstance(exc, OSError) and exc.errno is None)


class GuardedStream:
    """A member's data stream whose decoder errors become ArchiveCorrupt naming the member."""

    def __init__(self, raw: BinaryIO, path: str, member: str) -> None:
        self._raw, self._path, self._member = raw, path, member

    def read(self, n: int = -1) -> bytes:
        """Up to n bytes (all with -1); b"" at the end."""
        try:
            return self._raw.read(n)
        except Exception as exc:
            if is_damage(exc) or (isinstance(exc, OSError) and exc.errno is not None):
                raise damage_error(exc, self._path, self._member) from None
            raise

    def close(self) -> None:
        """Closes the underlying stream."""
        try:
            self._raw.close()
        except Exception:  # a decoder may complain again on close; the read already did
            pass

    def __enter__(self) -> "GuardedStream":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class Archive(ABC):
    """An open archive: iterate it for its members, in archive order.

    format: one of sniff.FORMATS; path: the archive file; size: its bytes.  listing: every
    member known before any data is read (zip, 7z: from the central directory or header),
    or None for a tar stream, whose members are known only while iterating.
    """

    format = ""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        try:
            self.size = os.stat(self.path).st_size
        except OSError as e:
            raise errors.os_error(e, "open archive", self.path) from None

    @property
    def listing(self) -> list[Member] | None:
        """Every member, when the format lists them up front."""
        return None

    @abstractmethod
    def __iter__(self) -> Iterator[Member]:
        """The members in archive order; a member's data is readable until the next one is taken."""

    def close(self) -> None:
        """Releases the archive file."""

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
