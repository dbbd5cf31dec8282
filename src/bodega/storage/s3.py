"""An S3 bucket as the store's remote (boto3; any S3-compatible server).

Endpoint, region and credentials come from the standard AWS environment variables and files
(AWS_ENDPOINT_URL, AWS_REGION, AWS_PROFILE, AWS_ACCESS_KEY_ID, ~/.aws/config, ...), as with
the aws command.  boto3's own retries are off: every request goes through remote.Retry, so
that one policy (backoff, how many tries, what counts as transient) covers requests and
the checks of what they returned.  Files of more than PART_SIZE go up as multipart uploads,
each part tried again on its own.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, BinaryIO, Callable

from bodega import errors
from bodega.storage.remote import RemoteObject, Retry, TransferDamaged

PART_SIZE = 16 << 20  # multipart part size, and the size from which a file goes up in parts
READ_PIECE = 1 << 20
TRANSIENT_CODES = {"SlowDown", "RequestTimeout", "Throttling", "ThrottlingException", "InternalError",
                   "ServiceUnavailable", "RequestTimeTooSkewed", "BadDigest", "IncompleteBody"}


class S3Remote:
    """A prefix of an S3 bucket."""

    def __init__(self, client: Any, bucket: str, prefix: str, *, retry: Retry | None = None,
                 part_size: int = PART_SIZE) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}"
        self.retry = retry or Retry()
        self.part_size = part_size

    @classmethod
    def from_url(cls, url: str, *, what: str = "BODEGA_STORE_URL") -> "S3Remote":
        """The remote at s3://bucket/prefix, with a client configured from the AWS environment."""
        bucket, _, prefix = url[len("s3://"):].partition("/")
        if not bucket:
            raise errors.InvalidInput(f"{what} {url!r} names no bucket: s3://bucket/prefix")
        try:
            import boto3
            from botocore.config import Config
        except ImportError as e:
            raise errors.MissingDependency(f"an S3 store needs boto3 ({e}): pip install 'bodega[s3]'") from e
        # Downloads are checked by bodega (packs against the BLAKE3 their index object names),
        # not by botocore's CRC: a pack damaged in the store must still arrive as it is, so that
        # each object in it is checked on its own and the damage is found where it is.
        config = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=10, read_timeout=60,
                        s3={"addressing_style": "path"} if os.environ.get("AWS_ENDPOINT_URL") else None,
                        response_checksum_validation="when_required")
        try:
            client = boto3.session.Session().client("s3", config=config)
        except Exception as e:  # a bad profile, region or endpoint in the AWS configuration
            raise errors.StoreUnavailable(f"cannot set up the S3 client for {url}: {e}") from e
        return cls(client, bucket, prefix)

    def _key(self, key: str) -> str:
        return self.prefix + key

    def _call(self, what: str, op: Callable[[], Any]) -> Any:
        return self.retry(f"{what} {self.url}", lambda: self._translate(what, op), _transient)

    def _translate(self, what: str, op: Callable[[], Any]) -> Any:
        """op(), its refusals made BodegaErrors (transient failures pass through for Retry)."""
        from botocore.exceptions import ClientError, NoCredentialsError, PartialCredentialsError

        try:
            return op()
        except ClientError as e:
            if _transient(e):
                raise
            code = e.response.get("Error", {}).get("Code", "")
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchKey", "404", "NotFound") or (status == 404 and code not in ("NoSuchBucket",
                                                                                          "NoSuchUpload")):
                raise errors.NotFound(f"{what}: not in {self.url}") from e
            if code == "PreconditionFailed" or status == 412:  # If-None-Match: an object is there already
                raise errors.PathExists(17, None, self.url, f"{what} (bodega never replaces an object)") from e
            raise errors.StoreUnavailable(f"{what} {self.url}: the server refused: {code or status}: "
                                          f"{e.response.get('Error', {}).get('Message', '')}".rstrip(": ")) from e
        except (NoCredentialsError, PartialCredentialsError) as e:
            raise errors.StoreUnavailable(f"{what} {self.url}: no AWS credentials ({e}): set AWS_ACCESS_KEY_ID "
                                          "and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE") from e

    # --- the Remote interface -------------------------------------------------------------

    def list(self, prefix: str) -> dict[str, RemoteObject]:
        """Every object whose key starts with prefix, by key (one request per 1000 keys)."""
        out: dict[str, RemoteObject] = {}
        token: str | None = None
        while True:
            args = {"Bucket": self.bucket, "Prefix": self._key(prefix)}
            if token:
                args["ContinuationToken"] = token
            page = self._call("list", lambda: self.client.list_objects_v2(**args))
            for item in page.get("Contents", []):
                out[item["Key"][len(self.prefix):]] = RemoteObject(int(item["Size"]), str(item["ETag"]).strip('"'))
            if not page.get("IsTruncated"):
                return out
            token = page["NextContinuationToken"]

    def get(self, key: str) -> bytes:
        """An object's bytes."""
        def fetch() -> bytes:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            data = response["Body"].read()
            _expect_length(key, len(data), response.get("ContentLength"))
            return data

        return self._call(f"read {key} from", fetch)

    def get_to(self, key: str, dest: Path, check: Callable[[Path], None] | None = None) -> str:
        """Streams an object into the new file dest and returns its entity tag; check(dest) may
        refuse what arrived (then it is fetched again)."""
        def fetch() -> str:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            body = response["Body"]
            got = 0
            try:
                with open(dest, "wb") as f:
                    while piece := body.read(READ_PIECE):
                        f.write(piece)
                        got += len(piece)
                _expect_length(key, got, response.get("ContentLength"))
                if check is not None:
                    check(dest)
            except BaseException:
                dest.unlink(missing_ok=True)
                raise
            return str(response["ETag"]).strip('"')

        return self._call(f"read {key} from", fetch)

    def put(self, key: str, data: bytes) -> str:
        """Stores bytes under key; returns the entity tag."""
        response = self._call(f"write {key} to",
                              lambda: self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data))
        return str(response["ETag"]).strip('"')

    def put_file(self, key: str, path: Path) -> str:
        """Stores a file under key: one request up to part_size, a multipart upload beyond."""
        size = path.stat().st_size
        if size <= self.part_size:
            def send() -> Any:
                with open(path, "rb") as f:
                    return self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=f)

            return str(self._call(f"write {key} to", send)["ETag"]).strip('"')
        with open(path, "rb") as f:
            return self._multipart(key, lambda n: _read_part(f, n * self.part_size, self.part_size),
                                   (size + self.part_size - 1) // self.part_size)

    def _multipart(self, key: str, part: Callable[[int], bytes], parts: int) -> str:
        """Uploads parts 0..parts-1 (each tried again on its own) as one object; aborted on failure."""
        upload = self.start_upload(key)
        try:
            done = [self.put_part(key, upload, n + 1, part(n)) for n in range(parts)]
            return self.complete_upload(key, upload, done)
        except BaseException:
            self.abort_upload(key, upload)
            raise

    # --- multipart uploads, part by part (a streamed export package) --------------------------

    def start_upload(self, key: str, metadata: dict[str, str] | None = None) -> str:
        """Begins a multipart upload to key (nothing is visible there until it completes); its id."""
        return self._call(f"write {key} to", lambda: self.client.create_multipart_upload(
            Bucket=self.bucket, Key=self._key(key), Metadata=metadata or {}))["UploadId"]

    def put_part(self, key: str, upload: str, number: int, body: bytes | memoryview) -> dict[str, Any]:
        """Uploads part number (from 1) of an upload; what complete_upload needs of it."""
        response = self._call(f"write {key} to", lambda: self.client.upload_part(
            Bucket=self.bucket, Key=self._key(key), UploadId=upload, PartNumber=number, Body=bytes(body)))
        return {"PartNumber": number, "ETag": response["ETag"]}

    def complete_upload(self, key: str, upload: str, parts: list[dict[str, Any]], *,
                        no_replace: bool = False) -> str:
        """Publishes an upload's parts as the object at key (no_replace: PathExists if one is
        there); returns its entity tag."""
        extra = {"IfNoneMatch": "*"} if no_replace else {}
        response = self._call(f"write {key} to", lambda: self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=self._key(key), UploadId=upload, MultipartUpload={"Parts": parts}, **extra))
        return str(response["ETag"]).strip('"')

    def abort_upload(self, key: str, upload: str) -> None:
        """Abandons an upload and its parts (best effort: what is left, abort_uploads finds)."""
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self._key(key), UploadId=upload)
        except Exception:
            pass

    def put_new(self, key: str, data: bytes | memoryview, metadata: dict[str, str] | None = None) -> str:
        """Stores bytes under key unless an object is there (PathExists); returns the entity tag."""
        response = self._call(f"write {key} to", lambda: self.client.put_object(
            Bucket=self.bucket, Key=self._key(key), Body=bytes(data), Metadata=metadata or {}, IfNoneMatch="*"))
        return str(response["ETag"]).strip('"')

    def exists(self, key: str) -> bool:
        """Whether an object is at key (a missing bucket is an error, not False)."""
        page = self._call(f"look up {key} in", lambda: self.client.list_objects_v2(
            Bucket=self.bucket, Prefix=self._key(key), MaxKeys=1))
        return any(item["Key"] == self._key(key) for item in page.get("Contents", []))

    def head(self, key: str) -> dict[str, Any] | None:
        """An object's size, entity tag and metadata, or None when there is none."""
        try:
            response = self._call(f"look up {key} in", lambda: self.client.head_object(
                Bucket=self.bucket, Key=self._key(key)))
        except errors.NotFound:
            return None
        return {"size": int(response["ContentLength"]), "etag": str(response["ETag"]).strip('"'),
                "metadata": dict(response.get("Metadata") or {})}

    def read_to(self, key: str, each: Callable[[bytes], object]) -> int:
        """Streams an object's bytes to each(), piece by piece; how many (a cut transfer is an
        error: each() has seen part of it)."""
        response = self._call(f"read {key} from", lambda: self.client.get_object(
            Bucket=self.bucket, Key=self._key(key)))
        got = 0
        try:
            while piece := response["Body"].read(READ_PIECE):
                each(piece)
                got += len(piece)
        except Exception as e:
            if _transient(e):
                raise errors.StoreUnavailable(f"read {key} from {self.url}: the transfer was cut: {e}") from e
            raise
        if got != int(response.get("ContentLength", got)):
            raise errors.StoreUnavailable(f"read {key} from {self.url}: {got} bytes arrived of "
                                          f"{response.get('ContentLength')} (the transfer was cut)")
        return got

    def delete(self, keys: list[str]) -> None:
        """Removes objects, 1000 per request."""
        for start in range(0, len(keys), 1000):
            batch = [{"Key": self._key(k)} for k in keys[start:start + 1000]]
            response = self._call("remove objects from", lambda: self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}))
            failed = response.get("Errors") or []
            if failed:
                raise errors.StoreUnavailable(f"remove {failed[0].get('Key')} from {self.url}: "
                                              f"{failed[0].get('Code')}: {failed[0].get('Message')}")

    def abort_uploads(self, prefix: str, *, exact: bool = False) -> int:
        """Abandons the unfinished multipart uploads under prefix (a writer that died mid-upload);
        exact: those to the key prefix only."""
        pending = self._call("list uploads of", lambda: self.client.list_multipart_uploads(
            Bucket=self.bucket, Prefix=self._key(prefix))).get("Uploads", [])
        if exact:
            pending = [up for up in pending if up["Key"] == self._key(prefix)]
        for up in pending:
            self._call("abandon an upload to", lambda up=up: self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=up["Key"], UploadId=up["UploadId"]))
        return len(pending)


def _read_part(f: BinaryIO, offset: int, length: int) -> bytes:
    f.seek(offset)
    return f.read(length)


def _expect_length(key: str, got: int, expected: Any) -> None:
    """A body shorter (or longer) than its Content-Length is cut: try again."""
    if expected is not None and got != int(expected):
        raise TransferDamaged(errors.StoreUnavailable(f"{key}: {got} bytes arrived of {expected} (the transfer "
                                                      "was cut)"))


def _transient(e: BaseException) -> bool:
    """Whether a failure may go away by trying again: the network, the server's 5xx and throttling."""
    from botocore.exceptions import ClientError, HTTPClientError, IncompleteReadError, ResponseStreamingError

    # A body cut short is IncompleteReadError in botocore releases that check the length as they read.
    if isinstance(e, (HTTPClientError, ResponseStreamingError, IncompleteReadError, ConnectionError, TimeoutError)):
        return True
    if isinstance(e, ClientError):
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return status >= 500 or status == 429 or e.response.get("Error", {}).get("Code") in TRANSIENT_CODES
    return False
