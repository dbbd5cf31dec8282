"""`bodega tasks`, `bodega task show|cancel|wait`, `bodega agent`."""
from __future__ import annotations

import json
import os
from pathlib import Path



def js(result):
    return json.loads(result.stdout)


def test_tasks_lists_newest_first_with_filters(run):
    run("container", "create", "a")
    run("container", "create", "b")
    run("container", "tag", "a", "x")
    tasks = js(run("tasks", "--json"))
    assert [t["type"] for t in tasks] == ["container.tag", "container.create", "container.create"]
    assert [t["type"] for t in js(run("tasks", "--container", "a", "--json"))] == ["container.tag", "container.create"]
    assert [t["type"] for t in js(run("tasks", "--type", "container.create", "-n", "1", "--json"))] == ["container.create"]
    assert js(run("tasks", "--status", "failed", "--json")) == []
    assert run("tasks").stdout.splitlines()[0].split()[:4] == ["ID", "TYPE", "STATUS", "PROGRESS"]


def test_task_show_and_unknown_task(run):
    run("container", "create", "a")
    task = js(run("tasks", "--json"))[0]
    shown = js(run("task", "show", task["id"][:6], "--json"))
    assert shown["id"] == task["id"] and shown["user"] == task["user"]
    assert "status:    succeeded" in run("task", "show", task["id"]).stdout
    run("task", "show", "ffffffff", code=44)


def test_task_cancel_queued_and_finished(run):
    task = js(run("container", "create", "a", "--detach", "--json"))
    assert js(run("task", "cancel", task["id"], "--json"))["status"] == "cancelled"
    assert "has already cancelled" in run("task", "cancel", task["id"], code=48).stderr
    assert js(run("container", "list", "--json")) == []


def test_task_wait_exits_with_the_tasks_error(run):
    dev = js(run("container", "create", "dev", "--json"))
    task = js(run("container", "clone", "dev", "dev2", "--detach", "--json"))
    assert "still queued" in run("task", "wait", task["id"], "--timeout", "0.1", code=54).stderr
    (Path(dev["storage_path"]) / "root").rename(Path(dev["storage_path"]) / "moved")  # the clone will fail
    run("agent", "--until-idle")
    result = run("task", "wait", task["id"], code=52)  # TaskFailed: a storage error keeps its words
    assert "root" in result.stderr and "status:    failed" in result.stdout


def test_an_agent_on_stdin_is_woken_by_a_line_and_stopped_by_its_end(run, home):
    import subprocess
    import sys

    from subprocesses import child_env, wait_for

    run("container", "create", "dev", "--detach")
    agent = subprocess.Popen([sys.executable, "-m", "bodega", "agent", "--poll", "100000", "--wake-on-stdin",
                              "--low-priority"], env=child_env(home), stdin=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        done = lambda name: js(run("container", "show", name, "--json"))["status"] == "ready"  # noqa: E731
        wait_for(lambda: done("dev"), what="the agent's first look at the queue")
        assert os.getpriority(os.PRIO_PROCESS, agent.pid) == max(10, os.getpriority(os.PRIO_PROCESS, 0))
        run("container", "create", "dev2", "--detach")  # the next look would be in 100000 s ...
        agent.stdin.write("\n")  # ... but a line wakes it now
        agent.stdin.flush()
        wait_for(lambda: done("dev2"), what="the woken agent to run the task")
        agent.stdin.close()  # the end of input stops it
        agent.wait(timeout=60)
        err = agent.stderr.read()
    finally:
        if agent.poll() is None:
            agent.kill()
    assert agent.returncode == 0 and "Traceback" not in err
    assert {t["status"] for t in js(run("tasks", "--json"))} == {"succeeded"}
