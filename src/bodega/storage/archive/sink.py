"""Where a package's bytes go: a local file (written under a temporary name, renamed at the end),
stdout, or an S3 object (s3_package.S3Sink, a multipart upload published when it completes).

A Sink is the one interface the archive writers write through.  A local sink never replaces
anything: the target must not exist, the bytes go to a hidden temporary file beside it, and
commit() publishes it with a no-replace rename; abort() (or a crash, which leaves only the
temporary name) leaves nothing at the target.
"""
from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import unquote, urlparse

from bodega import errors
from bodega._native.hash import Blake3
from bodega.storage.new_file import remove_quietly

TEMP_PREFIX = ".bodega-partial-"


class Sink(Protocol):
    """What an archive writer writes to."""

    location: str
    seekable: bool

    def write(self, data: bytes | memoryview) -> None:
        """Appends data."""

    def tell(self) -> int:
        """Bytes written so far."""

    def write_at(self, offset: int, data: bytes) -> None:
        """Overwrites bytes already written (seekable sinks only: the 7z start header)."""

    def hash(self) -> str:
        """BLAKE3 of the package's bytes (once they are all written), hex."""

    def commit(self) -> str:
        """Makes the package visible at its location; returns the location."""

    def abort(self) -> None:
        """Discards whatever was written."""


def is_s3(location: str) -> bool:
    """Whether a location is an S3 object (s3://bucket/key)."""
    return location.startswith("s3://")


def parse_location(location: str) -> Path | None:
    """The local path a location names (a path or a file:// URL), or None for stdout ('-');
    an s3:// location is the caller's (is_s3)."""
    if location == "-":
        return None
    if "://" in location:
        url = urlparse(location)
        if url.scheme != "file":
            raise errors.InvalidInput(f"location {location!r}: a local path, a file:// URL or an "
                                      "s3://bucket/key URL")
        if url.netloc not in ("", "localhost"):
            raise errors.InvalidInput(f"export location {location!r}: a file:// URL names a local path "
                                      "(file:///path), not a host")
        return Path(unquote(url.path)).absolute()
    return Path(location).expanduser().absolute()


class FileSink:
    """A local file, written as a hidden temporary beside the target and renamed into place."""

    seekable = True

    def __init__(self, target: Path, tag: str | None = None) -> None:
        self.target = target
        self.location = str(target)
        parent = target.parent
        if os.path.lexists(target):
            raise errors.PathExists(17, None, str(target), "export")
        if not parent.is_dir():
            raise errors.PathNotFound(2, None, str(parent), "export: the target's directory")
        self.temp = partial_path(target, tag or secrets.token_hex(6))
        try:
            self._f: BinaryIO = open(self.temp, "xb", buffering=1 << 20)  # exclusive: never an existing name
        except OSError as e:
            raise errors.os_error(e, "export", self.temp) from None
        self._written = 0

    def write(self, data: bytes | memoryview) -> None:
        """Appends data."""
        try:
            self._f.write(data)
        except OSError as e:
            raise errors.os_error(e, "export", self.target) from None
        self._written += len(data)

    def tell(self) -> int:
        """Bytes written so far."""
        return self._written

    def write_at(self, offset: int, data: bytes) -> None:
        """Overwrites bytes already written."""
        try:
            self._f.flush()
            self._f.seek(offset)
            self._f.write(data)
            self._f.flush()
            self._f.seek(0, os.SEEK_END)
        except OSError as e:
            raise errors.os_error(e, "export", self.target) from None

    def hash(self) -> str:
        """BLAKE3 of the bytes written (read back from the temporary file)."""
        from bodega._native.hash import hash_file

        self._f.flush()
        return hash_file(self.temp).hex()

    def commit(self) -> str:
        """Makes the file durable and links it at the target (never over an existing file)."""
        try:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
            os.link(self.temp, self.target)  # fails rather than replace what appeared meanwhile
        except OSError as e:
            self.abort()
            raise errors.os_error(e, "export", self.target) from None
        remove_quietly(self.temp)
        return self.location

    def abort(self) -> None:
        """Removes the temporary file."""
        try:
            self._f.close()
        except OSError:
            pass
        remove_quietly(self.temp)


class StreamSink:
    """A stream such as stdout: not seekable, nothing to publish; hashes what it writes."""

    seekable = False

    def __init__(self, stream: BinaryIO | None = None, location: str = "-") -> None:
        self._out = stream if stream is not None else sys.stdout.buffer
        self.location = location
        self._written = 0
        self._hash = Blake3()

    def write(self, data: bytes | memoryview) -> None:
        """Appends data."""
        try:
            self._out.write(data)
        except BrokenPipeError:
            raise errors.Cancelled("the reader of the export stream went away (broken pipe)") from None
        except OSError as e:
            raise errors.os_error(e, "export", self.location) from None
        self._hash.update(data)
        self._written += len(data)

    def tell(self) -> int:
        """Bytes written so far."""
        return self._written

    def write_at(self, offset: int, data: bytes) -> None:
        """A stream cannot be rewritten."""
        raise errors.NotSupported("this export target is a stream: it cannot be rewritten")

    def hash(self) -> str:
        """BLAKE3 of the bytes written."""
        return self._hash.hexdigest()

    def commit(self) -> str:
        """Flushes the stream."""
        try:
            self._out.flush()
        except BrokenPipeError:
            raise errors.Cancelled("the reader of the export stream went away (broken pipe)") from None
        return self.location

    def abort(self) -> None:
        """Nothing to remove: what was streamed is the reader's."""


def partial_path(target: Path, tag: str) -> Path:
    """The hidden temporary name a package is written under before it is renamed to target."""
    return target.parent / f"{TEMP_PREFIX}{target.name}.{tag}"


def remove_partial(location: str, tag: str) -> bool:
    """Removes what a stopped export left (its temporary file; at an S3 location, its upload or
    the object it published); True if there was something."""
    if is_s3(location):
        from bodega.storage.archive.s3_package import discard_s3

        return discard_s3(location, tag)
    target = parse_location(location)
    if target is None:
        return False
    path = partial_path(target, tag)
    existed = os.path.lexists(path)
    remove_quietly(path)
    return existed


def open_sink(location: str, tag: str | None = None, size_hint: int = 0) -> Sink:
    """The sink for an export location: a path, a file:// URL, an s3:// URL, or '-' for stdout."""
    if is_s3(location):
        from bodega.storage.archive.s3_package import S3Sink  # boto3 is imported only for S3

        return S3Sink(location, tag or secrets.token_hex(8), size_hint=size_hint)
    path = parse_location(location)
    return StreamSink() if path is None else FileSink(path, tag)


def free_bytes(location: str) -> int | None:
    """Free bytes on the volume that would hold location (None for stdout and S3)."""
    from bodega.storage.fs import fs_info

    if is_s3(location):
        return None
    path = parse_location(location)
    if path is None:
        return None
    return fs_info(path.parent).bytes_free
