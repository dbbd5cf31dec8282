"""Many hosts on one PostgreSQL catalogue and one S3 store: two homes on this machine stand in
for two hosts (each its own host id), sharing the private PostgreSQL cluster and the S3
server of the test session."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

import bodega
from bodega import errors
from bodega.catalogue.models import ContainerLock, EventLog, TaskStatus, utcnow
from bodega.services.tasks import TaskKind, stale_after
from bodega.storage import manifest as mf
from bodega.storage.remote import open_remote

from ports import free_port
from subprocesses import bodega_cli, python_child, wait_for


class Fleet:
    """Homes of hosts sharing one catalogue database and one S3 store."""

    def __init__(self, root: Path, store_url: str) -> None:
        self.root = root
        self.store_url = store_url

    def home(self, host: str) -> Path:
        """The home of host (its host-id file says so)."""
        h = self.root / host
        h.mkdir(exist_ok=True)
        (h / "host-id").write_text(host + "\n")
        return h

    def open(self, host: str) -> bodega.Bodega:
        """bodega.open() on host's home."""
        return bodega.open(self.home(host))

    def cli(self, host: str, *args: str) -> subprocess.CompletedProcess[str]:
        """`bodega ARGS` run on host."""
        return bodega_cli(self.home(host), *args)


@pytest.fixture
def fleet(tmp_path, pg_database, s3_store, monkeypatch) -> Fleet:
    monkeypatch.setenv("BODEGA_DATABASE_URL", pg_database)
    monkeypatch.delenv("BODEGA_HOST_ID", raising=False)
    return Fleet(tmp_path, s3_store)


def write_tree(root: Path, files: int = 30, seed: int = 0) -> None:
    """Files of every kind worth restoring: nested, empty, binary, executable, a link, one chunked."""
    import random

    rng = random.Random(seed)
    for i in range(files):
        f = root / f"d{i % 4}" / f"f{i}.bin"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(rng.randbytes(rng.choice([0, 100, 5000, 40_000])))
    (root / "run.sh").write_text("#!/bin/sh\necho hi\n")
    os.chmod(root / "run.sh", 0o755)
    (root / "big.bin").write_bytes(rng.randbytes(3 << 20))
    (root / "link").symlink_to("d0/f0.bin")


def tree_of(b: bodega.Bodega, name: str) -> Path:
    return Path(b.containers.get(name).storage_path) / "root"


def _running_events(b: bodega.Bodega) -> dict[str, int]:
    """How many times each task was claimed (its `running` event)."""
    with b.catalogue.session_scope(write=False) as s:
        rows = s.execute(sa.select(EventLog.task_id, EventLog.context)).all()
    counts: dict[str, int] = {}
    for task_id, context in rows:
        if context.get("status") == "running":
            counts[str(task_id)] = counts.get(str(task_id), 0) + 1
    return counts


# --- events: the cursor rule under concurrent writers -------------------------------------------

WRITER = r"""
import sys, bodega
with bodega.open() as b:
    for i in range(int(sys.argv[1])):
        b.events.audit(f"writer {sys.argv[2]} event {i}")
"""


def test_event_numbers_are_gap_free_and_in_commit_order_under_concurrent_writers(home):
    # A reader following the log while six processes write never sees seq N+2 before N+1: having
    # seen N, it has seen everything up to N (a database sequence would hand numbers out at
    # insert time, and a later number could commit first).
    with bodega.open(home) as b:
        cursor = b.events.cursor()
        start = cursor
        writers = [python_child(home, WRITER, "150", str(i)) for i in range(6)]
        seen = 0
        while True:
            running = any(w.poll() is None for w in writers)
            for e in b.events.list(after=cursor, limit=None):
                assert e.seq == cursor + 1, f"after {cursor} came {e.seq}"
                cursor = e.seq
                seen += 1
            if not running:
                break
        for w in writers:
            assert w.wait() == 0, w.stderr.read()
        assert seen == 900 and cursor == start + 900
        assert {e.message.rsplit(" ", 1)[0] for e in b.events.list(after=start, limit=None)} == {
            f"writer {w} event" for w in range(6)}


# --- hosts on tasks, events and containers ------------------------------------------------------

def test_each_host_records_itself_on_its_containers_tasks_and_events(fleet):
    with fleet.open("host-a") as a:
        dev = a.containers.create("dev")
        (task,) = a.tasks.list(container_id=dev.id)
        assert dev.host == "host-a" and task.owner_host == "host-a"
        assert {e.host for e in a.events.list(container_id=dev.id)} == {"host-a"}
    with fleet.open("host-b") as b:
        b.events.audit("from b")
        assert b.events.list(limit=1)[0].host == "host-b"
        assert b.containers.get("dev").host == "host-a"


def test_a_containers_tasks_run_on_its_host_only(fleet):
    with fleet.open("host-a") as a:
        dev = a.containers.create("dev")
        write_tree(tree_of(a, "dev"))
    with fleet.open("host-b") as b:
        with pytest.raises(errors.ContainerElsewhere, match="lives on host host-a"):
            b.snapshots.create("dev")
        queued = b.snapshots.create("dev", detach=True)
        assert b.tasks.run_agent(until_idle=True) == 0  # host b's agent leaves it alone
        assert b.tasks.get(queued.id).status == TaskStatus.QUEUED
    with fleet.open("host-a") as a:
        assert a.tasks.run_agent(until_idle=True) == 1
        done = a.tasks.get(queued.id)
        assert done.status == TaskStatus.SUCCEEDED and done.owner_host == "host-a"
        assert a.snapshots.list(dev.id)[0].checksum_manifest == mf.build(tree_of(a, "dev")).root_hex
    refused = fleet.cli("host-b", "container", "tag", "dev", "x")
    assert refused.returncode == 82 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr


# --- cross-host restore -------------------------------------------------------------------------

def test_a_lost_hosts_containers_are_restored_on_another_byte_exact(fleet):
    with fleet.open("host-a") as a:
        a.containers.create("dev", tags=["work"])
        tree_a = tree_of(a, "dev")
        write_tree(tree_a)
        first = a.snapshots.create("dev", label="first")
        (tree_a / "d1" / "later.txt").write_text("after the first snapshot")
        second = a.snapshots.create("dev", label="second")
        a.containers.create("empty")  # never snapshotted: nothing of it is in the store
        a.containers.delete("empty")
    expected = mf.build(tree_a)
    moved = fleet.cli("host-b", "container", "recover", "--host", "host-a", "--json")
    assert moved.returncode == 0, moved.stderr
    (info,) = json.loads(moved.stdout)
    assert info["host"] == "host-b" and info["storage_path"].startswith(str(fleet.home("host-b")))
    with fleet.open("host-b") as b:
        tree_b = tree_of(b, "dev")
        assert mf.build(tree_b).root == expected.root == bytes.fromhex(second.checksum_manifest)
        for e in expected:
            if e.kind == "file":
                assert (tree_b / e.path_str).read_bytes() == (tree_a / e.path_str).read_bytes()
        assert os.readlink(tree_b / "link") == "d0/f0.bin" and os.stat(tree_b / "run.sh").st_mode & 0o777 == 0o755
        assert b.containers.get("dev").tags == ["work"]
        # Its history came along: an older snapshot restores here too, and the next one is a delta.
        b.snapshots.restore("dev", str(first.id))
        assert mf.build(tree_b).root_hex == first.checksum_manifest
        third = b.snapshots.create("dev")
        assert third.type.value == "delta"
    with fleet.open("host-a") as a, pytest.raises(errors.ContainerElsewhere):
        a.snapshots.create("dev")  # host a no longer holds it


def test_recover_host_refuses_what_it_cannot_do(fleet):
    with fleet.open("host-a") as a:
        a.containers.create("dev")
    with fleet.open("host-b") as b:
        with pytest.raises(errors.SnapshotNotFound, match="no snapshot to recover from"):
            b.containers.recover_host("host-a")
        with pytest.raises(errors.ContainerNotFound):
            b.containers.recover_host("host-z")
        with pytest.raises(errors.InvalidInput):
            b.containers.recover_host("host-b")
    both = fleet.cli("host-b", "container", "recover", "somewhere", "--host", "host-a")
    assert both.returncode == 10 and "not both" in both.stderr
    neither = fleet.cli("host-b", "container", "recover")
    assert neither.returncode == 10 and "--host HOST" in neither.stderr
    renamed = fleet.cli("host-b", "container", "recover", "--host", "host-a", "--name", "x")
    assert renamed.returncode == 10 and "--name works with one container directory" in renamed.stderr
    blank = fleet.cli("host-b", "container", "recover", "--host", " ")
    assert blank.returncode == 10 and "needs the host id" in blank.stderr
    for refused in (both, neither, renamed, blank):
        assert refused.stderr.count("\n") == 1  # one line each
    with fleet.open("host-a") as a:
        assert a.containers.get("dev").host == "host-a"  # nothing moved


# --- many agents on two hosts share one queue ------------------------------------------------------

FLEET_AGENT = r"""
import os, pathlib, sys, time, bodega
from bodega.services.tasks import TaskKind
marks, done, agents = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), int(sys.argv[3])
def work(ctx):
    mine = marks / str(os.getpid())
    if not mine.exists():  # this agent's first task: held until every agent holds one
        mine.touch()
        deadline = time.monotonic() + 120
        while len(list(marks.iterdir())) < agents:
            if time.monotonic() > deadline:
                raise RuntimeError("not every agent got a task")
            time.sleep(0.01)
    with open(done, "a") as f:  # one line per run: a task run twice shows twice
        f.write(f"{ctx.task_id}\n")
with bodega.open() as b:
    b.tasks.register(TaskKind("test.fleet", work))
    b.tasks.run_agent(until_idle=True, poll=0.05)
"""


def test_agents_of_two_hosts_share_the_queue_each_task_once_on_its_containers_host(fleet):
    # Six agents (three per host) drain 60 tasks: 20 global, 20 on host a's containers, 20 on
    # host b's.  Every agent's first task waits until all six hold one, so the six were
    # claiming from the queue at the same time (the race happened).
    tasks: dict[uuid.UUID, str | None] = {}
    for host in ("host-a", "host-b"):
        with fleet.open(host) as h:
            h.tasks.register(TaskKind("test.fleet", _hold))
            for i in range(10):
                c = h.containers.create(f"{host}-c{i}")
                for n in range(2):
                    t = h.tasks.submit("test.fleet", {"n": n}, f"fleet {c.name} {n}", detach=True,
                                       prepare=lambda s, t, c=c: setattr(t, "container_id", c.id))
                    tasks[t.id] = host
            for n in range(10):
                tasks[h.tasks.submit("test.fleet", {"n": n}, f"fleet global {n}", detach=True).id] = None
    marks, done = fleet.root / "marks", fleet.root / "done"
    marks.mkdir()
    agents = [python_child(fleet.home(host), FLEET_AGENT, str(marks), str(done), "6")
              for host in ("host-a", "host-b", "host-a", "host-b", "host-a", "host-b")]
    try:
        for agent in agents:
            _, err = agent.communicate(timeout=300)
            assert agent.returncode == 0, err
    finally:
        for agent in agents:
            if agent.poll() is None:
                agent.kill()
    assert len(list(marks.iterdir())) == 6  # all six agents held a task at once
    runs = done.read_text().split()
    assert sorted(runs) == sorted(str(t) for t in tasks)  # every task ran, and only once
    with fleet.open("host-a") as a:
        claims = _running_events(a)
        for task_id, host in tasks.items():
            info = a.tasks.get(task_id)
            assert info.status == TaskStatus.SUCCEEDED and claims[str(task_id)] == 1
            if host is not None:
                assert info.owner_host == host  # a container's tasks ran on its host
        assert {a.tasks.get(t).owner_pid for t in tasks} == {agent.pid for agent in agents}


# --- an agent killed holding a task ---------------------------------------------------------------

HOLDER = r"""
import pathlib, sys, time, bodega
from bodega.services.tasks import TaskKind
started, gate = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
def hold(ctx):
    started.write_text(str(ctx.task_id))
    while not gate.exists():
        ctx.checkpoint()
        time.sleep(0.01)
with bodega.open() as b:
    b.tasks.register(TaskKind("test.hold", hold))
    b.tasks.run_agent(until_idle=True)
"""


def _hold(ctx) -> None:
    return None


def test_an_agent_killed_holding_a_task_is_recovered_by_another_host_after_the_stale_period(fleet):
    with fleet.open("host-a") as a:
        a.tasks.register(TaskKind("test.hold", _hold))
        dev = a.containers.create("dev")
        task = a.tasks.submit("test.hold", {}, "hold dev", detach=True,
                              prepare=lambda s, t: setattr(t, "container_id", dev.id))
    started = fleet.root / "started"
    agent = python_child(fleet.home("host-a"), HOLDER, str(started), str(fleet.root / "never"))
    wait_for(started.exists, what="the agent to start the task")
    agent.send_signal(signal.SIGKILL)
    agent.wait()
    with fleet.open("host-b") as b:
        # The task's process is dead, but host b cannot tell from here: only a stale heartbeat says so.
        assert b.tasks.recover() == [] and b.tasks.get(task.id).status == TaskStatus.RUNNING
        b.tasks.clock = lambda: utcnow() + timedelta(seconds=stale_after() + 1)
        (ended,) = b.tasks.recover()
        assert ended.id == task.id and ended.status == TaskStatus.FAILED and ended.result["reason"] == "interrupted"
        assert "host-a" in ended.error["message"]
        with b.catalogue.session_scope(write=False) as s:
            assert s.query(ContainerLock).count() == 0
    with fleet.open("host-a") as a:
        assert a.containers.tag("dev", add=["free"]).tags == ["free"]  # the container is free again


# --- the database restarted while agents run ------------------------------------------------------

GATED = r"""
import os, pathlib, sys, time, bodega
from bodega.services.tasks import TaskKind
gate, done = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
def work(ctx):
    while not gate.exists():
        time.sleep(0.01)
    with open(done, "a") as f:  # one line per run: a task run twice shows twice
        f.write(f"{ctx.task_id}\n")
with bodega.open() as b:
    b.tasks.register(TaskKind("test.gated", work))
    b.tasks.run_agent(until_idle=True)
"""


def test_agents_ride_out_a_database_restart_no_task_twice_none_lost(fleet, pg_cluster):
    with fleet.open("host-a") as a:
        a.tasks.register(TaskKind("test.gated", _hold))
        ids = [a.tasks.submit("test.gated", {"n": i}, f"gated {i}", detach=True).id for i in range(12)]
    gate, done = fleet.root / "gate", fleet.root / "done"
    agents = [python_child(fleet.home("host-a"), GATED, str(gate), str(done)) for _ in range(2)]
    try:
        with fleet.open("host-a") as a:
            wait_for(lambda: len(a.tasks.list(status="running")) == 2, what="both agents to hold a task")
            a.catalogue.close()
            pg_cluster.stop_server()  # every connection is cut; the agents' tasks are mid-way
            try:
                gate.touch()  # the two tasks end their work while the catalogue is down ...
                wait_for(lambda: done.exists() and len(done.read_text().split()) == 2, what="their work to end")
            finally:
                pg_cluster.start_server()  # ... and record it once it is back
            for agent in agents:
                _, err = agent.communicate(timeout=300)
                assert agent.returncode == 0, err
            runs = done.read_text().split()
            assert sorted(runs) == sorted(str(i) for i in ids)  # every task ran, and once
            assert {a.tasks.get(i).status for i in ids} == {TaskStatus.SUCCEEDED}
            assert all(_running_events(a)[str(i)] == 1 for i in ids)  # each claimed once
    finally:
        for agent in agents:
            if agent.poll() is None:
                agent.kill()


def test_a_command_says_clearly_when_the_catalogue_server_is_unreachable(tmp_path):
    port = free_port()  # nothing listens there
    done = bodega_cli(tmp_path / "home", "container", "list",
                      BODEGA_DATABASE_URL=f"postgresql+psycopg://bodega@127.0.0.1:{port}/nowhere")
    assert done.returncode == 80, done.stderr
    assert done.stderr.count("\n") == 1 and "cannot reach the catalogue" in done.stderr


def test_the_first_opens_of_many_processes_migrate_once(pg_cluster, tmp_path, monkeypatch):
    url = pg_cluster.empty_database()
    try:
        monkeypatch.setenv("BODEGA_DATABASE_URL", url)
        code = "import bodega\nwith bodega.open() as b: print(b.containers.list())"
        children = [python_child(tmp_path / f"h{i}", code) for i in range(4)]
        for c in children:
            _, err = c.communicate(timeout=120)
            assert c.returncode == 0, err
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all() == ["0006_scaleout"]
            assert conn.execute(sa.text("SELECT count(*) FROM event_sequence")).scalar() == 1
        engine.dispose()
    finally:
        pg_cluster.drop(url)


# --- the object store unreachable, erring or damaging bodies ---------------------------------------

def _small_packs(url: str) -> None:
    """Configures the (new) store at url with 64 KiB packs: a small tree fills many."""
    from bodega.storage.store import DEFAULTS, FORMAT, VERSION

    open_remote(url).put("config.json", json.dumps({"format": FORMAT, "version": VERSION, **DEFAULTS,
                                                    "pack_max": 64 << 10}).encode())


def test_the_store_unreachable_mid_snapshot_fails_cleanly_and_a_retry_succeeds(fleet, s3_server):
    _small_packs(fleet.store_url)
    with fleet.open("host-a") as a:
        a.containers.create("dev")
        write_tree(tree_of(a, "dev"), files=60)
        faults = s3_server.reset_faults(path="/packs/")
        faults.down_after = 4  # two packs go up, then the server is gone
        with pytest.raises(errors.StoreUnavailable, match="still failing after"):
            a.snapshots.create("dev")
        assert faults.down  # the cut landed mid-snapshot
        s3_server.reset_faults()
        (task,) = a.tasks.list(type="snapshot.create")
        assert task.status == TaskStatus.FAILED and task.error["type"] == "StoreUnavailable"
        assert a.snapshots.list("dev") == [] and a.snapshots.engine.ids() == []
        assert open_remote(fleet.store_url).list("snapshots/") == {}  # nothing published
        # Undoing the try needs the store too: its journal waits for the next open or gc.
        assert os.listdir(a.home.store / "journal") == [f"{task.id}.json"]
        snap = a.snapshots.create("dev")  # the store is back: a retry succeeds
        assert snap.checksum_manifest == mf.build(tree_of(a, "dev")).root_hex
        a.snapshots.gc()
        # Whatever the failed try left (a pack without its index object, packs nothing names) is gone.
        keys = open_remote(fleet.store_url).list("packs/")
        stems = {k.rsplit(".", 1)[0] for k in keys}
        assert keys and set(keys) == {s + ext for s in stems for ext in (".pack", ".idx")}
        assert os.listdir(a.home.store / "journal") == []
        assert a.snapshots.verify(read_data=1.0)["ok"]


@pytest.mark.parametrize("fault", ["fail", "truncate", "corrupt"])
def test_store_errors_and_damaged_bodies_are_retried(fleet, s3_server, fault):
    with fleet.open("host-a") as a:
        a.containers.create("dev")
        tree = tree_of(a, "dev")
        write_tree(tree)
        snap = a.snapshots.create("dev")
        store = a.snapshots.engine.store
        store.drop_cache()
        faults = s3_server.reset_faults(path="/packs/")
        setattr(faults, fault, 2)
        mark = s3_server.mark()
        a.snapshots.extract("dev", str(snap.id), "", fleet.root / "out")
        assert getattr(faults, fault) == 0  # both faults happened
        assert mf.build(fleet.root / "out").root == mf.build(tree).root
        gets = [r for r in s3_server.requests_since(mark) if r[0] == "GET" and r[1].endswith(".pack")]
        assert len(gets) == len({r[1] for r in gets}) + 2  # each fault cost one more request


def test_a_pack_damaged_in_the_store_is_a_clear_failure_naming_the_file(fleet, s3_server):
    with fleet.open("host-a") as a:
        a.containers.create("dev")
        write_tree(tree_of(a, "dev"))
        snap = a.snapshots.create("dev")
        a.snapshots.engine.store.drop_cache()
        s3_server.reset_faults(path="/packs/").corrupt = 10_000  # every download: its middle byte flipped
        with pytest.raises(errors.ObjectCorrupt, match="needed by") as info:
            a.snapshots.extract("dev", str(snap.id), "", fleet.root / "out")
        assert "after" not in str(info.value) or "tries" in str(info.value)
        assert not (fleet.root / "out").exists()
        s3_server.reset_faults().fail = 0
        s3_server.reset_faults(path="/packs/").fail = 10_000
        a.snapshots.engine.store.drop_cache()
        with pytest.raises(errors.StoreUnavailable, match="still failing after 5 tries"):
            a.snapshots.extract("dev", str(snap.id), "", fleet.root / "out2")
        s3_server.reset_faults()


def test_gc_removes_uploads_a_dead_writer_left(fleet):
    with fleet.open("host-a") as a:
        a.containers.create("dev")
        write_tree(tree_of(a, "dev"))
        a.snapshots.create("dev")
        remote = a.snapshots.engine.store.remote
        remote.put("packs/" + "ab" * 16 + ".pack", b"half a pack")  # uploaded, never published (no .idx)
        remote.client.create_multipart_upload(Bucket=remote.bucket, Key=remote.prefix + "packs/cd.pack")
        report = a.snapshots.gc()
        assert report["staging_removed"] == 2
        assert not [k for k in remote.list("packs/") if k.startswith("packs/abab")]
        assert remote.client.list_multipart_uploads(Bucket=remote.bucket,
                                                    Prefix=remote.prefix).get("Uploads", []) == []
        assert a.snapshots.verify(read_data=1.0)["ok"]


# --- requests per byte -------------------------------------------------------------------------

REQUESTS_PER_MIB = 1 / 4  # at most one request per 4 MiB of new data ...
REQUEST_ALLOWANCE = 20    # ... plus this constant (listings, config, the snapshot file, its checks)


def test_snapshot_and_a_second_hosts_restore_cost_one_request_per_4_mib(fleet, s3_server):
    # The small version of bench/bench_s3.py (the ~100k-file tree): the same bounds.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    import treegen

    with fleet.open("host-a") as a:
        a.containers.create("dev")
        tree = tree_of(a, "dev")
        tree.rmdir()
        treegen.generate(str(tree), files=2000, seed=1)
        mark = s3_server.mark()
        snap = a.snapshots.create("dev")
        created = s3_server.requests_since(mark)
    new_mib = snap.size_bytes / (1 << 20)
    assert len(created) <= new_mib * REQUESTS_PER_MIB + REQUEST_ALLOWANCE, (len(created), new_mib)
    mark = s3_server.mark()
    moved = fleet.cli("host-b", "container", "recover", "--host", "host-a")
    assert moved.returncode == 0, moved.stderr
    restored = s3_server.requests_since(mark)
    assert len(restored) <= new_mib * REQUESTS_PER_MIB + REQUEST_ALLOWANCE, (len(restored), new_mib)
    with fleet.open("host-b") as b:
        assert mf.build(tree_of(b, "dev")).root_hex == snap.checksum_manifest == mf.build(tree).root_hex
    print(f"{new_mib:.1f} MiB new: snapshot {len(created)} requests, restore on host b {len(restored)}")
