"""The error boundary of `bodega`: every failure is one line (or one JSON object) and its exit code."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bodega import errors
from bodega.cli import main
from bodega.cli.output import one_line
from subprocesses import child_env
from unprivileged import as_unprivileged, public_dir


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), prog_name="bodega")


def test_a_usage_error_is_one_line_with_exit_2(home):
    r = invoke("container", "list", "--bogus")
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr == "bodega: error: No such option '--bogus'. (see 'bodega container list -h')\n"


def test_a_usage_error_with_json_is_one_json_object(home):
    r = invoke("container", "show", "--json")
    assert r.exit_code == 2
    error = json.loads(r.stderr)["error"]
    assert error["type"] == "UsageError" and error["exit_code"] == 2 and "CONTAINER" in error["message"]


def test_a_message_with_newlines_and_escapes_stays_one_line(home, tmp_path):
    forged = tmp_path / "x\nbodega: ok\x1b[2J"
    r = invoke("container", "recover", str(forged))
    assert r.exit_code == errors.PathNotFound.exit_code and r.stderr.count("\n") == 1
    assert "x\\nbodega: ok\\x1b[2J" in r.stderr and "\x1b" not in r.stderr


def test_ctrl_c_is_cancelled_not_a_bug(home, monkeypatch):
    from bodega.services.containers import ContainerService

    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(ContainerService, "list", interrupted)
    r = invoke("container", "list")
    assert r.exit_code == 13 and r.stderr.endswith("bodega: error: cancelled\n")


@pytest.mark.parametrize("text, shown", [
    ("a\nb\r\tc", "a\\nb\\r\\tc"), ("\x1b[31mred\x7f\x9b", "\\x1b[31mred\\x7f\\x9b"), ("bad \udcff", "bad \\udcff"),
    ("café ✓", "café ✓"),
])
def test_one_line_escapes_what_could_forge_a_line_or_drive_a_terminal(text, shown):
    assert one_line(text) == shown


def test_one_line_bounds_a_huge_message():
    line = one_line("x" * 10_000 + ": the reason", limit=90)
    assert line == "x" * 60 + "... (9922 characters left out) ..." + "x" * 18 + ": the reason"


# --- --home that cannot be a home (issue 10, item 6) ------------------------------------------

def _not_homes(tmp_path: Path) -> dict[str, tuple[str, int]]:
    f = tmp_path / "a-file"
    f.write_text("x")
    return {"a file": (str(f), 2), "under a file": (str(f / "home"), 35), "/dev/null": ("/dev/null", 35),
            "/proc/self": ("/proc/self", 31), "empty": ("", 10)}


@pytest.mark.parametrize("case", ["a file", "under a file", "/dev/null", "/proc/self", "empty"])
def test_home_that_cannot_be_a_home_is_one_line_and_its_exit_code(tmp_path, case):
    where, code = _not_homes(tmp_path)[case]
    env = {**child_env(tmp_path / "unused"), "BODEGA_HOME": where}
    # The option, then $BODEGA_HOME (where an empty value means unset, as for any variable).
    for how in (("--home", where), ()) if where else (("--home", where),):
        done = subprocess.run([sys.executable, "-m", "bodega", "container", "list", *how], capture_output=True,
                              text=True, env=env, cwd=tmp_path, timeout=120)
        assert done.returncode == code, done.stderr
        assert done.stderr.startswith("bodega: error: ") and done.stderr.count("\n") == 1, done.stderr
    assert Path("/dev/null").is_char_device()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # no home was made anywhere here


@pytest.fixture
def public_tmp():
    """A directory the unprivileged child can reach, after the command ran once here: the modules
    it imports lazily are then loaded before the child drops privileges (nobody may not read them)."""
    with public_dir("t") as d:
        assert invoke("container", "list", "--home", str(d / "warm-up")).exit_code == 0
        yield d


def test_an_unwritable_home_is_access_denied_for_an_unprivileged_user(public_tmp):
    locked = public_tmp / "locked"
    locked.mkdir(mode=0o555)
    locked.chmod(0o555)

    def run() -> tuple[int, str]:
        r = CliRunner().invoke(main, ["container", "list", "--home", str(locked)])
        return r.exit_code, r.stderr

    code, err = as_unprivileged(run)
    assert code == errors.AccessDenied.exit_code, err
    assert err == f"bodega: error: cannot create the home: {locked / 'containers'}: Permission denied\n"
    assert list(locked.iterdir()) == []


def test_a_home_of_another_user_is_a_catalogue_error_for_an_unprivileged_user(public_tmp):
    """A complete home nobody may write: the catalogue cannot be opened, said in one line."""
    home = public_tmp / "warm-up"  # made by the fixture
    for p in [home, *home.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)

    def run() -> tuple[int, str]:
        r = CliRunner().invoke(main, ["container", "list", "--home", str(home)])
        return r.exit_code, r.stderr

    code, err = as_unprivileged(run)
    assert code == errors.CatalogueError.exit_code and err.startswith("bodega: error: cannot use the catalogue") and err.count("\n") == 1, err
