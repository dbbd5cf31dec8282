"""`bodega export` to s3://: bad input in one line, and a SIGKILL mid-upload leaves no object."""
from __future__ import annotations

import json
import os
import signal
import uuid
from pathlib import Path

import boto3

import bodega
import s3server
from bodega import errors
from tests.subprocesses import bodega_cli, python_child, wait_for


def _dev(home: Path, megabytes: int = 1) -> None:
    with bodega.open(home) as b:
        c = b.containers.create("dev")
    (Path(c.storage_path) / "root" / "blob").write_bytes(os.urandom(megabytes << 20))


def _one_line(done, code: int) -> str:
    assert done.returncode == code, done.stderr
    assert done.stderr.startswith("bodega: error: ") and done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr


def test_a_missing_bucket_is_one_line(tmp_path, aws):
    home = tmp_path / "home"
    _dev(home)
    done = bodega_cli(home, "export", "dev", "-o", "s3://bodega-no-such-bucket/dev.zip")
    assert "NoSuchBucket" in _one_line(done, errors.StoreUnavailable.exit_code)


def test_missing_credentials_are_one_line(tmp_path, aws, monkeypatch):
    home = tmp_path / "home"
    _dev(home)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    done = bodega_cli(home, "export", "dev", "-o", f"s3://{s3server.BUCKET}/x/dev.zip")
    assert "no AWS credentials" in _one_line(done, errors.StoreUnavailable.exit_code)
    done = bodega_cli(home, "import", f"s3://{s3server.BUCKET}/x/dev.zip")
    assert "no AWS credentials" in _one_line(done, errors.StoreUnavailable.exit_code)


def test_a_location_naming_no_object_is_one_line(tmp_path, aws):
    home = tmp_path / "home"
    _dev(home)
    done = bodega_cli(home, "export", "dev", "-o", f"s3://{s3server.BUCKET}/")
    assert "names an object" in _one_line(done, errors.InvalidInput.exit_code)


GATED_EXPORT = """
import sys, threading, bodega
def gate(percent):
    if percent > 60:                     # parts of the package are up, the upload unfinished
        print("gate", flush=True)
        threading.Event().wait()         # held here until the test kills this process
with bodega.open() as b:
    b.exports.export("dev", location=sys.argv[1], progress=gate)
"""


def test_sigkill_mid_upload_leaves_no_object_and_the_upload_is_abandoned(tmp_path, aws):
    home = tmp_path / "home"
    _dev(home, megabytes=16)
    key = f"{uuid.uuid4().hex}/dev.zip"
    client = boto3.client("s3", endpoint_url=aws.endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")

    def uploads() -> list[str]:
        found = client.list_multipart_uploads(Bucket=s3server.BUCKET, Prefix=key).get("Uploads", [])
        return [u["UploadId"] for u in found]

    proc = python_child(home, GATED_EXPORT, f"s3://{s3server.BUCKET}/{key}")
    assert proc.stdout is not None and proc.stdout.readline().strip() == "gate"
    wait_for(uploads, what="the multipart upload under way")  # the kill lands mid-upload
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert "Contents" not in client.list_objects_v2(Bucket=s3server.BUCKET, Prefix=key)
    shown = bodega_cli(home, "tasks", "--json")  # the next command: interrupted, its upload abandoned
    [task] = [t for t in json.loads(shown.stdout) if t["type"] == "export"]
    assert task["status"] == "failed"
    assert uploads() == []
    assert "Contents" not in client.list_objects_v2(Bucket=s3server.BUCKET, Prefix=key)
    with bodega.open(home) as b:
        [row] = b.exports.list()
        assert row.status.value == "failed" and row.location == f"s3://{s3server.BUCKET}/{key}"
