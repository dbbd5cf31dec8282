"""Shares: a user sees their containers and those shared with them; a viewer share reads only."""
from __future__ import annotations

import pytest

import bodega
from bodega import errors


@pytest.fixture
def ana(home, b):
    b.users.create("ana@example.org", role="operator")
    with bodega.open(home, user="ana@example.org") as opened:
        yield opened


def test_another_users_container_is_not_found_until_shared(b, ana):
    mine = b.containers.create("dev")
    for ref in ("dev", str(mine.id), str(mine.id)[:8]):
        with pytest.raises(errors.ContainerNotFound):
            ana.containers.get(ref)
    assert ana.containers.list(all_users=True) == []
    assert ana.tasks.list() == [] and all(e.container_id is None for e in ana.events.list())
    b.shares.share("dev", "ana@example.org", "viewer")
    assert ana.containers.get("dev").id == mine.id
    assert [c.name for c in ana.containers.list()] == ["dev"]
    assert ana.tasks.list() and any(e.container_id == mine.id for e in ana.events.list())


def test_a_viewer_share_reads_but_cannot_operate(b, ana):
    b.containers.create("dev")
    b.shares.share("dev", "ana@example.org", "viewer")
    tasks_before = len(b.tasks.list())
    with pytest.raises(errors.Forbidden, match="only view"):
        ana.snapshots.create("dev")
    assert len(b.tasks.list()) == tasks_before
    b.shares.share("dev", "ana@example.org", "operator")
    snap = ana.snapshots.create("dev")
    assert snap.container_id == b.containers.get("dev").id


def test_delete_and_forget_stay_with_the_owning_user(b, ana):
    b.containers.create("dev")
    b.snapshots.create("dev")
    b.shares.share("dev", "ana@example.org", "operator")
    with pytest.raises(errors.Forbidden, match="owns container"):
        ana.containers.delete("dev")
    with pytest.raises(errors.Forbidden):
        ana.shares.share("dev", "ana@example.org", "operator")
    assert b.containers.get("dev").name == "dev"


def test_a_share_never_exceeds_the_users_role(home, b):
    b.users.create("vic@example.org", role="viewer")
    b.containers.create("dev")
    b.shares.share("dev", "vic@example.org", "operator")
    with bodega.open(home, user="vic@example.org") as vic:
        with pytest.raises(errors.Forbidden):
            vic.snapshots.create("dev")


def test_share_bad_input(b, ana):
    b.containers.create("dev")
    with pytest.raises(errors.InvalidInput, match="viewer or operator"):
        b.shares.share("dev", "ana@example.org", "owner")
    with pytest.raises(errors.UserNotFound):
        b.shares.share("dev", "nobody@example.org", "viewer")
    with pytest.raises(errors.InvalidInput, match="owns"):
        b.shares.share("dev", b.user.email, "viewer")
    with pytest.raises(errors.NotFound):
        b.shares.unshare("dev", "ana@example.org")
    assert b.shares.list("dev") == []


def test_unshare_hides_it_again(b, ana):
    b.containers.create("dev")
    b.shares.share("dev", "ana@example.org", "viewer")
    b.shares.unshare("dev", "ana@example.org")
    with pytest.raises(errors.ContainerNotFound):
        ana.containers.get("dev")
