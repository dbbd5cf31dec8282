"""The remote store's settings and its retry policy (no server: the S3 suites are in
services/test_scaleout.py and the [fleet] runs of the snapshot suites)."""
from __future__ import annotations

import pytest

from bodega import errors
from bodega.storage.remote import Retry, TransferDamaged, open_remote
from bodega.storage.remote_packs import cache_budget


@pytest.mark.parametrize("url, message", [
    ("ftp://host/store", "must be s3://bucket/prefix"),
    ("/srv/store", "must be s3://bucket/prefix"),
    ("s3://", "names no bucket"),
    ("s3:///prefix", "names no bucket"),
])
def test_a_store_url_that_is_not_s3_bucket_prefix_is_refused(url, message):
    with pytest.raises(errors.InvalidInput, match=message):
        open_remote(url)


@pytest.mark.parametrize("variable", ["BODEGA_STORE_CACHE_MB", "BODEGA_STORE_ATTEMPTS", "BODEGA_STORE_BACKOFF"])
@pytest.mark.parametrize("raw, message", [("lots", "must be a number"), ("-1", "cannot be negative")])
def test_bad_store_settings_are_refused_by_name(monkeypatch, variable, raw, message):
    monkeypatch.setenv(variable, raw)
    with pytest.raises(errors.InvalidInput, match=f"{variable} {message}"):
        cache_budget() if variable == "BODEGA_STORE_CACHE_MB" else Retry()


def test_the_cache_budget_is_in_mib(monkeypatch):
    monkeypatch.setenv("BODEGA_STORE_CACHE_MB", "3")
    assert cache_budget() == 3 << 20
    monkeypatch.delenv("BODEGA_STORE_CACHE_MB")
    assert cache_budget() == 2048 << 20


class Flaky:
    """An operation that fails `failures` times with error, then returns "done"."""

    def __init__(self, failures: int, error: BaseException) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "done"


def test_transient_failures_are_tried_again_with_growing_pauses():
    pauses: list[float] = []
    retry = Retry(attempts=5, backoff=1.0, sleep=pauses.append)
    op = Flaky(3, ConnectionError("reset"))
    assert retry("read x from s3://b/", op, lambda e: isinstance(e, ConnectionError)) == "done"
    assert op.calls == 4 and len(pauses) == 3
    assert 0.5 <= pauses[0] <= 1.0 and 1.0 <= pauses[1] <= 2.0 and 2.0 <= pauses[2] <= 4.0  # doubled, with jitter


def test_a_failure_that_outlasts_the_tries_is_one_clear_error():
    op = Flaky(99, ConnectionError("connection refused\nsecond line"))
    with pytest.raises(errors.StoreUnavailable) as info:
        Retry(attempts=3, backoff=0, sleep=lambda _: None)("write packs/a.pack to s3://b/", op,
                                                           lambda e: isinstance(e, ConnectionError))
    assert op.calls == 3
    assert str(info.value) == "write packs/a.pack to s3://b/: still failing after 3 tries: connection refused"


def test_a_refusal_is_not_tried_again():
    op = Flaky(99, errors.NotFound("read x: not in s3://b/"))
    with pytest.raises(errors.NotFound):
        Retry(attempts=5, backoff=0, sleep=lambda _: None)("read x from", op, lambda e: False)
    assert op.calls == 1


def test_a_damaged_transfer_is_fetched_again_then_refused_with_what_is_wrong():
    final = errors.PackCorrupt("pack s3://b/packs/a.pack does not match its hash")
    op = Flaky(99, TransferDamaged(final))
    with pytest.raises(errors.PackCorrupt, match=r"does not match its hash \(after 4 tries\)"):
        Retry(attempts=4, backoff=0, sleep=lambda _: None)("read packs/a.pack from", op, lambda e: False)
    assert op.calls == 4
    healed = Flaky(2, TransferDamaged(errors.PackCorrupt("cut")))
    assert Retry(attempts=4, backoff=0, sleep=lambda _: None)("read", healed, lambda e: False) == "done"
