"""The home layout and where the default home is."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from bodega.home import Home, default_home


def test_bodega_home_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("BODEGA_HOME", str(tmp_path / "h"))
    assert default_home() == tmp_path / "h"
    assert Home.at().root == tmp_path / "h"


def test_the_default_is_the_user_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("BODEGA_HOME", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_home() == tmp_path / ".local" / "share" / "bodega"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_home() == tmp_path / "xdg" / "bodega"


def test_the_layout(tmp_path):
    home = Home.at(tmp_path)
    cid = uuid.uuid4()
    assert home.database == tmp_path / "bodega.db"
    assert home.container_dir(cid) == tmp_path / "containers" / str(cid)
    assert home.staging_dir(cid) == tmp_path / "tmp" / str(cid)
    home.create()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["containers", "exports", "store", "tmp"]


def test_a_relative_home_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Home.at("rel").root == tmp_path / "rel"
    assert Home.at(Path("~")).root == Path.home()


def test_a_home_that_cannot_be_made_is_a_storage_error_naming_it(tmp_path):
    from bodega import errors

    f = tmp_path / "f"
    f.write_text("x")
    with pytest.raises(errors.NotADirectory, match=f"cannot use the home: {f}: Not a directory"):
        Home.at(f).create()
    with pytest.raises(errors.NotADirectory, match=f"cannot create the home: {f / 'h'}"):
        Home.at(f / "h").create()
    assert f.read_text() == "x"


@pytest.mark.parametrize("root", ["", "a\0b", b""])
def test_an_empty_or_nul_home_is_invalid_input_not_the_current_directory(root):
    from bodega import errors

    with pytest.raises(errors.InvalidInput, match="the home must be a directory's path"):
        Home.at(root)
