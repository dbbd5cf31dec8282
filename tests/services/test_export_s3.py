"""Export packages at s3:// locations: a streamed multipart upload, published only when complete.

Against the moto server behind the counting proxy (tests/s3server.py): its request log shows
the parts going up, and boto3 straight to the server shows what is (and is not) at the key.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import boto3
import pytest

from bodega import errors
from bodega._native.hash import Blake3
from bodega.catalogue.models import TaskStatus
from bodega.storage import manifest as mf
from tests.storage.archive.test_writers import make_tree

import s3server

BIG = 24 << 20  # incompressible bytes: five parts of 5 MiB


@pytest.fixture
def client(aws):
    return boto3.client("s3", endpoint_url=aws.endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def dev(b):
    """A container 'dev': a varied tree with hard links and one big incompressible file."""
    c = b.containers.create("dev")
    root = Path(c.storage_path) / "root"
    root.rmdir()
    make_tree(root)
    os.link(root / "bin/app", root / "bin/app.real")
    (root / "lib/big.bin").write_bytes(os.urandom(BIG))
    return root


def location(fmt: str = "zip") -> tuple[str, str]:
    """A fresh s3:// location in the test bucket, and its key."""
    key = f"{uuid.uuid4().hex}/exports/dev.{fmt}"
    return f"s3://{s3server.BUCKET}/{key}", key


def exists(client, key: str) -> bool:
    return "Contents" in client.list_objects_v2(Bucket=s3server.BUCKET, Prefix=key)


def pending(client, key: str) -> list[str]:
    uploads = client.list_multipart_uploads(Bucket=s3server.BUCKET, Prefix=key).get("Uploads", [])
    return [u["UploadId"] for u in uploads if u["Key"] == key]


def parts_sent(server, mark: int) -> int:
    return sum(1 for method, _, query in server.requests_since(mark) if method == "PUT" and "partNumber=" in query)


@pytest.mark.parametrize("fmt", ["zip", "7z"])
def test_an_export_to_s3_streams_parts_and_round_trips(b, dev, aws, client, fmt, tmp_path):
    url, key = location(fmt)
    mark = aws.mark()
    task = b.exports.export("dev", format=fmt, location=url)
    assert parts_sent(aws, mark) >= 5  # streamed in parts, not one request of a staged file
    assert not list((b.home.tmp).rglob("*.zip")) and not list(Path(b.home.root).rglob(".bodega-partial-*"))
    data = client.get_object(Bucket=s3server.BUCKET, Key=key)["Body"].read()
    [row] = b.exports.list()
    assert row.location == url and row.status == TaskStatus.SUCCEEDED
    assert row.integrity_hash == Blake3(data).hexdigest() == task.result["integrity_hash"]
    assert len(data) == task.result["bytes"]
    report = b.exports.verify(url)
    assert report["ok"] and report["integrity_checked"] and report["path"] == url
    done = b.imports.import_package(url, name="copy")
    copy = Path(b.containers.get("copy").storage_path) / "root"
    assert mf.build(copy).root == mf.build(dev).root and done.result["hardlinks"] == 1


def test_a_cancelled_export_to_s3_leaves_no_object_and_no_upload(b, dev, aws, client):
    url, key = location()
    mark = aws.mark()
    stopped = []

    def cancel_once_parts_are_up(percent: int) -> None:
        if parts_sent(aws, mark) >= 1 and not stopped:  # the gate: the multipart upload is under way
            stopped.append(pending(client, key))
            raise errors.Cancelled("stop")

    with pytest.raises(errors.Cancelled):
        b.exports.export("dev", location=url, progress=cancel_once_parts_are_up)
    assert len(stopped) == 1 and len(stopped[0]) == 1  # it was cancelled mid-upload
    assert not exists(client, key) and pending(client, key) == []
    assert b.exports.list()[0].status == TaskStatus.CANCELLED


def test_an_object_that_appears_at_the_key_meanwhile_is_never_replaced(b, dev, aws, client):
    url, key = location()
    planted = []

    def plant(percent: int) -> None:
        if percent > 50 and not planted:
            client.put_object(Bucket=s3server.BUCKET, Key=key, Body=b"someone else's")
            planted.append(True)

    with pytest.raises(errors.PathExists):
        b.exports.export("dev", location=url, progress=plant)
    assert planted
    assert client.get_object(Bucket=s3server.BUCKET, Key=key)["Body"].read() == b"someone else's"
    assert pending(client, key) == [] and b.exports.list()[0].status == TaskStatus.FAILED


def test_an_existing_object_is_refused_before_any_task(b, dev, aws, client):
    url, key = location()
    client.put_object(Bucket=s3server.BUCKET, Key=key, Body=b"keep me")
    with pytest.raises(errors.PathExists):
        b.exports.export("dev", location=url)
    assert client.get_object(Bucket=s3server.BUCKET, Key=key)["Body"].read() == b"keep me"
    assert b.tasks.list(type="export") == []


def test_a_failing_server_is_retried_then_the_export_succeeds(b, dev, aws, client):
    url, key = location()
    faults = aws.reset_faults(path=key)
    faults.fail = 2  # two 500s, each retried with backoff
    b.exports.export("dev", location=url)
    assert faults.fail == 0 and exists(client, key)
    assert b.exports.verify(url)["integrity_checked"]


@pytest.mark.parametrize("url, error, words", [
    ("s3://bodega-no-such-bucket/dev.zip", errors.StoreUnavailable, "NoSuchBucket"),
    ("s3://bodega-test/", errors.InvalidInput, "names an object"),
    ("s3://bodega-test/dir/", errors.InvalidInput, "names an object"),
    ("s3:///dev.zip", errors.InvalidInput, "names an object"),
])
def test_bad_s3_locations_are_refused_in_one_line(b, dev, aws, url, error, words):
    with pytest.raises(error, match=words) as caught:
        b.exports.export("dev", location=url)
    assert "\n" not in str(caught.value)
    assert b.tasks.list(type="export") == []


def test_missing_credentials_are_said_in_one_line(b, dev, aws, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    url, _ = location()
    with pytest.raises(errors.StoreUnavailable, match="no AWS credentials") as caught:
        b.exports.export("dev", location=url)
    assert "\n" not in str(caught.value)


def test_importing_a_missing_object_is_path_not_found(b, aws):
    url, _ = location()
    with pytest.raises(errors.PathNotFound):
        b.imports.import_package(url, name="nothing")
    with pytest.raises(errors.PathNotFound):
        b.exports.verify(url)


def test_a_7z_published_to_read_its_hash_back_is_removed_when_the_export_then_fails(b, dev, aws, client,
                                                                                   monkeypatch):
    """A 7z's start header is written last, so its object is completed and read back for its
    BLAKE3 before the task's last transaction: a failure there removes that object again."""
    from bodega.storage.archive import s3_package

    url, key = location("7z")
    seen = []
    completing = s3_package.S3Sink.commit

    def commit_then_fail(sink):
        seen.append(exists(client, key))  # published already (hash() read it back)
        completing(sink)
        raise errors.CatalogueUnavailable("the catalogue went away at the last moment")

    monkeypatch.setattr(s3_package.S3Sink, "commit", commit_then_fail)
    with pytest.raises(errors.CatalogueUnavailable):
        b.exports.export("dev", format="7z", location=url)
    assert seen == [True]
    assert not exists(client, key) and pending(client, key) == []
    assert b.exports.list()[0].status == TaskStatus.FAILED
