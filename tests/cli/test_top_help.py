"""`bodega --version` and `--help` answered without click print exactly what click prints."""
from __future__ import annotations

import os
import subprocess
import sys

import click
import pytest

from bodega.cli import main
from bodega.cli.top_help import help_width, short_help, top_help

# The console script (pyproject's [project.scripts]) run as installed, and the click root group
# answering the same command line.
CONSOLE = "import sys; sys.argv[0] = 'bodega'; from bodega.cli import launch; launch()"
CLICK = "from bodega.cli import main; main(prog_name='bodega')"


def clicks_help(prog: str, width: int) -> str:
    """The root group's help as click renders it at this width."""
    return main.get_help(click.Context(main, info_name=prog, terminal_width=width, **main.context_settings))


@pytest.mark.parametrize("prog", ["bodega", "a-console-script-with-a-long-name"])
def test_help_is_clicks_at_every_width(prog):
    for width in [*range(50, 131), 200]:
        assert top_help(prog, width) == clicks_help(prog, width), width


def test_short_help_is_clicks():
    """Beside the short help click makes for a command of that help (its public way: click 8.5
    deprecates make_default_short_help, which bodega no longer calls)."""
    texts = ["One sentence. Another one.", "no full stop at all in these words", "\b\nkept as is",
             "exactly ten", "a-word-longer-than-the-limit-itself and more", "Two\n\nparagraphs."]
    for text in texts:
        for limit in range(0, 50):
            assert short_help(text, limit) == click.Command("c", help=text).get_short_help_str(limit), (text, limit)


@pytest.mark.parametrize("columns", [None, "40", "79", "100", "not a number", "0"])
def test_the_width_is_clicks(monkeypatch, columns):
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert help_width() == click.HelpFormatter().width


def run(code: str, args: list[str], columns: str | None = None, stdout: int = subprocess.PIPE) -> \
        subprocess.CompletedProcess:
    """python -c code ARGS, its output and status (COLUMNS set to columns, or unset)."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | ({"COLUMNS": columns} if columns else {})
    return subprocess.run([sys.executable, "-c", code, *args], env=env, stdout=stdout, stderr=subprocess.PIPE,
                          text=True)


@pytest.mark.parametrize("args, columns", [(["--version"], None), (["-h"], None), (["--help"], "60"),
                                           (["--help"], "200")])
def test_the_console_script_prints_what_click_prints(args, columns):
    quick, slow = run(CONSOLE, args, columns), run(CLICK, args, columns)
    assert (quick.returncode, quick.stdout, quick.stderr) == (slow.returncode, slow.stdout, slow.stderr)
    assert quick.returncode == 0 and quick.stdout.startswith(("bodega, version", "Usage: bodega [OPTIONS]"))


@pytest.mark.parametrize("args", [["--version", "--nope"], ["--helpx"], ["-h", "--nope"], ["--Version"]])
def test_a_bad_command_line_is_a_usage_error(args):
    done = run(CONSOLE, args)
    assert done.returncode == 2, done
    assert done.stderr.startswith("bodega: error: ") and len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stdout == ""


def test_a_closed_pipe_ends_it_quietly_with_status_1_as_click():
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written
    try:
        quick, slow = (run(code, ["--help"], stdout=write_end) for code in (CONSOLE, CLICK))
    finally:
        os.close(write_end)
    assert (quick.returncode, quick.stderr) == (slow.returncode, slow.stderr) == (1, "")


def test_shell_completion_is_left_to_click():
    env = dict(os.environ, _BODEGA_COMPLETE="bash_source")
    done = subprocess.run([sys.executable, "-c", CONSOLE, "--help"], env=env, capture_output=True, text=True)
    assert "complete" in done.stdout and "Usage:" not in done.stdout, done.stdout


def on_a_terminal(code: str, args: list[str], columns: int) -> bytes:
    """What python -c code ARGS writes on a terminal this many columns wide ($COLUMNS unset)."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    child = subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=follower, stderr=subprocess.PIPE)
    os.close(follower)
    out = b""
    try:
        while chunk := os.read(leader, 65536):
            out += chunk
    except OSError:  # EIO: the child closed its end
        pass
    finally:
        os.close(leader)
    assert child.wait() == 0, child.stderr.read()
    child.stderr.close()
    return out


@pytest.mark.parametrize("columns", [60, 120])
def test_on_a_terminal_the_width_is_clicks(columns):
    quick, slow = on_a_terminal(CONSOLE, ["--help"], columns), on_a_terminal(CLICK, ["--help"], columns)
    assert quick == slow
    listed = quick.decode().split("Commands:")[1].splitlines()
    width = min(columns, 80) - 2  # the terminal's, at most 78; a short help ends 2 columns before it
    assert width - 12 < max(len(line.rstrip("\r")) for line in listed) <= width - 2
