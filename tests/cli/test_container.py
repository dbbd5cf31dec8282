"""`bodega container ...` and `bodega du`: wiring over the API, JSON for scripts, exit codes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import bodega
from bodega import errors
from bodega.services.containers import host_platform
from subprocesses import bodega_cli



def js(result):
    return json.loads(result.stdout)


def test_create_list_show_as_json_and_text(run):
    made = js(run("container", "create", "dev", "--tag", "work", "-d", "mine", "--settings", '{"cpu_limit": 2}', "--json"))
    assert (made["name"], made["tags"], made["description"], made["settings"], made["status"]) == (
        "dev", ["work"], "mine", {"cpu_limit": 2}, "ready")
    listed = js(run("container", "list", "--json"))
    assert [c["id"] for c in listed] == [made["id"]]
    text = run("container", "list").stdout
    assert text.splitlines()[0].split() == ["NAME", "ID", "STATUS", "PLATFORM", "SIZE", "TAGS"]
    assert text.splitlines()[1].split()[:3] == ["dev", made["id"][:8], "ready"]
    assert js(run("container", "show", made["id"][:8], "--json"))["name"] == "dev"
    assert f"platform:    {host_platform().value}" in run("container", "show", "dev").stdout


def test_settings_from_a_file(run, tmp_path):
    f = tmp_path / "s.json"
    f.write_text('{"memory_limit_mb": 1024}')
    assert js(run("container", "create", "dev", "--settings", f"@{f}", "--json"))["settings"] == {"memory_limit_mb": 1024}
    missing = run("container", "create", "x", "--settings", f"@{tmp_path / 'missing'}", code=31).stderr
    assert f"read settings file: {tmp_path / 'missing'}: No such file or directory" in missing
    assert "read settings file" in run("container", "create", "x", "--settings", f"@{tmp_path}", code=36).stderr


def test_edit_tag_archive_unarchive_delete(run):
    run("container", "create", "dev")
    assert js(run("container", "edit", "dev", "--name", "prod", "--json"))["name"] == "prod"
    assert js(run("container", "tag", "prod", "a", "b", "--json"))["tags"] == ["a", "b"]
    assert js(run("container", "tag", "prod", "c", "-r", "a", "--json"))["tags"] == ["b", "c"]
    assert js(run("container", "archive", "prod", "--json"))["status"] == "archived"
    run("container", "edit", "prod", "-d", "x", code=48)
    assert js(run("container", "unarchive", "prod", "--json"))["status"] == "ready"
    assert js(run("container", "delete", "prod", "--json"))["name"] == "prod"
    assert js(run("container", "list", "--json")) == []


def test_clone_and_du(run):
    dev = js(run("container", "create", "dev", "--json"))
    (Path(dev["storage_path"]) / "root" / "f").write_bytes(b"x" * 10000)
    clone = js(run("container", "clone", "dev", "dev2", "--json"))
    assert clone["size_bytes"] == 10000 and clone["name"] == "dev2"
    usage = js(run("du", "--json"))
    assert [u["name"] for u in usage["containers"]] == ["dev", "dev2"]
    assert usage["total"]["files"] == 6  # two files, two manifests, the clone's snapshot state (live.manifest, head.json)
    assert all(u["allocated_bytes"] >= 10000 for u in usage["containers"])
    assert run("du", "dev2").stdout.splitlines()[-1].split()[0] == "TOTAL"


def test_detach_queues_and_the_agent_runs_it(run):
    task = js(run("container", "create", "dev", "--detach", "--json"))
    assert task["status"] == "queued"
    assert js(run("container", "show", "dev", "--json"))["status"] == "creating"
    run("agent", "--until-idle")
    assert js(run("task", "wait", task["id"][:8], "--json"))["status"] == "succeeded"
    assert js(run("container", "show", "dev", "--json"))["status"] == "ready"


def test_recover_from_the_containers_directory(run, home):
    run("container", "create", "dev", "--tag", "t")
    for f in home.glob("bodega.db*"):
        f.unlink()
    assert js(run("container", "list", "--json")) == []
    assert [c["name"] for c in js(run("container", "recover", str(home / "containers"), "--json"))] == ["dev"]
    assert js(run("container", "show", "dev", "--json"))["tags"] == ["t"]


@pytest.mark.parametrize("args, code", [
    (["container", "create", "CON"], 40),
    (["container", "create", "a/b"], 40),
    (["container", "create", "x", "--settings", "{nope"], 41),
    (["container", "create", "x", "--settings", '{"cpu_limit": -1}'], 41),
    (["container", "show", "nope"], 43),
    (["container", "delete", "nope", "--yes"], 43),
    (["container", "tag", "nope", "x"], 43),
    (["container", "recover", "/nonexistent-dir"], 31),
])
def test_bad_input_exits_with_its_documented_code(run, args, code):
    result = run(*args, code=code)
    assert result.stderr.startswith("bodega: error: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_duplicate_name_exits_46(run):
    run("container", "create", "dev")
    assert "exists already" in run("container", "create", "dev", code=46).stderr


def test_errors_with_json_are_json_on_stderr(home):
    done = bodega_cli(home, "container", "show", "nope", "--json")
    assert done.returncode == errors.ContainerNotFound.exit_code and done.stdout == ""
    assert json.loads(done.stderr)["error"] == {"type": "ContainerNotFound", "message": "no container 'nope'",
                                                "exit_code": 43}


def test_every_read_command_takes_json():
    from bodega.cli import container, events, tasks

    reads = [container.list_, container.show, container.du, tasks.tasks, tasks.show, tasks.wait, events.events]
    for command in reads:
        assert "as_json" in {p.name for p in command.params}, command.name


def test_every_command_has_help(run):
    groups = {"container": ["create", "list", "show", "edit", "tag", "archive", "unarchive", "delete", "clone",
                            "recover"], "task": ["show", "cancel", "wait"]}
    for group, commands in groups.items():
        for command in commands:
            out = run(group, command, "--help").stdout
            assert "Usage:" in out
            if group == "container" and command != "list":
                assert "EXIT STATUS" in out
    for command in ["du", "tasks", "events", "agent", "errors"]:
        assert "Usage:" in run(command, "--help").stdout


def test_shell_completion_offers_container_names(home):
    bodega_cli(home, "container", "create", "alpha")
    bodega_cli(home, "container", "create", "beta")
    done = bodega_cli(home, "container", "show", "a", _BODEGA_COMPLETE="bash_complete", COMP_WORDS="bodega container show a",
                      COMP_CWORD="3")
    assert done.returncode == 0
    assert "alpha" in done.stdout and "beta" not in done.stdout
    source = bodega_cli(home, _BODEGA_COMPLETE="bash_source")
    assert "_bodega_completion" in source.stdout


@pytest.mark.parametrize("settings, why", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"cpu_limit": NaN}', "NaN is not a JSON number"),
    ('{"cpu_limit": Infinity}', "Infinity is not a JSON number"),
    ('{"cpu_limit": 1, "cpu_limit": 2}', "given twice"),
    ('{"env": {"A": "\\udcff"}}', "not Unicode text"),
])
def test_settings_that_are_not_strict_json_are_invalid_settings_in_one_line(run, settings, why):
    """Issue 10 item 12: a deeply nested array was a RecursionError traceback; NaN was stored."""
    r = run("container", "create", "dev", "--settings", settings, code=41)
    assert why in r.stderr and r.stderr.count("\n") == 1
    assert json.loads(run("container", "list", "--json").stdout) == []


def test_settings_files_are_read_strictly_and_boundedly(run, tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    assert "nested too deeply" in run("container", "create", "dev", "--settings", f"@{deep}", code=41).stderr
    assert "larger than" in run("container", "create", "dev", "--settings", "@/dev/zero", code=41).stderr
    run("container", "create", "dev")
    assert "NaN" in run("container", "edit", "dev", "--settings", '{"cpu_limit": NaN}', code=41).stderr
    assert json.loads(run("container", "show", "dev", "--json").stdout)["settings"] == {}


def test_recover_refuses_a_manifest_with_nan_or_deep_nesting(run, tmp_path):
    from services.test_containers import write_container_dir

    d = write_container_dir(tmp_path / "old", "3f2a9c01-0000-4000-8000-000000000001", "dev")
    text = (d / "manifest.json").read_text()
    (d / "manifest.json").write_text(text.replace('"settings": {}', '"settings": {"cpu_limit": NaN}'))
    assert "NaN is not a JSON number" in run("container", "recover", str(d), code=58).stderr
    (d / "manifest.json").write_text(text.replace('"settings": {}', '"settings": ' + "[" * 50_000 + "]" * 50_000))
    assert "nested too deeply" in run("container", "recover", str(d), code=58).stderr
    assert json.loads(run("container", "list", "--json").stdout) == []


def test_settings_from_python_with_nan_are_refused(home):
    import bodega
    from bodega import errors

    with bodega.open(home) as b:
        with pytest.raises(errors.InvalidSettings, match="nan is not a JSON number"):
            b.containers.create("dev", settings={"cpu_limit": float("nan")})


def test_list_prints_the_same_read_directly_or_through_an_opened_home(run, home, monkeypatch):
    """`container list` reads the catalogue file directly when it can (services/container_listing.py):
    every column, --json, --all-users and filters print as through an opened home."""
    from bodega.services import container_listing

    run("container", "create", "dev", "--tag", "work", "-d", "mine", "--settings", '{"cpu_limit": 2}')
    run("container", "create", "lab", "--tag", "work", "--tag", "old")
    run("container", "archive", "lab")
    with bodega.open(home) as b:
        b.users.create("ana@localhost", role="operator")
    with bodega.open(home, user="ana@localhost") as ana:
        ana.containers.create("dev", tags=["work"])
    direct = []
    real = container_listing.read_directly
    monkeypatch.setattr(container_listing, "read_directly", lambda *a, **k: direct.append(real(*a, **k)) or direct[-1])
    variants = [[], ["--all-users"], ["--tag", "work"], ["--status", "archived"], ["--tag", "none"]]
    for extra in variants:
        for form in ([], ["--json"]):
            direct.clear()
            fast = run("container", "list", *extra, *form).stdout
            assert direct and direct[0] is not None  # read directly
            with monkeypatch.context() as m:
                m.setenv("BODEGA_DATABASE_URL", f"sqlite:///{home / 'bodega.db'}")  # only an opened home reads it
                direct.clear()
                opened = run("container", "list", *extra, *form).stdout
                assert direct == [None]
            assert fast == opened, extra + form
    assert "OWNER" in run("container", "list", "--all-users").stdout.splitlines()[0]
    assert "no containers" in run("container", "list", "--tag", "none").stdout
