"""Ids and names cannot be confused: a reference that reads as an id is an id, names never read as one."""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from bodega import errors
from bodega.catalogue.models import Container
from bodega.services.id_prefix import looks_like_id


@pytest.mark.parametrize("ref, expected", [
    ("cafe", True), ("CAFE", True), ("2024", True), ("dead-beef", True), (str(uuid.uuid4()), True),
    (uuid.uuid4().hex, True), (" abcd ", True), (uuid.uuid4(), True),
    ("abc", False), ("caff", True), ("cafg", False), ("dev", False), ("", False), ("----", False),
    ("a" * 33, False), ("12 34", False), ("ｃａｆｅ", False), (None, False), (1234, False),
])
def test_what_reads_as_an_id(ref, expected):
    assert looks_like_id(ref) is expected


@pytest.mark.parametrize("name", ["beef", "2024", "Dead-Beef", "0123456789abcdef0123456789abcdef"])
def test_a_name_that_reads_as_an_id_is_refused_everywhere_a_name_is_given(b, tmp_path, name):
    src = b.containers.create("src")
    with pytest.raises(errors.InvalidName, match="reads as an id"):
        b.containers.create(name)
    with pytest.raises(errors.InvalidName, match="reads as an id"):
        b.containers.edit("src", name=name)
    with pytest.raises(errors.InvalidName, match="reads as an id"):
        b.containers.clone("src", name)
    assert [c.name for c in b.containers.list()] == ["src"] and b.containers.get(src.id).name == "src"


def test_another_containers_id_or_its_prefix_cannot_be_a_name(b):
    a = b.containers.create("a")
    for name in (str(a.id), str(a.id)[:8], str(a.id).upper(), a.id.hex[:12]):
        with pytest.raises(errors.InvalidName):
            b.containers.create(name)


def _rename_behind_the_services_back(b, container_id: uuid.UUID, name: str) -> None:
    """A name given before the rule existed (or written into the catalogue by hand)."""
    with b.catalogue.session_scope() as s:
        s.execute(sa.update(Container).where(Container.id == container_id).values(name=name))


@pytest.mark.parametrize("shadow", ["id", "prefix"])
def test_delete_by_id_never_deletes_a_container_named_like_that_id(b, shadow):
    """The issue's scenario: B named with A's id (or its prefix); `delete <A's id>` deleted B."""
    a = b.containers.create("a")
    ref = str(a.id) if shadow == "id" else str(a.id)[:8]
    other = b.containers.create("other")
    _rename_behind_the_services_back(b, other.id, ref)
    assert b.containers.get(ref).id == a.id
    b.containers.delete(ref)
    assert [c.id for c in b.containers.list()] == [other.id]  # a is gone, the one named like it stays


def test_an_id_like_name_without_its_id_says_how_to_reach_it(b):
    c = b.containers.create("dev")
    _rename_behind_the_services_back(b, c.id, "cafe")
    with pytest.raises(errors.ContainerNotFound, match=f"reached by its id {c.id}"):
        b.containers.get("cafe")
    assert b.containers.edit(c.id, name="cafe-au-lait").name == "cafe-au-lait"


def test_recover_refuses_a_manifest_whose_name_reads_as_an_id_unless_renamed(b, tmp_path):
    from services.test_containers import write_container_dir

    d = write_container_dir(tmp_path / "old", str(uuid.uuid4()), "c0ffee")
    with pytest.raises(errors.InvalidName, match="reads as an id"):
        b.containers.recover(d)
    assert [c.name for c in b.containers.recover(d, name="coffee")] == ["coffee"]
