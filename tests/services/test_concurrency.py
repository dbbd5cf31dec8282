"""Many processes on one home: only documented conflicts, and a consistent catalogue afterwards."""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import bodega
from bodega import errors
from bodega.catalogue.models import ContainerLock, ContainerStatus, TaskStatus

from backends import write_lock_held
from subprocesses import bodega_cli, child_env, python_child, wait_for

WORKERS, OPS = 8, 200


@pytest.mark.slow
def test_eight_processes_of_mixed_operations_leave_a_consistent_catalogue(home, tmp_path):
    with bodega.open(home):
        pass  # create the home once, so the workers race on containers rather than on the schema
    script = str(Path(__file__).with_name("mixed_workload.py"))
    outs = [tmp_path / f"w{i}.json" for i in range(WORKERS)]
    workers = [subprocess.Popen([sys.executable, script, str(home), str(OPS), str(i), str(outs[i])],
                                env=child_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for i in range(WORKERS)]
    for w in workers:
        _, err = w.communicate(timeout=900)
        assert w.returncode == 0, err  # an undocumented error would have ended the worker
    outcomes = sum((Counter(json.loads(o.read_text())) for o in outs), Counter())
    print(dict(sorted(outcomes.items())))
    assert sum(outcomes.values()) == WORKERS * OPS
    assert outcomes["create:ok"] > 0 and outcomes["delete:ok"] > 0 and outcomes["tag:ok"] > 0
    assert outcomes["create:NameTaken"] > 0  # the workers did collide

    with bodega.open(home) as b:
        tasks = b.tasks.list(limit=None)
        assert {t.status for t in tasks} == {TaskStatus.SUCCEEDED}  # refused work never became a task
        by_type = Counter(t.type for t in tasks)
        assert by_type["container.create"] == outcomes["create:ok"]
        assert by_type["container.delete"] == outcomes["delete:ok"]
        assert by_type["container.tag"] == outcomes["tag:ok"]
        with b.catalogue.session_scope(write=False) as s:
            assert s.query(ContainerLock).count() == 0

        containers = b.containers.list()
        assert len(containers) == outcomes["create:ok"] - outcomes["delete:ok"]
        assert len({c.name for c in containers}) == len(containers)
        for c in containers:
            assert c.status == ContainerStatus.READY
            manifest = json.loads((Path(c.storage_path) / "manifest.json").read_text())
            assert (manifest["container"]["name"], manifest["container"]["tags"]) == (c.name, c.tags)
        assert sorted(p.name for p in (home / "containers").iterdir()) == sorted(str(c.id) for c in containers)
        assert list((home / "tmp").iterdir()) == []

        events = b.events.list(after=0, limit=None)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert sum(e.level.value == "audit" for e in events) == len(tasks)


RACE = r"""
import pathlib, sys, time, bodega
from bodega import errors
go = pathlib.Path(sys.argv[1])
with bodega.open() as b:
    while not go.exists():
        time.sleep(0.001)
    try:
        b.containers.create("same")
        print("won")
    except errors.NameTaken as e:
        print("NameTaken:", e)
"""


def test_two_processes_creating_the_same_name_one_wins_the_other_is_told(home, tmp_path):
    with bodega.open(home):
        pass
    go = tmp_path / "go"
    racers = [python_child(home, RACE, str(go)) for _ in range(2)]
    wait_for(lambda: all(p.poll() is None for p in racers), what="both racers")
    go.touch()
    results = sorted(p.communicate(timeout=60)[0].strip() for p in racers)
    assert all(p.returncode == 0 for p in racers)
    assert results[1] == "won" and results[0] == "NameTaken: a container named 'same' exists already"
    with bodega.open(home) as b:
        assert [c.name for c in b.containers.list()] == ["same"]


def test_a_catalogue_locked_by_another_process_gives_a_clear_error(home):
    with bodega.open(home) as b:
        b.containers.create("dev")
    with write_lock_held(home):  # another process in the middle of a long write
        done = bodega_cli(home, "container", "create", "other", BODEGA_BUSY_TIMEOUT="0.5")
        assert done.returncode == errors.DatabaseLocked.exit_code, done.stderr
        assert "locked by another process (waited 0.5 s)" in done.stderr
        listing = bodega_cli(home, "container", "list", "--json", BODEGA_BUSY_TIMEOUT="0.5")
        assert listing.returncode == 0 and [c["name"] for c in json.loads(listing.stdout)] == ["dev"]
    assert bodega_cli(home, "container", "create", "other").returncode == 0
