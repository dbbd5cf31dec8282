"""bodega-app.json: fields, entry points with default args, and clear refusals."""
from __future__ import annotations

import pytest

from bodega import errors
from bodega.storage.app_manifest import parse_app_manifest


def test_fields_and_entry_points():
    m = parse_app_manifest(b'{"name": "VLC", "version": "3.0", "platform": "linux-x64", '
                           b'"entry_points": [{"name": "vlc", "command": "bin/vlc", "icon": "i.png", "args": ["-q"]}]}')
    assert (m.name, m.version, m.platform) == ("VLC", "3.0", "linux-x64")
    assert m.entry_points == [{"name": "vlc", "command": "bin/vlc", "icon": "i.png", "options": {"args": ["-q"]}}]


@pytest.mark.parametrize("bad", [b"not json", b"[]", b'{"name": 3}', b'{"platform": "amiga"}',
                                 b'{"entry_points": {}}', b'{"entry_points": [{"name": "x", "args": "y"}]}',
                                 b"[" * 100_000])
def test_bad_manifests_are_refused(bad):
    with pytest.raises(errors.InvalidInput):
        parse_app_manifest(bad)


@pytest.mark.parametrize("bad", [b'{"name": "\\ud800"}', b'{"entry_points": [{"name": "a", "command": "b", '
                                 b'"options": {"level": NaN}}]}', b'{"name": "a", "name": "b"}',
                                 b'{"entry_points": [{"name": "a", "command": "b", "icon": "\\udfff.png"}]}'])
def test_what_json_cannot_store_is_refused(bad):
    """Found by tests/fuzz/fuzz_manifest_json.py: a lone surrogate or a NaN was accepted, and the
    install failed with a raw UnicodeEncodeError (or stored a NaN) when it wrote the app's row."""
    with pytest.raises(errors.InvalidInput, match="bodega-app.json"):
        parse_app_manifest(bad)
