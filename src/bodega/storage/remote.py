"""A remote object store the store keeps its packs and snapshot files in ($BODEGA_STORE_URL).

The store itself stays a local directory (staging, journals, a bounded cache of packs); a
Remote is where the objects are shared by every host: an S3 bucket (`s3://bucket/prefix`,
storage/s3.py).  Keys are relative to the URL's prefix: `config.json`, `packs/<name>.pack`,
`packs/<name>.idx`, `snapshots/<id>.snap`.  What a transfer needs to be trusted (hashes,
publication order) is decided by the callers (remote_packs.py, remote_snapshots.py); a
Remote retries what failed in transit and says clearly what keeps failing.
"""
from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, TypeVar

from bodega import errors

T = TypeVar("T")

ATTEMPTS = 5  # tries of one request before it is a clear failure
BACKOFF = 0.2  # seconds before the second try; doubled for each next one (with jitter), at most 5 s


@dataclass(frozen=True)
class RemoteObject:
    """An object of a listing: its size and its entity tag (which changes when it is rewritten)."""

    size: int
    etag: str


class Remote(Protocol):
    """What the store asks of an object store."""

    url: str

    def list(self, prefix: str) -> dict[str, RemoteObject]:
        """Every object whose key starts with prefix, by key (the prefix included)."""
        ...

    def get(self, key: str) -> bytes:
        """An object's bytes (NotFound when there is none)."""
        ...

    def get_to(self, key: str, dest: Path, check: Callable[[Path], None] | None = None) -> str:
        """Writes an object into the new file dest and returns its entity tag; check(dest) raises
        TransferDamaged when what arrived is wrong, and the download is tried again."""
        ...

    def put(self, key: str, data: bytes) -> str:
        """Stores bytes under key (replacing any); returns the new entity tag."""
        ...

    def put_file(self, key: str, path: Path) -> str:
        """Stores a file under key, in parts when it is large; returns the new entity tag."""
        ...

    def delete(self, keys: list[str]) -> None:
        """Removes objects (those already gone are fine)."""
        ...

    def abort_uploads(self, prefix: str) -> int:
        """Abandons unfinished multipart uploads under prefix; returns how many."""
        ...


def store_url() -> str | None:
    """$BODEGA_STORE_URL, or None for the store in the home."""
    return os.environ.get("BODEGA_STORE_URL") or None


def open_remote(url: str) -> Remote:
    """The Remote a URL names (s3://bucket/prefix); InvalidInput for anything else."""
    if url.startswith("s3://"):
        from bodega.storage.s3 import S3Remote  # boto3 is imported only for an S3 store

        return S3Remote.from_url(url)
    raise errors.InvalidInput(f"BODEGA_STORE_URL must be s3://bucket/prefix, not {url!r}")


class TransferDamaged(Exception):
    """What arrived is cut short or does not match its hash: worth another try.  After the
    last try, `final` (a BodegaError saying what is wrong where) is raised."""

    def __init__(self, final: errors.BodegaError) -> None:
        super().__init__(str(final))
        self.final = final


def env_number(name: str, default: float) -> float:
    """The non-negative number in environment variable name, default when it is unset or empty."""
    raw = os.environ.get(name)
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise errors.InvalidInput(f"{name} must be a number, not {raw!r}") from None
    if value < 0:
        raise errors.InvalidInput(f"{name} cannot be negative, not {raw!r}")
    return value


class Retry:
    """Tries an operation again, with exponential backoff and jitter, when it fails in transit.

    attempts and backoff default to $BODEGA_STORE_ATTEMPTS (5) and $BODEGA_STORE_BACKOFF
    (0.2 s); sleep is injectable: tests move a clock instead of waiting.
    """

    def __init__(self, attempts: int | None = None, backoff: float | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.attempts = max(1, int(env_number("BODEGA_STORE_ATTEMPTS", ATTEMPTS) if attempts is None else attempts))
        self.backoff = env_number("BODEGA_STORE_BACKOFF", BACKOFF) if backoff is None else backoff
        self.sleep = sleep

    def __call__(self, what: str, op: Callable[[], T], transient: Callable[[BaseException], bool]) -> T:
        """op(), tried up to `attempts` times while its errors are transient; then StoreUnavailable."""
        pause = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                return op()
            except TransferDamaged as e:
                if attempt == self.attempts:
                    e.final.args = (f"{e.final} (after {attempt} tries)",)
                    raise e.final from e
            except Exception as e:
                if not transient(e):
                    raise
                if attempt == self.attempts:
                    raise errors.StoreUnavailable(f"{what}: still failing after {attempt} tries: {_one_line(e)}") from e
            self.sleep(min(5.0, pause) * (0.5 + random.random() / 2))
            pause *= 2
        raise AssertionError("unreachable")


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
