"""The container lifecycle through the Python API."""
from __future__ import annotations

import json
import os
import signal
import uuid
from pathlib import Path

import pytest

import bodega
from bodega import errors
from bodega.catalogue.models import AppStatus, ContainerStatus, SnapshotType
from bodega.services.containers import host_platform
from subprocesses import bodega_cli

from backends import lose_catalogue


def manifest_of(c) -> dict:
    return json.loads((Path(c.storage_path) / "manifest.json").read_text())


def test_create_makes_a_ready_container_with_its_tree_and_manifest(b):
    c = b.containers.create("dev", description="work stuff", tags=["work", "a"], settings={"cpu_limit": 2})
    assert c.status == ContainerStatus.READY
    assert c.platform == host_platform()  # the host's, whatever it is (its own test below)
    assert c.tags == ["a", "work"] and c.settings == {"cpu_limit": 2}
    assert c.owner_email == b.user.email
    assert Path(c.storage_path) == b.home.containers / str(c.id)
    assert (Path(c.storage_path) / "root").is_dir()
    m = manifest_of(c)
    assert m["container_id"] == str(c.id) and m["schema_version"] == 1
    assert m["container"]["name"] == "dev" and m["container"]["status"] == "ready"
    assert m["container"]["tags"] == ["a", "work"] and m["container"]["owner"] == b.user.email
    assert m["runtime"] == {"env": {}, "mounts": []} and m["compat_flags"] == []
    assert list(b.home.tmp.iterdir()) == []  # staging is gone


@pytest.mark.parametrize("name, why", [
    ("", "empty"),
    ("x" * 65, "the limit is 64"),
    ("a/b", "path separator"),
    ("a\\b", "path separator"),
    ("CON", "device name"),
    ("nul", "device name"),
    ("Com1", "device name"),
    ("lpt9.txt", "device name"),
    ("aux .log", "device name"),
    ("dev.", "ends with a dot or a space"),
    ("dev ", "ends with a dot or a space"),
    (" dev", "starts with a space or a dash"),
    ("-rf", "starts with a space or a dash"),
    ("a:b", "Windows forbids"),
    ("what?", "Windows forbids"),
    ("tab\there", "control character"),
    ("..", "reserved"),
])
def test_invalid_names_are_refused_with_the_reason(b, name, why):
    with pytest.raises(errors.InvalidName, match=why.replace("?", r"\?")):
        b.containers.create(name)
    assert b.containers.list() == []


@pytest.mark.parametrize("name", ["Chrome 122 Beta", "a.b", "x" * 64, "café", "dev_2", "CONSOLE", "COM10"])
def test_ordinary_names_are_accepted(b, name):
    assert b.containers.create(name).name == name


def test_names_are_compared_in_nfc(b):
    b.containers.create("caf\u00e9")
    with pytest.raises(errors.NameTaken):
        b.containers.create("cafe\u0301")


def test_a_duplicate_name_is_name_taken_and_changes_nothing(b):
    first = b.containers.create("dev")
    tasks_before = len(b.tasks.list())
    with pytest.raises(errors.NameTaken, match="'dev' exists already"):
        b.containers.create("dev")
    assert [c.id for c in b.containers.list()] == [first.id]
    assert len(b.tasks.list()) == tasks_before
    assert sorted(p.name for p in b.home.containers.iterdir()) == [str(first.id)]


def test_another_user_may_use_the_same_name(home, b):
    b.users.create("ana@example.org", "Ana", "operator")
    mine = b.containers.create("dev")
    with bodega.open(home, user="ana@example.org") as ana:
        hers = ana.containers.create("dev")
        assert [c.id for c in ana.containers.list()] == [hers.id]
        assert ana.containers.get("dev").id == hers.id
    assert b.containers.get("dev").id == mine.id
    assert {c.owner_email for c in b.containers.list(all_users=True)} == {b.user.email, "ana@example.org"}


def test_a_viewer_cannot_mutate(home, b):
    b.users.create("vic@example.org", "Vic", "viewer")
    b.containers.create("dev")
    b.shares.share("dev", "vic@example.org", "viewer")
    with bodega.open(home, user="vic@example.org") as vic:
        assert vic.containers.get(b.containers.get("dev").id).name == "dev"
        with pytest.raises(errors.Forbidden, match="viewer"):
            vic.containers.create("mine")


def test_an_unknown_user_is_refused(home):
    with pytest.raises(errors.UserNotFound):
        bodega.open(home, user="nobody@example.org")


def test_containers_are_found_by_name_id_and_id_prefix(b):
    c = b.containers.create("dev")
    assert b.containers.get(c.id).name == "dev"
    assert b.containers.get(str(c.id)).name == "dev"
    assert b.containers.get(str(c.id)[:8]).name == "dev"
    assert b.containers.get(str(c.id).upper()[:6]).name == "dev"


@pytest.mark.parametrize("ref", ["nope", "0000", str(uuid.UUID(int=1)), "abc"])
def test_unknown_references_are_container_not_found(b, ref):
    b.containers.create("dev")
    with pytest.raises(errors.ContainerNotFound):
        b.containers.get(ref)
    with pytest.raises(errors.ContainerNotFound):
        b.containers.delete(ref)


def write_container_dir(where: Path, container_id: str, name: str, **container) -> Path:
    """A container directory as another bodega would have left it."""
    from bodega.storage.container_manifest import write_manifest

    d = where / container_id
    (d / "root").mkdir(parents=True)
    write_manifest(d, {"schema_version": 1, "container_id": container_id, "container": {
        "name": name, "description": "", "status": "ready", "platform": "linux-x64", "tags": [], "settings": {},
        "owner": None, **container}, "app_instances": [], "snapshots": []})
    return d


def test_an_ambiguous_prefix_asks_for_more(b, tmp_path):
    write_container_dir(tmp_path / "old", "abcd0000-0000-4000-8000-000000000001", "one")
    write_container_dir(tmp_path / "old", "abcd1111-0000-4000-8000-000000000002", "two")
    b.containers.recover(tmp_path / "old")
    with pytest.raises(errors.AmbiguousReference, match="more than one"):
        b.containers.get("abcd")
    assert b.containers.get("abcd1").name == "two"


@pytest.mark.parametrize("settings, where", [
    ({"cpu_limit": 0}, "settings.cpu_limit"),
    ({"cpu_limit": "two"}, "settings.cpu_limit"),
    ({"memory_limit_mb": 1.5}, "settings.memory_limit_mb"),
    ({"network": {"rules": [{"action": "maybe", "host": "x"}]}}, "settings.network.rules[0].action"),
    ({"network": {"rules": [{"action": "allow"}]}}, "host"),
    ({"network": {"rules": [{"action": "allow", "host": "a", "port": 70000}]}}, "port"),
    ({"compat_flags": ["Force 32bit"]}, "compat_flags"),
    ({"compat_flags": ["a", "a"]}, "compat_flags"),
    ({"env": {"1BAD": "x"}}, "env"),
    ({"env": {"OK": 3}}, "env.OK"),
    ({"mounts": [{"source": "/a"}]}, "target"),
    ({"gpu": True}, "gpu"),
    ([1, 2], "settings"),
])
def test_malformed_settings_are_refused_naming_the_problem(b, settings, where):
    with pytest.raises(errors.InvalidSettings, match=where.replace("[", r"\[").replace("]", r"\]")):
        b.containers.create("dev", settings=settings)
    assert b.containers.list() == []


def test_full_settings_are_accepted_and_reach_the_manifest(b):
    settings = {"cpu_limit": 1.5, "memory_limit_mb": 2048, "compat_flags": ["force_32bit_path", "disable_hw_accel"],
                "network": {"default": "deny", "rules": [{"action": "allow", "host": "example.org", "port": 443}]},
                "env": {"LANG": "C"}, "mounts": [{"source": "/data", "target": "data", "read_only": True}]}
    c = b.containers.create("dev", settings=settings)
    m = manifest_of(c)
    assert m["container"]["settings"] == settings
    assert m["runtime"] == {"env": {"LANG": "C"}, "mounts": settings["mounts"]}
    assert m["compat_flags"] == ["force_32bit_path", "disable_hw_accel"]


def test_settings_text_must_be_json():
    from bodega.services.container_settings import parse_settings

    with pytest.raises(errors.InvalidSettings, match="not valid JSON"):
        parse_settings("{cpu_limit: 2}")
    assert parse_settings('{"cpu_limit": 2}') == {"cpu_limit": 2}


def test_edit_renames_and_changes_description_and_settings_in_step_with_the_manifest(b):
    c = b.containers.create("dev")
    b.containers.create("taken")
    edited = b.containers.edit("dev", name="prod", description="now prod", settings={"memory_limit_mb": 512})
    assert (edited.id, edited.name, edited.description, edited.settings) == (c.id, "prod", "now prod",
                                                                             {"memory_limit_mb": 512})
    assert manifest_of(edited)["container"]["name"] == "prod"
    assert manifest_of(edited)["container"]["settings"] == {"memory_limit_mb": 512}
    with pytest.raises(errors.NameTaken):
        b.containers.edit("prod", name="taken")
    with pytest.raises(errors.InvalidInput, match="nothing to change"):
        b.containers.edit("prod")
    with pytest.raises(errors.InvalidSettings):
        b.containers.edit("prod", settings={"cpu_limit": -1})
    assert b.containers.get("prod").settings == {"memory_limit_mb": 512}


def test_tags_are_added_removed_and_listed_by(b):
    b.containers.create("a", tags=["x"])
    b.containers.create("b")
    assert b.containers.tag("b", add=["x", "y"]).tags == ["x", "y"]
    assert b.containers.tag("a", add=["z"], remove=["x"]).tags == ["z"]
    assert [c.name for c in b.containers.list(tag="x")] == ["b"]
    assert manifest_of(b.containers.get("b"))["container"]["tags"] == ["x", "y"]
    for bad in ["", "two words", "a,b", "x" * 65]:
        with pytest.raises(errors.InvalidInput):
            b.containers.tag("a", add=[bad])
    with pytest.raises(errors.InvalidInput, match="no tags"):
        b.containers.tag("a")


def test_archive_freezes_until_unarchive(b):
    b.containers.create("dev")
    assert b.containers.archive("dev").status == ContainerStatus.ARCHIVED
    assert manifest_of(b.containers.get("dev"))["container"]["status"] == "archived"
    with pytest.raises(errors.WrongStatus, match="unarchive it first"):
        b.containers.edit("dev", description="x")
    with pytest.raises(errors.WrongStatus):
        b.containers.archive("dev")
    assert b.containers.tag("dev", add=["old"]).tags == ["old"]  # labels stay editable
    assert b.containers.unarchive("dev").status == ContainerStatus.READY
    with pytest.raises(errors.WrongStatus):
        b.containers.unarchive("dev")
    assert [c.name for c in b.containers.list(status="ready")] == ["dev"]


def test_the_status_machine_allows_only_its_transitions():
    from bodega.services.containers import TRANSITIONS

    assert ContainerStatus.ARCHIVED not in TRANSITIONS[ContainerStatus.CREATING]
    assert ContainerStatus.RUNNING not in TRANSITIONS[ContainerStatus.ARCHIVED]
    assert TRANSITIONS[ContainerStatus.RUNNING] == {ContainerStatus.READY, ContainerStatus.ERROR}
    assert set(TRANSITIONS) == set(ContainerStatus)


def test_delete_removes_the_row_and_the_tree(b):
    c = b.containers.create("dev")
    (Path(c.storage_path) / "root" / "file").write_text("data")
    assert b.containers.delete("dev") is None
    assert b.containers.list() == []
    assert not Path(c.storage_path).exists()
    assert list(b.home.tmp.iterdir()) == []
    with pytest.raises(errors.ContainerNotFound):
        b.containers.get(c.id)
    # the name is free again
    assert b.containers.create("dev").id != c.id



def test_a_delete_killed_before_it_moves_the_tree_is_finished_by_the_next_start(b, home, tmp_path):
    # The row used to go first: a kill before the tree moved left a directory no row knew
    # (found by tests/crash).  Now the tree moves first, and the next start finishes the delete.
    c = b.containers.create("dev")
    (Path(c.storage_path) / "root" / "file").write_text("data")
    log = tmp_path / "kill.log"
    done = bodega_cli(home, "container", "delete", "dev", "--yes",
                      BODEGA_FAULT_STEP="kill@rename:1", BODEGA_FAULT_LOG=str(log))
    assert done.returncode == -signal.SIGKILL
    (line,) = log.read_text().splitlines()
    assert line.split()[1:] == ["rename", c.storage_path]  # killed just before the tree moved
    with bodega.open(home) as again:  # the next start adopts the task and finishes it
        assert again.containers.list() == []
        (task,) = [t for t in again.tasks.list() if t.type == "container.delete"]
        assert task.status.value == "succeeded"
    assert not Path(c.storage_path).exists() and list(b.home.tmp.iterdir()) == []


def make_tree(root: Path) -> None:
    (root / "bin").mkdir()
    (root / "bin" / "app").write_bytes(b"\x7fELF" + os.urandom(5000))
    (root / "bin" / "app").chmod(0o755)
    (root / "data.txt").write_text("hello")
    os.link(root / "data.txt", root / "hardlink.txt")
    (root / "etc-link").symlink_to("/etc")
    (root / "empty").mkdir()


def test_clone_copies_tree_apps_tags_and_settings_without_following_links(b):
    src = b.containers.create("dev", tags=["work"], settings={"cpu_limit": 2}, description="d")
    make_tree(Path(src.storage_path) / "root")
    b.apps.record("dev", "VLC", entry_points=[{"name": "vlc", "command": "bin/app"}], status="ready")
    seen = []
    clone = b.containers.clone("dev", "dev2", progress=seen.append)
    root = Path(clone.storage_path) / "root"
    assert (root / "bin" / "app").read_bytes() == (Path(src.storage_path) / "root" / "bin" / "app").read_bytes()
    assert os.access(root / "bin" / "app", os.X_OK)
    assert os.readlink(root / "etc-link") == "/etc" and (root / "etc-link").is_symlink()
    assert (root / "empty").is_dir()
    assert (clone.tags, clone.settings, clone.description, clone.platform) == (["work"], {"cpu_limit": 2}, "d", src.platform)
    assert [a.name for a in b.apps.list("dev2")] == ["VLC"]
    assert [a["name"] for a in manifest_of(clone)["app_instances"]] == ["VLC"]
    # size_bytes is the apparent size: files, link targets, a hardlinked file once (the native
    # clone keeps hardlinks, the fallback copy does not)
    hardlinked = os.stat(root / "data.txt").st_ino == os.stat(root / "hardlink.txt").st_ino
    assert clone.size_bytes == 5004 + 5 + len("/etc") + (0 if hardlinked else 5)
    assert seen == sorted(seen) and seen[-1] >= 50
    assert b.containers.get("dev").status == ContainerStatus.READY


def test_clone_runs_its_steps_before_and_after_the_tree_is_cloned_inside_the_task(b):
    src = b.containers.create("dev")
    calls = []

    def step(ctx, source_id):
        calls.append(("before", ctx.type, source_id, list(b.home.containers.iterdir())))

        def after(ctx, container_id):
            with b.catalogue.session_scope(write=False) as s:
                from bodega.catalogue.models import Container

                calls.append(("after", ctx.type, s.get(Container, container_id).status,
                              (b.home.container_dir(container_id) / "root").is_dir()))
        return after

    b.containers.clone_steps.append(step)
    b.containers.clone_steps.append(lambda ctx, source_id: None)  # nothing to do after
    b.containers.clone("dev", "dev2")
    assert calls == [("before", "container.clone", src.id, [b.home.container_dir(src.id)]),
                     ("after", "container.clone", ContainerStatus.CREATING, True)]


def test_a_clone_that_fails_leaves_no_container_and_no_staging(b):
    src = b.containers.create("dev")
    (Path(src.storage_path) / "root").rename(Path(src.storage_path) / "elsewhere")  # a tree gone missing
    with pytest.raises(errors.PathNotFound, match="root"):
        b.containers.clone("dev", "dev2")
    assert [c.name for c in b.containers.list()] == ["dev"]
    assert [p.name for p in b.home.containers.iterdir()] == [str(src.id)]
    assert list(b.home.tmp.iterdir()) == []
    task = b.tasks.list(type="container.clone")[0]
    assert task.status.value == "failed" and task.error["type"] == "PathNotFound"


def test_a_clone_skips_special_files_and_says_so(b):
    src = b.containers.create("dev")
    os.mkfifo(Path(src.storage_path) / "root" / "pipe")
    (Path(src.storage_path) / "root" / "kept").write_text("data")
    clone = b.containers.clone("dev", "dev2")
    root = Path(clone.storage_path) / "root"
    assert (root / "kept").read_text() == "data" and not (root / "pipe").exists()
    task = b.tasks.list(type="container.clone")[0]
    assert any("skipped 1 special files" in line and "pipe" in line for line in task.result["log"])


def test_clone_refuses_a_container_that_is_not_ready(b):
    b.containers.create("dev", detach=True)  # queued: the container stays `creating` until an agent runs it
    with pytest.raises(errors.WrongStatus, match="creating"):
        b.containers.clone("dev", "dev2")
    assert [c.name for c in b.containers.list()] == ["dev"]


def test_an_empty_catalogue_plus_the_containers_directory_gives_back_the_containers(home):
    with bodega.open(home) as b:
        dev = b.containers.create("dev", tags=["work"], settings={"cpu_limit": 2}, description="mine")
        make_tree(Path(dev.storage_path) / "root")
        app = b.apps.record("dev", "VLC", version="3.0", entry_points=[{"name": "vlc", "command": "bin/app"}],
                            status="ready", install_path="apps/vlc")
        full = b.snapshots.record("dev", type="full", checksum_manifest="aa" * 32, label="first")
        delta = b.snapshots.record("dev", type="delta", base_snapshot_id=full.id, checksum_manifest="bb" * 32)
        b.containers.create("other")
        b.containers.archive("other")
        before = {c.name: c for c in b.containers.list()}
    lose_catalogue(home)  # the catalogue is lost; the containers directory is not
    with bodega.open(home) as b:
        assert b.containers.list() == []
        recovered = b.containers.recover(home / "containers")
        assert sorted(c.name for c in recovered) == ["dev", "other"]
        after = {c.name: c for c in b.containers.list()}
        for name, old in before.items():
            new = after[name]
            assert (new.id, new.tags, new.settings, new.status, new.description, new.platform, new.storage_path) == (
                old.id, old.tags, old.settings, old.status, old.description, old.platform, old.storage_path)
            assert new.created_at == old.created_at
        assert after["dev"].size_bytes == 5004 + 5 + len("/etc")  # measured by the recover task
        apps = b.apps.list("dev")
        assert [(a.id, a.name, a.version, a.install_path, a.status) for a in apps] == [
            (app.id, "VLC", "3.0", "apps/vlc", AppStatus.READY)]
        snaps = b.snapshots.list("dev")
        assert {(s.id, s.type, s.base_snapshot_id) for s in snaps} == {
            (full.id, SnapshotType.FULL, None), (delta.id, SnapshotType.DELTA, full.id)}
        assert b.containers.recover(home / "containers") == []  # nothing left to recover
        with pytest.raises(errors.ContainerExists):
            b.containers.recover(home / "containers" / str(before["dev"].id))


def test_recover_moves_an_outside_container_into_the_home_and_can_rename(b, tmp_path):
    d = write_container_dir(tmp_path, "12345678-0000-4000-8000-000000000009", "dev", tags=["x"])
    b.containers.create("dev")
    with pytest.raises(errors.NameTaken):
        b.containers.recover(d)
    assert d.is_dir()  # a failed recover leaves the directory where it was
    [c] = b.containers.recover(d, name="dev-old")
    assert (c.name, c.tags) == ("dev-old", ["x"])
    assert Path(c.storage_path) == b.home.containers / "12345678-0000-4000-8000-000000000009"
    assert not d.exists() and (Path(c.storage_path) / "root").is_dir()
    assert json.loads((Path(c.storage_path) / "manifest.json").read_text())["container"]["name"] == "dev-old"


@pytest.mark.parametrize("content, why", [
    (None, "no manifest.json in it"),
    ("{not json", "is not valid JSON: Expecting property name"),
    ('{"schema_version": 9}', "schema_version"),
    ('{"schema_version": 1, "container_id": "nope", "container": {}}', "not a UUID"),
    ('{"schema_version": 1, "container_id": "12345678-0000-4000-8000-000000000009", "container": {"name": "x"}}',
     "container.platform"),
])
def test_recover_refuses_a_bad_manifest(b, tmp_path, content, why):
    d = tmp_path / "c"
    d.mkdir()
    if content is not None:
        (d / "manifest.json").write_text(content)
    with pytest.raises(errors.ContainerManifestInvalid, match=why):
        b.containers.recover(d)
    assert b.containers.list() == []


def test_recover_of_a_missing_path_is_path_not_found(b, tmp_path):
    with pytest.raises(errors.PathNotFound):
        b.containers.recover(tmp_path / "nothing")


def test_recover_refuses_an_unknown_platform(b, tmp_path):
    d = write_container_dir(tmp_path, "12345678-0000-4000-8000-00000000000a", "dev", platform="amiga-68k")
    with pytest.raises(errors.ContainerManifestInvalid, match="amiga"):
        b.containers.recover(d)
    assert d.is_dir() and b.containers.list() == []


def test_usage_reports_apparent_and_allocated_bytes(b):
    c = b.containers.create("dev")
    root = Path(c.storage_path) / "root"
    (root / "dense").write_bytes(os.urandom(1 << 20))
    with open(root / "sparse", "wb") as f:
        f.truncate(64 << 20)
    os.link(root / "dense", root / "dense-again")
    [u] = b.containers.usage(["dev"])
    manifest_size = (Path(c.storage_path) / "manifest.json").stat().st_size
    assert u.usage.files == 3  # the hardlink counts once; manifest.json is the third
    assert u.usage.apparent_bytes == (1 << 20) + (64 << 20) + manifest_size
    assert (1 << 20) <= u.usage.allocated_bytes < (8 << 20)  # the sparse file allocates (almost) nothing


@pytest.mark.parametrize("system, machine, expected", [
    ("linux", "x86_64", "linux-x64"),
    ("win32", "AMD64", "windows-x64"),
    ("win32", "ARM64", "windows-arm64"),
    ("linux", "aarch64", None),
    ("darwin", "arm64", None),
])
def test_the_platform_comes_from_the_host(monkeypatch, system, machine, expected):
    from bodega.services import containers

    monkeypatch.setattr(containers.sys, "platform", system)
    monkeypatch.setattr(containers.host, "machine", lambda: machine)
    if expected is None:
        with pytest.raises(errors.NotSupported, match=machine):
            containers.host_platform()
    else:
        assert containers.host_platform().value == expected


def test_a_finished_task_returns_its_container_even_when_another_process_deletes_it_at_once(b, monkeypatch):
    # Another process may delete or rename the container as soon as the task commits; the
    # caller still gets the container its task made (it used to read it again: ContainerNotFound).
    from contextlib import contextmanager

    from bodega.services import tasks as task_engine

    real_finish = task_engine.TaskContext.finish
    raced = []

    @contextmanager
    def finish_then_delete(ctx):
        with real_finish(ctx) as s:
            yield s
        if ctx.payload.get("name") == "dev" or ctx.payload.get("add") == ["t2"]:
            with bodega.open(b.home.root) as other:
                other.containers.delete(str(ctx.container_id))
            raced.append(ctx.container_id)

    monkeypatch.setattr(task_engine.TaskContext, "finish", finish_then_delete)
    c = b.containers.create("dev", tags=["t"])
    assert raced == [c.id]  # the delete landed between the commit and the return
    assert (c.name, c.tags, c.status) == ("dev", ["t"], ContainerStatus.READY)
    d = b.containers.create("other")
    tagged = b.containers.tag("other", add=["t2"])
    assert raced == [c.id, d.id] and tagged.tags == ["t2"] and tagged.id == d.id
    with pytest.raises(errors.ContainerNotFound):
        b.containers.get(str(d.id))
