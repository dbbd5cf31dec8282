"""`bodega app ...`: output for people and scripts, and bad input as one line with its exit code."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))
from services.real_apps import tar_of  # noqa: E402


@pytest.fixture
def installed(run, tmp_path):
    run("container", "create", "dev")
    archive = tar_of(tmp_path, {"bin/tool": b"#!/bin/sh\necho tool\n", "README": b"hi\n"}, name="tool-1.0.tar.gz")
    run("app", "install", "dev", str(archive), "--name", "tool", "--version", "1.0", "--entry", "tool=bin/tool")
    return archive


def test_install_list_show_footprint(run, installed):
    apps = json.loads(run("app", "list", "dev", "--json").stdout)
    assert [(a["name"], a["status"], a["version"]) for a in apps] == [("tool", "ready", "1.0")]
    shown = json.loads(run("app", "show", "dev", "tool", "--json").stdout)
    assert shown["tasks"][0]["type"] == "app.install" and shown["health"][0]["runs"] == 0
    assert shown["source_hash"] and shown["install_source"] == str(installed)
    fp = json.loads(run("app", "footprint", "dev", "tool", "--json").stdout)
    assert {e["path"]: e["change"] for e in fp["entries"]} == {
        "apps": "added", "apps/tool": "added", "apps/tool/bin": "added", "apps/tool/bin/tool": "added",
        "apps/tool/README": "added"}
    text = run("app", "footprint", "dev", "tool").stdout
    assert "A" in text and "apps/tool/bin/tool" in text and "5 added" in text


@pytest.mark.parametrize("args, code, words", [
    (["app", "install", "dev", "{archive}", "--entry", "x=/etc/passwd"], 10, "outside the container"),
    (["app", "install", "dev", "{archive}", "--entry", "novalue"], 10, "NAME=COMMAND"),
    (["app", "install", "dev", "{archive}", "--name", "tool", "--entry", "t=bin/tool"], 46, "already"),
    (["app", "install", "dev", "{archive}", "--path", "../up", "--entry", "t=bin/tool"], 10, "outside"),
    (["app", "install", "nope", "{archive}", "--entry", "t=bin/tool"], 43, "no container"),
    (["app", "show", "dev", "ghost"], 89, "no app"),
    (["app", "footprint", "dev", "ghost"], 89, "no app"),
    (["app", "uninstall", "dev", "ghost"], 89, "no app"),
    (["app", "set-entry", "dev", "tool", "x=/bin/sh"], 10, "outside the container"),
    (["app", "remove-entry", "dev", "tool", "tool"], 50, "last entry point"),
    (["app", "remove-entry", "dev", "tool", "ghost"], 89, "no entry point"),
    (["app", "update", "dev", "ghost", "{archive}"], 89, "no app"),
    (["run", "dev", "ghost"], 89, "no entry point"),
])
def test_bad_input_is_one_line_and_its_code(run, installed, args, code, words):
    result = run(*[a.replace("{archive}", str(installed)) for a in args], code=code)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in result.output


def test_a_file_that_is_nothing_installable(run, installed, tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("just text\n")
    result = run("app", "install", "dev", str(junk), "--entry", "x=y", code=10)
    assert "not a directory, an archive" in result.output


def test_uninstall_and_disable(run, installed):
    run("app", "disable", "dev", "tool")
    assert json.loads(run("app", "show", "dev", "tool", "--json").stdout)["status"] == "disabled"
    out = run("app", "uninstall", "dev", "tool").stdout
    assert "uninstalled tool" in out
    assert json.loads(run("app", "list", "dev", "--json").stdout) == []
