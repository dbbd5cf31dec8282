"""services/snapshot_diff.py: the live diff read straight from the catalogue file equals the one
an opened home gives, for every user and way of naming the container; whenever only the
opened home can answer (another reference, no snapshot, the store needed, a setting by hand),
the direct read stands aside and the ordinary path answers, or raises the usual error."""
from __future__ import annotations

from pathlib import Path

import pytest

import bodega
from bodega import errors
from bodega.home import Home
from bodega.services.snapshot_diff import diff, live_diff


def act_as(monkeypatch, login: str) -> str:
    """Makes the local OS user `login` (getpass reads $LOGNAME first); returns their email."""
    monkeypatch.setenv("LOGNAME", login)
    return f"{login}@localhost"


def tree(b, name: str) -> Path:
    return Path(b.containers.get(name).storage_path) / "root"


def changed(root: Path) -> None:
    """An edit, an addition and a removal in a tree written by filled()."""
    (root / "a.txt").write_text("edited")
    (root / "new.txt").write_text("new")
    (root / "sub" / "b.txt").unlink()


def filled(b, name: str) -> Path:
    root = tree(b, name)
    (root / "sub").mkdir()
    (root / "a.txt").write_text("a")
    (root / "sub" / "b.txt").write_text("b")
    return root


def opened_diff(home, email, ref, old=None):
    with bodega.open(home, user=email) as b:
        return b.snapshots.diff(ref, old).to_json()


@pytest.fixture
def users(home, b):
    """The local owner's "dev" (snapshot taken, then changed), an operator's own "dev" and a
    container shared with the operator, a viewer with a share of the owner's "lab"."""
    for name in ("dev", "lab"):
        filled(b, b.containers.create(name).name)
        b.snapshots.create(name)
        changed(tree(b, name))
    b.users.create("ana@localhost", role="operator")
    b.users.create("vic@localhost", role="viewer")
    b.users.create("bob@localhost", role="operator")
    with bodega.open(home, user="ana@localhost") as ana:
        filled(ana, ana.containers.create("dev").name)
        ana.snapshots.create("dev")
        (tree(ana, "dev") / "a.txt").write_text("ana's")
    with bodega.open(home, user="bob@localhost") as bob:
        filled(bob, bob.containers.create("bobs").name)
        bob.snapshots.create("bobs")
        changed(tree(bob, "bobs"))
        bob.shares.share("bobs", "ana@localhost", "viewer")
    b.shares.share("lab", "vic@localhost", "viewer")
    return {"owner": b.user.email.split("@")[0], "operator": "ana", "viewer": "vic"}


def ids(b) -> dict[str, str]:
    return {f"{c.name}@{c.owner_email.split('@')[0]}": str(c.id) for c in b.containers.list(all_users=True)}


@pytest.mark.parametrize("who, ref", [("owner", "dev"), ("owner", "lab"), ("owner", "dev@ana:id"),
                                      ("owner", "bobs@bob:prefix"), ("operator", "dev"), ("operator", "bobs"),
                                      ("operator", "bobs@bob:id"), ("viewer", "lab"), ("viewer", "LAB@OWNER:prefix")])
def test_the_direct_diff_equals_the_opened_homes(home, b, users, monkeypatch, who, ref):
    if ":" in ref:  # a container named by its whole id or a prefix of it (any case)
        key, how = ref.split(":")
        name, owner = key.lower().split("@")
        whole = ids(b)[f"{name}@{users.get(owner, owner)}"]
        ref = whole if how == "id" else whole[:8].upper() if key.isupper() else whole[:8]
    email = act_as(monkeypatch, users[who])
    found = live_diff(Home.at(home), ref)
    assert found is not None  # read directly: nothing to do at open
    assert found.to_json() == opened_diff(home, email, ref)
    assert found.to_json()["changes"]  # the trees did change: the test compares something
    assert diff(home, ref).to_json() == found.to_json()


@pytest.mark.parametrize("who, ref, error", [
    ("owner", "nothing", errors.ContainerNotFound),
    ("viewer", "dev", errors.ContainerNotFound),             # not shared with them
    ("operator", "lab", errors.ContainerNotFound),
    ("owner", "0000", errors.ContainerNotFound),             # reads as an id: no container has it
])
def test_a_reference_the_direct_read_cannot_resolve_gets_the_usual_error(home, users, monkeypatch, who, ref,
                                                                          error):
    act_as(monkeypatch, users[who])
    assert live_diff(Home.at(home), ref) is None
    with pytest.raises(error):
        diff(home, ref)


def test_a_name_two_shared_containers_have_is_ambiguous_as_usual(home, b, users, monkeypatch):
    with bodega.open(home, user="bob@localhost") as bob:
        bob.shares.share("bobs", "vic@localhost", "viewer")
    with bodega.open(home, user="ana@localhost") as ana:
        filled(ana, ana.containers.create("bobs").name)
        ana.snapshots.create("bobs")
        ana.shares.share("bobs", "vic@localhost", "viewer")
    act_as(monkeypatch, "vic")
    assert live_diff(Home.at(home), "bobs") is None
    with pytest.raises(errors.AmbiguousReference):
        diff(home, "bobs")


def test_a_container_without_a_snapshot_gets_the_usual_error(home, b):
    b.containers.create("bare")
    assert live_diff(Home.at(home), "bare") is None
    with pytest.raises(errors.SnapshotNotFound):
        diff(home, "bare")


def test_against_an_older_snapshot_the_store_is_read_by_the_opened_home(home, b):
    root = filled(b, b.containers.create("dev").name)
    first = b.snapshots.create("dev")
    changed(root)
    b.snapshots.create("dev")
    b.snapshots.restore("dev", str(first.id))  # the live manifest is the first's: not the newest
    (root / "later.txt").write_text("x")
    assert live_diff(Home.at(home), "dev") is None
    assert diff(home, "dev").to_json() == b.snapshots.diff("dev").to_json()
    assert {c["path"] for c in diff(home, "dev").to_json()["changes"]} >= {"later.txt", "new.txt"}


def test_old_or_new_given_or_threads_set_by_hand_open_the_home(home, b, monkeypatch):
    root = filled(b, b.containers.create("dev").name)
    first = b.snapshots.create("dev")
    changed(root)
    assert live_diff(Home.at(home), "dev") is not None
    assert diff(home, "dev", str(first.id)).to_json() == b.snapshots.diff("dev", str(first.id)).to_json()
    b.settings.set("tune.hash_threads", 2)
    assert live_diff(Home.at(home), "dev") is None
    assert diff(home, "dev").to_json() == b.snapshots.diff("dev").to_json()
    monkeypatch.setenv("BODEGA_DATABASE_URL", f"sqlite:///{home / 'bodega.db'}")
    b.settings.set("tune.hash_threads", None)
    assert live_diff(Home.at(home), "dev") is None  # a catalogue server is always opened


def test_a_grown_file_is_shown_with_the_hash_of_its_bytes_on_every_path(home, b):
    """A file whose size changed is left unread by the live diff until its hash is shown: then
    it is read, whether the live manifest is the old side or the store's snapshot is."""
    root = filled(b, b.containers.create("dev").name)
    first = b.snapshots.create("dev")
    (root / "c.txt").write_text("c")
    b.snapshots.create("dev")  # the live manifest is the newest snapshot's, not the first's
    (root / "a.txt").write_text("a, and more")
    digest = bodega.manifest.build(root).get("a.txt").hash.hex()
    for d in (diff(home, "dev"), b.snapshots.diff("dev"), b.snapshots.diff("dev", str(first.id))):
        assert d.to_text().splitlines()[0] == "M  a.txt"
        change = d.to_json()["changes"][0]
        assert change["path"] == "a.txt" and change["new"]["hash"] == digest and change["old"]["hash"] != digest
