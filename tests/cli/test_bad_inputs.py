"""Each traceback the bad-input sweep (test_bad_input_sweep.py) found, as its own regression test.

Every one of these ended in a traceback and exit 1 before; each now ends in one line and its
documented exit code.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bodega import errors
from bodega.cli import main


def bodega(*args: str, code: int) -> str:
    """Runs `bodega ARGS` in-process, checks the exit code and the one error line; returns stderr."""
    r = CliRunner().invoke(main, list(args), prog_name="bodega")
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exc_info
    assert r.exit_code == code, r.stderr
    if code:
        assert r.stderr.startswith("bodega: error: ") and r.stderr.count("\n") == 1, r.stderr
    return r.stderr if code else r.stdout


@pytest.fixture
def dev(home) -> str:
    """The id of a container dev with one snapshot."""
    out = bodega("container", "create", "dev", "--json", code=0)
    root = Path(json.loads(out)["storage_path"]) / "root"
    (root / "f").write_text("x")
    (root / "d").mkdir()
    (root / "d" / "g").write_text("y")
    bodega("snapshot", "create", "dev", code=0)
    return json.loads(out)["id"]


def test_a_nul_in_an_argument_is_a_usage_error(home):
    assert "NUL character" in bodega("fs", "manifest", "a\0b", code=2)
    assert "NUL character" in bodega("container", "show", "--home", "a\0b", code=2)


@pytest.mark.parametrize("words", [
    ("container", "show", "\udcff"), ("snapshot", "list", "\udcff"), ("events", "--container", "\udcff"),
    ("tasks", "--container", "\udcff"), ("du", "\udcff"),
])
def test_a_reference_that_is_not_utf8_is_not_found(dev, words):
    assert "no container '\\udcff'" in bodega(*words, code=errors.ContainerNotFound.exit_code)


@pytest.mark.parametrize("words, code", [
    (("container", "create", "bad\udcff"), errors.InvalidName.exit_code),
    (("container", "edit", "dev", "--name", "bad\udcff"), errors.InvalidName.exit_code),
    (("container", "clone", "dev", "bad\udcff"), errors.InvalidName.exit_code),
    (("container", "edit", "dev", "-d", "\udcff"), errors.InvalidInput.exit_code),
    (("container", "tag", "dev", "\udcff"), errors.InvalidInput.exit_code),
    (("container", "list", "--tag", "\udcff"), errors.InvalidInput.exit_code),
    (("snapshot", "create", "dev", "-m", "\udcff"), errors.InvalidInput.exit_code),
    (("tasks", "--type", "\udcff"), errors.InvalidInput.exit_code),
    (("container", "list", "--home", "/tmp/\udcff"), errors.InvalidInput.exit_code),
])
def test_text_that_is_not_utf8_is_refused_where_it_comes_in(dev, words, code):
    assert "UTF-8" in bodega(*words, code=code)
    assert json.loads(bodega("container", "show", dev, "--json", code=0))["name"] == "dev"


@pytest.mark.parametrize("words", [
    ("events", "--after", "9" * 30), ("events", "--limit", "9" * 30), ("events", "--after", "-1"),
    ("tasks", "--limit", "-" + "9" * 30), ("snapshot", "forget", "dev", "--keep-last", "9" * 30),
    ("agent", "--until-idle", "--poll", "nan"), ("agent", "--until-idle", "--poll", "-1"),
    ("agent", "--until-idle", "--poll", "inf"), ("gc", "--timeout", "nan"), ("task", "wait", "0000", "--timeout", "-1"),
])
def test_numbers_out_of_range_are_usage_errors(dev, words):
    bodega(*words, code=2)


def test_numbers_too_large_for_the_catalogue_from_python_are_invalid_input(home):
    import bodega as api

    with api.open(home) as b, pytest.raises(errors.InvalidInput, match="too large"):
        b.events.list(after=10**30)


@pytest.mark.parametrize("where", ["/" + "x" * 300, "x" * 5000], ids=["a name too long", "a path too long"])
def test_names_too_long_are_storage_errors(dev, where, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    snap = json.loads(bodega("snapshot", "list", "dev", "--json", code=0))[0]["id"]
    for words in (("container", "recover", where), ("doctor", "--home", where), ("demo", "--home", where),
                  ("snapshot", "extract", "dev", snap, "d", where)):
        assert "File name too long" in bodega(*words, code=errors.StorageError.exit_code)


@pytest.mark.parametrize("what", ["f", "d"])
def test_extract_under_a_file_is_not_a_directory(dev, tmp_path, what):
    snap = json.loads(bodega("snapshot", "list", "dev", "--json", code=0))[0]["id"]
    f = tmp_path / "f"
    f.write_text("x")
    assert "not a directory" in bodega("snapshot", "extract", "dev", snap, what, str(f / "out"),
                                       code=errors.NotADirectory.exit_code).lower()


@pytest.mark.parametrize("where", ["/dev/null", "FILE", "FILE/under"])
def test_demo_in_what_cannot_be_a_fresh_home_says_so(home, tmp_path, where):
    f = tmp_path / "f"
    f.write_text("x")
    where = where.replace("FILE", str(f))
    bodega("demo", "--files", "10", "--home", where, code=2 if "under" not in where else 35)
    assert f.read_text() == "x"


def test_a_path_that_is_not_utf8_prints_escaped_not_as_a_crash(home, tmp_path, monkeypatch):
    tree = tmp_path / "t"
    tree.mkdir()
    (tree / "f").write_text("x")
    monkeypatch.chdir(tmp_path)
    out = bodega("fs", "manifest", str(tree), "-o", "\udcff", code=0)
    assert "-> \\udcff" in out
    assert (tmp_path / "\udcff").exists()


def test_verify_that_finds_damage_ends_with_one_error_line(dev, home):
    (home / "store" / "snapshots").joinpath(
        json.loads(bodega("snapshot", "list", "dev", "--json", code=0))[0]["id"] + ".snap").unlink()
    assert "verify found damage: 1 problem(s)" in bodega("verify", code=errors.VerifyFailed.exit_code)


def test_a_manifest_argument_that_never_ends_is_refused_after_its_first_bytes(tmp_path):
    tree = tmp_path / "t"
    tree.mkdir()
    assert "bad magic" in bodega("fs", "verify", str(tree), "/dev/zero", code=errors.ManifestCorrupt.exit_code)
    assert "bad magic" in bodega("fs", "diff", "/dev/zero", str(tree), code=errors.ManifestCorrupt.exit_code)
