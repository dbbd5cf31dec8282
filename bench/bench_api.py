"""The HTTP API under load: 50 concurrent clients on loopback, mixed reads and snapshot tasks.

Each client has its own API token and loops, waiting a think time between requests (0.5 s on
average, $BODEGA_BENCH_API_THINK): mostly reads (container list, a
container, its snapshots, recent tasks, recent events), and now and then a snapshot task
(POST, 202) on one of the containers, which the server's agents run meanwhile.  `bodega
serve` runs in its own process (as in production), with its two agent processes, the clients
in this one.

Besides latencies it prints the server process's CPU time per request (a figure a busy machine
hardly changes) and the load average before and after the run (another program's load inflates
the latencies: compare runs on a quiet machine).

Acceptance (issue 14): no 5xx; p99 of the reads under 100 ms on a 2-core machine.  Prints
requests/s and p50/p99 of reads and of snapshot submissions.

    python bench/bench_api.py                            # 60 s, 50 clients
    BODEGA_BENCH_API_SECONDS=10 python bench/bench_api.py
    python -m pytest bench/bench_api.py -s               # the same, as a test with the acceptance asserts
"""
from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SECONDS = float(os.environ.get("BODEGA_BENCH_API_SECONDS", "60"))
CLIENTS = int(os.environ.get("BODEGA_BENCH_API_CLIENTS", "50"))
# Seconds a client waits between requests, on average (uniform 0..2x): a person on the panel, or a
# script polling a task.  50 clients at 0.5 s offer about 100 requests/s.
THINK = float(os.environ.get("BODEGA_BENCH_API_THINK", "0.5"))
SNAPSHOT_SHARE = float(os.environ.get("BODEGA_BENCH_API_SNAPSHOTS", "0.02"))  # share of requests: snapshot tasks (~2/s)
CONTAINERS = 8
FILES = 100  # per container
SRC = str(Path(__file__).resolve().parent.parent / "src")


def setup(home: Path) -> tuple[list[str], list[str]]:
    """Containers with a few files each and one API token per client (tokens of operators)."""
    import bodega

    with bodega.open(home) as b:
        names = []
        for i in range(CONTAINERS):
            c = b.containers.create(f"c{i}")
            root = Path(c.storage_path) / "root"
            for j in range(FILES):
                (root / f"f{j}.txt").write_text(f"{i}-{j}\n" * 100)
            b.snapshots.create(c.name)
            names.append(str(c.id))
        b.users.create("bench@example.org", role="operator")
        for name in names:
            b.shares.share(name, "bench@example.org", "operator")
        tokens = [b.tokens.create("bench@example.org", f"client {i}").token for i in range(CLIENTS)]
    return names, tokens


def start_server(home: Path) -> tuple[subprocess.Popen, str]:
    """`bodega serve` on a free loopback port with 2 agents, in its own process; at exit it prints the CPU
    seconds it spent serving (its agents' not included)."""
    code = ("import time; from bodega.api.server import Server; "
            f"s = Server({str(home)!r}, host='127.0.0.1', port=0, agents=2); "
            "print(s.url, flush=True); t0 = time.process_time(); s.run(); print(time.process_time() - t0, flush=True)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": SRC})
    url = proc.stdout.readline().strip()
    if not url.startswith("http"):
        raise RuntimeError("the server did not start")
    import httpx

    deadline = time.monotonic() + 60
    while True:  # the socket is bound before uvicorn listens on it
        try:
            httpx.get(f"{url}/openapi.json", timeout=5)
            return proc, url
        except httpx.TransportError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise
            time.sleep(0.1)


class Connection:
    """One keep-alive HTTP/1.1 connection: a load generator light enough to leave the cores to the server."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self.auth = f"Authorization: Bearer {token}\r\nHost: {host}:{port}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> int:
        """Sends a request and reads its whole response; returns the status."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = f"{method} {path} HTTP/1.1\r\n{self.auth}"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        assert self.reader is not None
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length, chunked = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        if chunked:
            while (size := int((await self.reader.readline()).strip(), 16)):
                await self.reader.readexactly(size + 2)
            await self.reader.readline()
        elif length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def client(url: str, token: str, containers: list[str], stop: float, seed: int,
                 reads: list[float], writes: list[float], statuses: dict[int, int]) -> None:
    rng = random.Random(seed)
    host, port = url.removeprefix("http://").rsplit(":", 1)
    conn = Connection(host, int(port), token)
    await asyncio.sleep(rng.uniform(0, 2 * THINK))  # the clients start spread out, as people do
    try:
        while time.monotonic() < stop:
            c = rng.choice(containers)
            write = rng.random() < SNAPSHOT_SHARE
            t0 = time.perf_counter()
            if write:
                status = await conn.request("POST", f"/api/containers/{c}/snapshots", b'{"label": "bench"}')
            else:
                path = rng.choice(["/api/containers", f"/api/containers/{c}", f"/api/containers/{c}/snapshots",
                                   "/api/tasks?limit=20", f"/api/events?limit=50&container={c}"])
                status = await conn.request("GET", path)
            (writes if write else reads).append(time.perf_counter() - t0)
            statuses[status] = statuses.get(status, 0) + 1
            await asyncio.sleep(rng.uniform(0, 2 * THINK))
    finally:
        conn.close()


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0-100) of values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run() -> dict[str, float]:
    """Runs the load and returns its figures."""
    home = Path(tempfile.mkdtemp(prefix="bodega-bench-api-", dir="/var/tmp"))
    containers, tokens = setup(home)
    proc, url = start_server(home)
    load_before = _load()
    reads: list[float] = []
    writes: list[float] = []
    statuses: dict[int, int] = {}
    try:
        start = time.monotonic()
        stop = start + SECONDS

        async def all_clients() -> None:
            await asyncio.gather(*(client(url, tokens[i], containers, stop, i, reads, writes, statuses)
                                   for i in range(CLIENTS)))

        asyncio.run(all_clients())
        elapsed = time.monotonic() - start
        load_after = _load()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert proc.stdout is not None
    server_cpu = float(proc.stdout.read().strip() or "nan")
    import bodega

    with bodega.open(home) as b:
        snapshots = sum(len(b.snapshots.list(c)) for c in containers) - len(containers)
        failures = b.tasks.list(status="failed", limit=None)
        failed = len(failures)
        for t in failures[:3]:
            print(f"  failed task {t.type}: {(t.error or {}).get('type')}: {(t.error or {}).get('message')}")
    figures = {
        "seconds": elapsed, "clients": CLIENTS, "requests": len(reads) + len(writes),
        "requests_per_s": (len(reads) + len(writes)) / elapsed,
        "read_p50_ms": percentile(reads, 50) * 1000, "read_p99_ms": percentile(reads, 99) * 1000,
        "read_mean_ms": statistics.fmean(reads) * 1000 if reads else float("nan"),
        "snapshot_post_p50_ms": percentile(writes, 50) * 1000, "snapshot_post_p99_ms": percentile(writes, 99) * 1000,
        "snapshots_taken": snapshots, "tasks_failed": failed,
        "server_errors": sum(n for code, n in statuses.items() if code >= 500), "statuses": statuses,
        "server_cpu_ms_per_request": server_cpu * 1000 / max(1, len(reads) + len(writes)),
        "load_before": load_before, "load_after": load_after,
    }
    import shutil

    shutil.rmtree(home, ignore_errors=True)
    return figures


def report(f: dict) -> None:
    print(f"bench_api: {f['clients']} clients, {f['seconds']:.0f} s, think {THINK * 1000:.0f} ms avg: "
          f"{f['requests']} requests, {f['requests_per_s']:.0f} req/s")
    print(f"  reads:           p50 {f['read_p50_ms']:.1f} ms   p99 {f['read_p99_ms']:.1f} ms   "
          f"(acceptance: p99 < 100 ms)")
    print(f"  snapshot POSTs:  p50 {f['snapshot_post_p50_ms']:.1f} ms   p99 {f['snapshot_post_p99_ms']:.1f} ms   "
          f"snapshots taken meanwhile: {f['snapshots_taken']}, tasks failed: {f['tasks_failed']}")
    print(f"  statuses: {json.dumps(f['statuses'], sort_keys=True)}   5xx: {f['server_errors']}")
    print(f"  server CPU: {f['server_cpu_ms_per_request']:.1f} ms per request   "
          f"load average (1 min) before {f['load_before']}, after {f['load_after']}")


def _load() -> str:
    """The 1-minute load average, where the system tells it."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except (AttributeError, OSError):  # Windows
        return "n/a"


def test_api_under_load():
    figures = run()
    report(figures)
    assert figures["server_errors"] == 0
    assert figures["read_p99_ms"] < 100


if __name__ == "__main__":
    report(run())
