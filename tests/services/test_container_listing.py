"""services/container_listing.py: the list read straight from the catalogue file equals the
one an opened home gives, for every user and filter; whenever opening the home would do
something first (create, upgrade, recover), the direct read stands aside."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from datetime import datetime, timezone

import pytest

import bodega
from bodega import errors
from bodega.catalogue.models import TaskStatus
from bodega.home import Home
from bodega.services.container_listing import list_containers, read_directly
from bodega.services.pending_restores import PendingRestores
from bodega.storage.journal import Journals

FILTERS = [{}, {"all_users": True}, {"tag": "work"}, {"tag": "work", "all_users": True}, {"status": "archived"},
           {"status": "ready", "all_users": True}, {"tag": "absent"}]


def act_as(monkeypatch, login: str) -> str:
    """Makes the local OS user `login` (getpass reads $LOGNAME first); returns their email."""
    monkeypatch.setenv("LOGNAME", login)
    return f"{login}@localhost"


def direct(home, **filters):
    return read_directly(Home.at(home), tag=filters.get("tag"), status=filters.get("status"),
                         all_users=filters.get("all_users", False))


def opened_list(home, email, **filters):
    with bodega.open(home, user=email) as b:
        return b.containers.list(**filters)


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def set_task(home, task_id: uuid.UUID, **columns) -> None:
    """Changes a task's row behind the services' back, as a process that died would leave it."""
    with sqlite3.connect(home / "bodega.db") as db:
        sets = ", ".join(f"{k} = ?" for k in columns)
        db.execute(f"UPDATE tasks SET {sets} WHERE id = ?", (*columns.values(), task_id.hex))


@pytest.fixture
def users(home, b, monkeypatch):
    """The local owner's containers, an operator's (one of the same name), a viewer with a share."""
    b.containers.create("dev", tags=["work", "nightly"], settings={"cpu_limit": 2})
    b.containers.create("lab", tags=["work"], description="lab bench")
    b.containers.archive("lab")
    b.containers.create("zeta")
    b.users.create("ana@localhost", role="operator")
    b.users.create("vic@localhost", role="viewer")
    b.users.create("bob@localhost", role="operator")
    with bodega.open(home, user="ana@localhost") as ana:
        ana.containers.create("dev", tags=["work"])
        ana.containers.create("ana-only")
    with bodega.open(home, user="bob@localhost") as bob:
        bob.containers.create("bobs", tags=["work"])
        bob.shares.share("bobs", "ana@localhost", "viewer")
    b.shares.share("lab", "vic@localhost", "viewer")
    return {"owner": b.user.email.split("@")[0], "operator": "ana", "viewer": "vic"}


@pytest.mark.parametrize("who", ["owner", "operator", "viewer"])
@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()) or "none")
def test_the_direct_read_equals_the_opened_homes_list(home, users, monkeypatch, who, filters):
    email = act_as(monkeypatch, users[who])
    found = direct(home, **filters)
    assert found is not None  # read directly: nothing to do at open
    assert found == opened_list(home, email, **filters)
    assert list_containers(home, **filters) == found


def test_visibility_differs_by_user_and_the_direct_read_follows_it(home, users, monkeypatch):
    seen = {}
    for who, login in users.items():
        act_as(monkeypatch, login)
        seen[who] = [(c.name, c.owner_email) for c in direct(home, all_users=True)]
    assert ("bobs", "bob@localhost") in seen["owner"] and len(seen["owner"]) == 6
    assert seen["operator"] == [("ana-only", "ana@localhost"), ("bobs", "bob@localhost"), ("dev", "ana@localhost")]
    assert seen["viewer"] == [("lab", f"{users['owner']}@localhost")]
    act_as(monkeypatch, users["owner"])
    [dev] = [c for c in direct(home) if c.name == "dev"]
    assert dev.tags == ["nightly", "work"] and dev.settings == {"cpu_limit": 2}
    assert dev.created_at.tzinfo == timezone.utc


def test_a_home_without_a_catalogue_is_created_by_opening_it(home):
    assert direct(home) is None
    assert list_containers(home) == []
    assert (home / "bodega.db").is_file()
    assert direct(home) == []


def test_a_local_user_not_yet_in_the_catalogue_is_created_by_opening_it(home, b, monkeypatch):
    b.containers.create("dev")
    email = act_as(monkeypatch, "newcomer")
    assert direct(home) is None
    assert list_containers(home) == []
    assert b.users.get(email).role.value == "owner"  # created at open, as the first use of any command
    assert [c.name for c in direct(home, all_users=True)] == ["dev"]


def test_a_catalogue_server_is_always_opened(home, b, monkeypatch):
    b.containers.create("dev")
    monkeypatch.setenv("BODEGA_DATABASE_URL", f"sqlite:///{home / 'bodega.db'}")
    assert direct(home) is None
    assert [c.name for c in list_containers(home)] == ["dev"]


def test_an_older_schema_is_upgraded_by_opening_it(home, b):
    b.containers.create("dev")
    b.catalogue.downgrade("0005_users_auth")
    assert direct(home) is None
    assert [c.name for c in list_containers(home)] == ["dev"]
    assert [c.name for c in direct(home)] == ["dev"]  # upgraded at that open


def test_a_task_whose_process_died_is_recovered_before_listing(home, b):
    b.containers.create("dev")
    [task] = b.tasks.list()
    set_task(home, task.id, status="running", owner_host=b.host, owner_pid=dead_pid(),
             heartbeat_at=datetime.now(timezone.utc).replace(tzinfo=None).isoformat(sep=" "), finished_at=None)
    assert direct(home) is None
    listed = list_containers(home)  # opened: recovery ran first
    assert b.tasks.get(task.id).status == TaskStatus.FAILED
    assert listed == b.containers.list()
    assert direct(home) == listed


def test_a_task_running_in_a_live_process_does_not_stop_the_direct_read(home, b):
    b.containers.create("dev")
    [task] = b.tasks.list()
    set_task(home, task.id, status="running", owner_host=b.host, owner_pid=os.getpid(),
             heartbeat_at=datetime.now(timezone.utc).replace(tzinfo=None).isoformat(sep=" "), finished_at=None)
    assert direct(home) == b.containers.list()


def test_a_stale_heartbeat_from_another_host_is_recovered_before_listing(home, b, monkeypatch):
    b.containers.create("dev")
    [task] = b.tasks.list()
    set_task(home, task.id, status="running", owner_host="elsewhere", owner_pid=os.getpid(),
             heartbeat_at="2000-01-01 00:00:00.000000", finished_at=None)
    assert direct(home) is None
    list_containers(home)
    assert b.tasks.get(task.id).status == TaskStatus.FAILED


def test_an_app_run_whose_process_died_is_closed_before_listing(home, b):
    dev = b.containers.create("dev")
    assert direct(home) is not None
    # The row `bodega run` writes when it starts (foreign keys are off on this connection: no app needed).
    with sqlite3.connect(home / "bodega.db") as db:
        db.execute("INSERT INTO app_runs (id, app_instance_id, container_id, entry, owner_host, owner_pid, signal, "
                   "crashed, timed_out, memory_killed, seconds, peak_memory, created_at) "
                   "VALUES (?, ?, ?, 'x', ?, ?, 0, 0, 0, 0, 0, 0, '2026-01-01 00:00:00.000000')",
                   (uuid.uuid4().hex, uuid.uuid4().hex, dev.id.hex, b.host, dead_pid()))
    assert direct(home) is None
    with sqlite3.connect(home / "bodega.db") as db:
        db.execute("UPDATE app_runs SET owner_pid = ?", (os.getpid(),))
    assert direct(home) == b.containers.list()  # its process lives: nothing to close


def test_a_restore_marker_or_a_store_journal_means_opening_the_home(home, b):
    dev = b.containers.create("dev")
    assert direct(home) is not None
    marker = PendingRestores.of(Home.at(home))
    marker.mark(dev.id, uuid.uuid4())
    assert direct(home) is None
    marker.unmark(dev.id)
    assert direct(home) is not None
    journals = Journals(home / "store")
    journals.dir.mkdir(exist_ok=True)
    (journals.dir / "t.json").write_text("{}")
    assert journals.present()
    assert direct(home) is None


def test_staging_that_no_running_task_owns_means_opening_the_home(home, b, monkeypatch):
    """A crash after a task ended, before its staging went: the next start sweeps it (found by the kill sweep)."""
    b.containers.create("dev")
    [task] = b.tasks.list()
    staging = Home.at(home).staging_dir(task.id)
    staging.mkdir(parents=True)
    (Home.at(home).tmp / "not-a-task").mkdir()  # other names under tmp/ are not staging
    set_task(home, task.id, status="running", owner_host=b.host, owner_pid=os.getpid(),
             heartbeat_at=datetime.now(timezone.utc).replace(tzinfo=None).isoformat(sep=" "), finished_at=None)
    assert direct(home) == b.containers.list()  # its task runs: the staging is in use
    set_task(home, task.id, status="succeeded", finished_at="2000-01-01 00:00:00.000000")
    assert direct(home) is None
    listed = list_containers(home)  # opened: the sweep removed the staging
    assert not staging.exists()
    assert direct(home) == listed


def test_a_damaged_catalogue_is_reported_as_opening_it_reports_it(home, b):
    b.containers.create("dev")
    b.close()
    for f in home.glob("bodega.db*"):
        f.unlink()
    (home / "bodega.db").write_bytes(b"not a database, " * 512)
    assert direct(home) is None
    with pytest.raises(errors.CatalogueError):
        list_containers(home)


def test_a_tag_that_is_not_text_is_refused_like_the_service_refuses_it(home, b):
    with pytest.raises(errors.InvalidInput, match="tag"):
        list_containers(home, tag="\udcff")
    with pytest.raises(errors.InvalidInput, match="tag"):
        b.containers.list(tag="\udcff")


def test_a_column_the_models_could_not_read_is_left_to_an_opened_home(home, b):
    b.containers.create("dev")
    assert direct(home) is not None
    with sqlite3.connect(home / "bodega.db") as db:
        db.execute("PRAGMA ignore_check_constraints = ON")
        db.execute("UPDATE containers SET platform = 'amiga-68k'")
    assert direct(home) is None
    with sqlite3.connect(home / "bodega.db") as db:
        db.execute("PRAGMA ignore_check_constraints = ON")
        db.execute("UPDATE containers SET platform = 'linux-x64'")
        db.execute("UPDATE users SET role = 'emperor'")
    assert direct(home) is None


def test_a_home_path_the_system_refuses_is_reported_as_opening_it_reports_it(tmp_path):
    too_long = tmp_path / ("x" * 300)
    assert direct(too_long) is None
    with pytest.raises(errors.BodegaError) as raised:
        list_containers(too_long)
    assert "too long" in str(raised.value).lower()
