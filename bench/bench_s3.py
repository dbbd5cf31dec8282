"""Snapshot and cross-host restore of the ~100k-file tree against an S3 server: requests per MiB.

Two homes with their own host ids share a private PostgreSQL cluster and moto's S3 server on
loopback, behind the counting proxy of tests/s3server.py (the request log).  Host a
snapshots the tree (bench/treegen.py) into the shared store; host b then takes the container
over (`bodega container recover --host host-a`: the newest snapshot restored from the store,
checked by hash).  Prints the requests of each step against the acceptance bound (at most one
request per 4 MiB of new data plus a small constant) and the seconds each took (for the
direction only: nothing is asserted about time).  Exits 1 when a bound is exceeded or host b's
tree is not the snapshot's.

    python bench/bench_s3.py                         # 100000 files (about 1.2 GiB)
    BODEGA_BENCH_FILES=5000 python bench/bench_s3.py
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

FILES = int(os.environ.get("BODEGA_BENCH_FILES", "100000"))
REQUESTS_PER_MIB = 1 / 4  # at most one request per 4 MiB of new data ...
REQUEST_ALLOWANCE = 20    # ... plus this constant (listings, config, the snapshot file, its checks)


def home(root: Path, host: str) -> Path:
    """The home of host (its host-id file says so)."""
    h = root / host
    h.mkdir()
    (h / "host-id").write_text(host + "\n")
    return h


def main() -> int:
    import pgserver
    import s3server
    import treegen

    import bodega
    from bodega.storage import manifest as mf

    for reason in (pgserver.missing(), s3server.missing()):
        if reason:
            raise SystemExit(reason)
    cluster = pgserver.start()
    server = s3server.start()
    try:
        pgserver.make_template(cluster)
        os.environ.update(server.env(), BODEGA_DATABASE_URL=cluster.new_database(),
                          BODEGA_STORE_URL=f"s3://{s3server.BUCKET}/{uuid.uuid4().hex}")
        os.environ.pop("BODEGA_HOST_ID", None)
        with tempfile.TemporaryDirectory(prefix="bench-s3-") as tmp:
            root = Path(tmp)
            with bodega.open(home(root, "host-a")) as a:
                tree = Path(a.containers.create("big").storage_path) / "root"
                tree.rmdir()
                stats = treegen.generate(str(tree), files=FILES, seed=1)
                mark, started = server.mark(), time.monotonic()
                snap = a.snapshots.create("big")
                snap_seconds, created = time.monotonic() - started, server.requests_since(mark)
            with bodega.open(home(root, "host-b")) as b:
                mark, started = server.mark(), time.monotonic()
                b.containers.recover_host("host-a")
                restore_seconds, restored = time.monotonic() - started, server.requests_since(mark)
                root_b = mf.build(Path(b.containers.get("big").storage_path) / "root").root_hex
    finally:
        server.stop()
        cluster.stop()
    new_mib = snap.size_bytes / (1 << 20)
    bound = new_mib * REQUESTS_PER_MIB + REQUEST_ALLOWANCE
    exact = root_b == snap.checksum_manifest
    print(f"{stats.files} files, {stats.bytes / (1 << 20):.0f} MiB in the tree, {new_mib:.0f} MiB new in the store")
    print(f"  snapshot on host a:  {len(created):5d} requests (bound {bound:.0f}), {snap_seconds:6.1f} s")
    print(f"  restore on host b:   {len(restored):5d} requests (bound {bound:.0f}), {restore_seconds:6.1f} s, "
          f"{'byte-exact (manifest root matches)' if exact else 'NOT the snapshot tree'}")
    return 0 if exact and len(created) <= bound and len(restored) <= bound else 1


if __name__ == "__main__":
    sys.exit(main())
