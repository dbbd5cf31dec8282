"""`import bodega` stays light; `bodega.open()` gives the typed services end to end."""
from __future__ import annotations

import subprocess
import sys

import bodega

from subprocesses import SRC


def test_import_bodega_does_not_load_the_catalogue():
    code = "import sys, bodega; print('sqlalchemy' in sys.modules, 'bodega.services' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": SRC}, capture_output=True, text=True)
    assert out.stdout.split() == ["False", "False"], out.stderr


def test_open_create_list_clone_delete_and_events(home):
    with bodega.open() as b:  # BODEGA_HOME from the home fixture
        assert b.home.root == home
        b.containers.create("dev")
        b.containers.clone("dev", "dev2")
        assert [c.name for c in b.containers.list()] == ["dev", "dev2"]
        b.containers.delete("dev2")
        assert [c.name for c in b.containers.list()] == ["dev"]
        assert any(e.message.endswith("container dev2 deleted") for e in b.events.list())
    assert isinstance(b, bodega.Bodega)


def test_unknown_attributes_still_raise():
    try:
        bodega.nothing_here  # noqa: B018
    except AttributeError as e:
        assert "nothing_here" in str(e)
    else:
        raise AssertionError("bodega.nothing_here did not raise")
