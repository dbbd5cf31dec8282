"""A real S3-compatible server on loopback for tests (moto in server mode, its own process),
behind a proxy that counts the requests and injects faults on command.

The proxy is the tests' request log: every request a bodega process sends passes through it
(`requests` lists them: method, path, query).  Faults (Faults, on the requests whose path
contains `path`): `down` refuses every connection, `down_after` lets that many matching
requests through then goes down, `fail` answers the next n matching requests 500,
`corrupt` flips the middle byte of the next n matching GET bodies, `truncate` ends them early (with
their full Content-Length).
"""
from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from ports import free_port

BUCKET = "bodega-test"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def missing() -> str | None:
    """Why no S3 server can be started here, or None."""
    try:
        import boto3  # noqa: F401
        import moto.server  # noqa: F401
    except ImportError as e:
        return f"the S3 test server needs moto[server] and boto3 ({e}): pip install '.[test]'"
    return None


@dataclass
class Faults:
    """What the proxy does to the requests that match `path` (a substring of the path)."""

    path: str = ""
    fail: int = 0
    corrupt: int = 0
    truncate: int = 0
    down: bool = False
    down_after: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refuses(self, path: str) -> bool:
        """Whether this request finds the server unreachable."""
        with self.lock:
            if self.down_after is not None and self.path in path:
                if self.down_after == 0:
                    self.down = True
                else:
                    self.down_after -= 1
            return self.down

    def take(self, kind: str, method: str, path: str) -> bool:
        """Whether this request gets fault kind (counting it down)."""
        if self.path not in path or (kind != "fail" and method != "GET"):
            return False
        with self.lock:
            left = getattr(self, kind)
            if left > 0:
                setattr(self, kind, left - 1)
                return True
        return False


class Proxy(ThreadingHTTPServer):
    """Forwards HTTP requests to the S3 server, logging them and applying faults."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream
        self.requests: list[tuple[str, str, str]] = []
        self.faults = Faults()
        self.log_lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Proxy

    def log_message(self, *args: object) -> None:
        pass

    def _forward(self) -> None:
        faults = self.server.faults
        split = urlsplit(self.path)
        if faults.refuses(split.path):
            self.close_connection = True
            self.connection.close()
            return
        with self.server.log_lock:
            self.server.requests.append((self.command, split.path, split.query))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if faults.take("fail", self.command, split.path):
            self.send_response(500)
            payload = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream, timeout=120)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
        finally:
            upstream.close()
        announced = len(data)
        if self.command == "GET" and data and response.status == 200:
            if faults.take("corrupt", self.command, split.path):
                middle = len(data) // 2  # in a pack: inside a record, not its trailer
                data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]
            elif faults.take("truncate", self.command, split.path):
                data = data[: len(data) // 2]
                self.close_connection = True
        self.send_response(response.status)
        for k, v in response.getheaders():
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(announced))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward


@dataclass
class S3Server:
    """moto's S3 server (its own process) and the proxy in front of it."""

    process: subprocess.Popen
    proxy: Proxy
    thread: threading.Thread

    @property
    def endpoint(self) -> str:
        """The URL bodega talks to (the proxy's)."""
        return f"http://127.0.0.1:{self.proxy.server_address[1]}"

    def env(self) -> dict[str, str]:
        """The AWS environment of a bodega using this server (nothing read from ~/.aws)."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint, "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true"}

    def requests_since(self, mark: int) -> list[tuple[str, str, str]]:
        """The requests logged after the first `mark` ones."""
        with self.proxy.log_lock:
            return list(self.proxy.requests[mark:])

    def mark(self) -> int:
        """The number of requests logged so far."""
        with self.proxy.log_lock:
            return len(self.proxy.requests)

    def reset_faults(self, path: str = "") -> Faults:
        """No faults (on requests whose path contains path, once some are set)."""
        self.proxy.faults = Faults(path=path)
        return self.proxy.faults

    def stop(self) -> None:
        """Stops the proxy and the server."""
        self.proxy.shutdown()
        self.proxy.server_close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start() -> S3Server:
    """Starts moto's server on a free loopback port, the proxy in front, and makes the test bucket."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("moto's S3 server did not start")
            time.sleep(0.1)
    proxy = Proxy(port)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True, name="s3-proxy")
    thread.start()
    server = S3Server(process, proxy, thread)
    import boto3

    client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", **{
        "aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"})
    client.create_bucket(Bucket=BUCKET)
    return server
