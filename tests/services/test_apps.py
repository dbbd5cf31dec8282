"""Seed rule 4: an app that is ready has at least one entry point."""
from __future__ import annotations

import uuid

import pytest

from bodega import errors
from bodega.catalogue.models import AppInstance, AppStatus

VLC = {"name": "vlc", "command": "bin/vlc", "icon": "share/vlc.png", "options": {"args": ["--intf", "qt"]}}


def test_a_ready_app_with_an_entry_point_is_recorded(b):
    b.containers.create("dev")
    app = b.apps.record("dev", "VLC", version="3.0.20", vendor="VideoLAN", install_source="/tmp/vlc.zip",
                        entry_points=[VLC], status="ready")
    assert (app.status, app.entry_points) == (AppStatus.READY, [VLC])


def test_a_ready_app_without_entry_points_is_refused(b):
    b.containers.create("dev")
    with pytest.raises(errors.EntryPointRequired):
        b.apps.record("dev", "VLC", status="ready")
    assert b.apps.list("dev") == []


def test_an_installing_app_becomes_ready_only_with_an_entry_point(b):
    b.containers.create("dev")
    app = b.apps.record("dev", "VLC")
    with pytest.raises(errors.EntryPointRequired):
        b.apps.set_status(app.id, "ready")
    assert b.apps.list("dev")[0].status == AppStatus.INSTALLING
    ready = b.apps.set_status(app.id, "ready", entry_points=[VLC])
    assert ready.status == AppStatus.READY
    with pytest.raises(errors.EntryPointRequired):
        b.apps.set_status(app.id, "ready", entry_points=[])


@pytest.mark.parametrize("entry_point", [{"name": "x"}, {"command": "x"}, {"name": "", "command": "x"}, "vlc",
                                         {"name": "x", "command": "y", "options": []}])
def test_malformed_entry_points_are_refused(b, entry_point):
    b.containers.create("dev")
    with pytest.raises(errors.InvalidInput):
        b.apps.record("dev", "VLC", entry_points=[entry_point])


def test_the_database_refuses_a_ready_app_without_entry_points(b):
    c = b.containers.create("dev")
    with pytest.raises(errors.EntryPointRequired), b.catalogue.session_scope() as s:
        s.add(AppInstance(id=uuid.uuid4(), container_id=c.id, name="x", status=AppStatus.READY, entry_points=[]))


def test_an_unknown_app_is_not_found(b):
    with pytest.raises(errors.NotFound):
        b.apps.set_status(uuid.uuid4(), "disabled")
