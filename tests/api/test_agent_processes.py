"""The agents of `bodega serve` are processes of their own: tasks queued over the API run there,
an agent that dies is replaced, and a server that dies takes its agents with it, leaving no task stuck."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

import bodega
from bodega._native.process import pid_alive
from served import wait_task  # type: ignore[import-not-found]
from subprocesses import child_env, wait_for


def test_tasks_queued_over_the_api_run_in_an_agent_process(served, signin):
    op = signin("op@example.org")
    r = op.post("/api/containers", json={"name": "dev"})
    assert r.status_code == 202 and wait_task(op, r.json()["id"])["status"] == "succeeded"
    r = op.post("/api/containers/dev/snapshots", json={"label": "one"})
    assert wait_task(op, r.json()["id"])["status"] == "succeeded"
    ran_in = {served.bodega.tasks.get(t["id"]).owner_pid for t in op.get("/api/tasks").json()}
    assert ran_in == {served.agents.procs[0].pid} and os.getpid() not in ran_in  # not a thread of the server


def test_agents_run_at_background_priority(served):
    agent = served.agents.procs[0]
    mine = os.getpriority(os.PRIO_PROCESS, os.getpid())  # the server's (this process's): left as it is
    wait_for(lambda: os.getpriority(os.PRIO_PROCESS, agent.pid) == max(10, mine),
             what="the agent to lower its priority")
    assert os.getpriority(os.PRIO_PROCESS, os.getpid()) == mine


def test_an_agent_that_dies_is_replaced(served, signin):
    dead = served.agents.procs[0]
    dead.send_signal(signal.SIGKILL)
    dead.wait()
    replacement = wait_for(lambda: served.agents.procs[0] if served.agents.procs[0] is not dead else None,
                           what="a new agent")
    assert replacement.poll() is None
    op = signin("op@example.org")
    r = op.post("/api/containers", json={"name": "dev"})
    assert wait_task(op, r.json()["id"])["status"] == "succeeded"
    assert served.bodega.tasks.get(r.json()["id"]).owner_pid == replacement.pid


def test_a_server_killed_mid_task_leaves_no_task_stuck(home, tmp_path):
    with bodega.open(home) as b:
        c = b.containers.create("dev")
        root = Path(c.storage_path) / "root"
        (root / "a.txt").write_text("one")
        snap = b.snapshots.create("dev")
        (root / "a.txt").write_text("two")
        token = b.tokens.create(name="test").token
    gate = tmp_path / "gate"
    gate.mkdir()
    os.mkfifo(gate / "reached")
    os.mkfifo(gate / "release")
    env = child_env(home, BODEGA_FAULT_GATE="restore.staged", BODEGA_FAULT_GATE_DIR=str(gate))
    server = subprocess.Popen([sys.executable, "-m", "bodega", "serve", "--port", "0", "--agents", "1"],
                              env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        url = re.search(r"on (http://\S+?)/? ", server.stderr.readline()).group(1)  # type: ignore[union-attr]
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            wait_for(lambda: _answers(client), what="the server to listen")
            r = client.post(f"/api/containers/dev/snapshots/{snap.id}/restore")
            assert r.status_code == 202, r.text
        with open(gate / "reached") as f:  # the agent holds the restore mid-way, at the gate
            agent_pid = int(f.readline())
        assert agent_pid != server.pid
        with bodega.open(home) as b:
            assert b.tasks.get(r.json()["id"]).status.value == "running"
        server.send_signal(signal.SIGKILL)  # no shutdown: the agent learns it from its closed stdin
        server.wait()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    with open(gate / "release", "w") as f:
        f.write("go\n")
    wait_for(lambda: not pid_alive(agent_pid), what="the agent to stop after its server died")
    with bodega.open(home) as b:
        task = b.tasks.get(r.json()["id"])
        assert task.status.value in ("succeeded", "cancelled"), task  # ended, either way
        assert b.tasks.list(status="running") == [] and b.tasks.list(status="queued") == []
        assert b.containers.get("dev").status.value == "ready"
    assert (root / "a.txt").read_text() == ("one" if task.status.value == "succeeded" else "two")


def _answers(client: httpx.Client) -> bool:
    try:
        return client.get("/api/me").status_code == 200
    except httpx.TransportError:
        return False


def test_stop_ends_the_agents_and_they_honour_an_early_stop(home):
    from bodega.api.agent_processes import AgentProcesses

    bodega.open(home).close()
    agents = AgentProcesses(str(home), 2)
    agents.start()
    procs = list(agents.procs)
    agents.stop()  # at once: the agents may still be starting, and stop all the same
    assert [p.returncode for p in procs] == [0, 0]
    assert all(p.stdin is not None and p.stdin.closed for p in procs)
