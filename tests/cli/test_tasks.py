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
