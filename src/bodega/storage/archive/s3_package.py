"""A package at an S3 location (s3://bucket/prefix/name.zip): written as a streamed multipart
upload (S3Sink), fetched for reading (download), discarded after a failed export (discard_s3).

No local staging copy: the bytes go up in parts (part_size()) as the writer produces them (up
to UPLOADS_IN_FLIGHT parts at once, each retried with backoff by the S3 client), and nothing
is visible at the key until the upload completes with If-None-Match: * (an object already
there is never replaced: PathExists).  abort() abandons the upload; a killed export leaves
only an unfinished upload, which the task's recovery abandons (discard_s3).

The first part is held in memory until the end, so a 7z writer can still fill in its start
header (32 bytes at offset 0, written last).  The package's BLAKE3 is hashed as the bytes go
up; when the start was rewritten it cannot be, and the object is read back once, after it is
completed (hash() then publishes it: abort() removes it again).  The object carries the
export's tag in its metadata, so that only the export that made it removes it.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bodega import errors
from bodega._native.hash import Blake3
from bodega.storage.remote import env_number
from bodega.storage.s3 import S3Remote

PART_SIZE = 16 << 20          # bytes per part (S3 wants at least 5 MiB but for the last)
UPLOADS_IN_FLIGHT = 2         # parts uploading while the writer fills the next one
MAX_PARTS = 9000              # parts an estimated package is split into at most (S3: 10,000)
TAG_KEY = "bodega-export"     # object metadata: the tag of the export that wrote it


def part_size(size_hint: int) -> int:
    """Bytes per part: $BODEGA_S3_PART_MB MiB (default 16, at least 5), more when the package
    may be larger than MAX_PARTS of them (S3 allows 10,000 parts per object)."""
    wanted = int(max(5.0, env_number("BODEGA_S3_PART_MB", PART_SIZE >> 20)) * (1 << 20))
    return max(wanted, -(-size_hint // MAX_PARTS))


def split_s3(location: str) -> tuple[str, str]:
    """(the bucket's URL s3://bucket, the object key) of an s3:// export location."""
    bucket, _, key = location[len("s3://"):].partition("/")
    if not bucket or not key or key.endswith("/") or "//" in key:
        raise errors.InvalidInput(f"export location {location!r}: an S3 location names an object, "
                                  "s3://bucket/prefix/name.zip")
    return f"s3://{bucket}", key


def open_s3(location: str) -> tuple[S3Remote, str]:
    """The S3 client for a location's bucket and the object's key."""
    bucket_url, key = split_s3(location)
    return S3Remote.from_url(bucket_url, what="export location"), key


class S3Sink:
    """An S3 object written as a multipart upload, published when it completes."""

    seekable = True  # the first part stays in memory: a 7z start header can be rewritten

    def __init__(self, location: str, tag: str, *, remote: S3Remote | None = None,
                 size_hint: int = 0) -> None:
        self.location = location
        if remote is None:
            remote, self.key = open_s3(location)
        else:
            self.key = split_s3(location)[1]
        self.remote = remote
        self.tag = tag
        self.part_size = part_size(size_hint)
        self._first = bytearray()      # part 1, held until commit
        self._buffer = bytearray()     # the part being filled
        self._written = 0
        self._hash: Blake3 | None = Blake3()   # None once the start was rewritten (read back instead)
        self._upload: str | None = None
        self._parts: dict[int, Future[dict[str, Any]]] = {}
        self._slots = threading.Semaphore(UPLOADS_IN_FLIGHT)
        self._pool: ThreadPoolExecutor | None = None
        self._published = False
        self._digest: str | None = None

    # --- writing ----------------------------------------------------------------------------

    def write(self, data: bytes | memoryview) -> None:
        """Appends data (a full part goes up in the background)."""
        view = memoryview(data).cast("B")
        self._written += len(view)
        while len(view):
            if len(self._first) < self.part_size:
                room = self.part_size - len(self._first)
                self._first += view[:room]
                view = view[room:]
                continue
            room = self.part_size - len(self._buffer)
            self._buffer += view[:room]
            view = view[room:]
            if len(self._buffer) == self.part_size:
                self._send(bytes(self._buffer))
                self._buffer = bytearray()

    def tell(self) -> int:
        """Bytes written so far."""
        return self._written

    def write_at(self, offset: int, data: bytes) -> None:
        """Overwrites bytes of the first part (held in memory): a 7z start header."""
        if offset + len(data) > len(self._first):
            raise errors.NotSupported(f"{self.location}: only the first {self.part_size} bytes of an S3 "
                                      "export can be rewritten")
        self._first[offset:offset + len(data)] = data
        self._hash = None

    def _send(self, body: bytes) -> None:
        """Uploads the next part (2, 3, ...) in the background, at most UPLOADS_IN_FLIGHT at once."""
        if self._upload is None:
            self._upload = self.remote.start_upload(self.key, {TAG_KEY: self.tag})
            self._pool = ThreadPoolExecutor(UPLOADS_IN_FLIGHT, thread_name_prefix="bodega-s3-part")
        self._check_sent()
        self._slots.acquire()
        number = len(self._parts) + 2
        if self._hash is not None and number == 2:
            self._hash.update(self._first)
        if self._hash is not None:
            self._hash.update(body)
        assert self._pool is not None
        future = self._pool.submit(self.remote.put_part, self.key, self._upload, number, body)
        future.add_done_callback(lambda _: self._slots.release())
        self._parts[number] = future

    def _check_sent(self) -> None:
        """Raises the error of a part that failed (after its retries)."""
        for future in self._parts.values():
            if future.done() and future.exception() is not None:
                raise future.exception()  # type: ignore[misc]

    # --- publishing -------------------------------------------------------------------------

    def _complete(self) -> None:
        """Publishes the object (the first part last), never over an existing one."""
        if self._published:
            return
        if not self._parts and not self._buffer:  # one part in all: a single request
            self.remote.put_new(self.key, bytes(self._first), {TAG_KEY: self.tag})
        else:
            if self._buffer:
                self._send(bytes(self._buffer))
                self._buffer = bytearray()
            assert self._upload is not None
            first = self.remote.put_part(self.key, self._upload, 1, bytes(self._first))
            parts = [first] + [self._parts[n].result() for n in sorted(self._parts)]
            self.remote.complete_upload(self.key, self._upload, parts, no_replace=True)
            self._upload = None
        self._published = True

    def hash(self) -> str:
        """BLAKE3 of the package; when its start was rewritten, the object is published now and
        read back to hash it (abort() still removes it)."""
        if self._digest is not None:
            return self._digest
        if self._hash is not None:
            if not self._parts:
                self._hash.update(self._first)
            if self._buffer:
                self._hash.update(self._buffer)
            self._digest = self._hash.hexdigest()
            return self._digest
        self._complete()
        h = Blake3()
        got = self.remote.read_to(self.key, h.update)
        if got != self._written:
            raise errors.StoreUnavailable(f"{self.location}: {got} bytes read back of the {self._written} written")
        self._digest = h.hexdigest()
        return self._digest

    def commit(self) -> str:
        """Completes the upload: the object appears at its key."""
        try:
            self._complete()
        except BaseException:
            self.abort()
            raise
        self._close()
        return self.location

    def abort(self) -> None:
        """Abandons the upload, or removes the object this sink published."""
        self._close(cancel=True)  # parts in flight end first: an abort before them would not take
        if self._upload is not None:
            self.remote.abort_upload(self.key, self._upload)
            self._upload = None
        if self._published:
            discard_s3(self.location, self.tag, remote=self.remote)
            self._published = False

    def _close(self, cancel: bool = False) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=cancel)
            self._pool = None


def discard_s3(location: str, tag: str, *, remote: S3Remote | None = None) -> bool:
    """Removes what an export with tag left at location: its unfinished uploads, and the object
    if that export wrote it.  True if there was something."""
    if remote is None:
        remote, key = open_s3(location)
    else:
        key = split_s3(location)[1]
    found = remote.abort_uploads(key, exact=True) > 0
    seen = remote.head(key)
    if seen is not None and seen["metadata"].get(TAG_KEY) == tag:
        remote.delete([key])
        found = True
    return found


def download(location: str, dest: Path, cancel: Callable[[], bool] | None = None) -> int:
    """Copies the object at location into the new file dest (a package to read: a zip's
    directory and a 7z's header are at its end); its size."""
    remote, key = open_s3(location)
    try:
        with open(dest, "xb") as out:
            def each(piece: bytes) -> None:
                if cancel is not None and cancel():
                    raise errors.Cancelled(f"reading {location} cancelled")
                out.write(piece)

            return remote.read_to(key, each)
    except errors.NotFound:
        raise errors.PathNotFound(2, None, location, "import: no such object") from None
    except OSError as e:
        raise errors.os_error(e, "download", dest) from None
