"""The bad-input sweep: every command of `bodega`, every argument and option, a batch of bad values.

The commands are found by walking the click tree of `bodega.cli.main`, so a command added
later is swept without touching this file.  Each command runs through the real entry point
(`main`, in-process with click's CliRunner, whose stdout is strict UTF-8 like a real one) in
a fresh copy of a home holding a container with a tree and two snapshots.  For each of its
parameters, the others keep a working value (the baseline) and that one gets each value of
the batch for its type.  A run fails the sweep when it ends in a traceback or exit 1 (a bug),
or when its error is not one line per message.  Finally the baseline itself must succeed,
which shows the bad values were tried on a command that otherwise works.

A smaller batch runs in real processes (`test_in_real_processes`): non-UTF-8 bytes in argv
and the environment, which only a real process decodes.
"""
from __future__ import annotations

import faulthandler
import os
import io
import shutil
import tarfile
import subprocess
import sys
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import click
import pytest
from click.testing import CliRunner

from bodega.cli import main
from subprocesses import child_env

RUN_TIMEOUT = 300  # seconds one run may take before the sweep calls it a hang

# Commands the sweep never runs: each would run until stopped whatever its arguments.
EXCLUDED: dict[tuple[str, ...], str] = {
    ("serve",): "serves HTTP until stopped",
}
# Options never given (a bad value is still given to the others): each makes its command run until stopped.
NEVER_GIVEN: dict[tuple[tuple[str, ...], str], str] = {
    (("events",), "follow"): "--follow prints new events until Ctrl-C",
}
# Options always given with the baseline, so that the command ends (or ends quickly).
ALWAYS: dict[tuple[str, ...], list[str]] = {
    ("agent",): ["--until-idle"],
    ("demo",): ["--files", "10"],
    ("tune",): ["--files", "5", "--rounds", "1"],  # a tiny sample: the sweep runs it many times
    ("bench",): ["--files", "5", "--rounds", "1", "--peer", "cp"],  # one group, one peer
    ("container", "edit"): ["--description", "swept"],  # an edit needs something to change
    ("container", "tag"): ["--remove", "old"],
    ("snapshot", "forget"): ["--keep-last", "1"],  # forget needs ids or a keep rule
    ("user", "add"): ["--no-password"],  # else it asks a terminal for one
    ("user", "passwd"): ["--password-stdin"],
    ("import",): ["--name", "dev-imported"],  # the package is dev's, and dev exists
    ("app", "install"): ["--name", "tool2", "--entry", "t=bin/tool"],  # a second app from the same archive
}
# What a command reads on stdin (the sweep's stdin is otherwise empty, and no terminal).
STDIN: dict[tuple[str, ...], str] = {
    ("user", "passwd"): "a new password for ana\n",
}
# A baseline that ends in a documented error instead of 0: (exit code, why).
BASELINE_EXIT: dict[tuple[str, ...], tuple[int, str]] = {
    ("task", "cancel"): (48, "the fixture's tasks are finished: cancelling one is WrongStatus"),
    ("container", "unarchive"): (48, "the fixture's container is ready, not archived: WrongStatus"),
    ("user", "mfa-enrol"): (10, "the TOTP code it reads cannot be known ahead: InvalidInput (no code)"),
    ("user", "recovery-codes"): (48, "the fixture's user has no second factor: WrongStatus"),
    ("container", "recover"): (10, "PATH or --host, both optional: given neither, InvalidInput"),
}


@dataclass
class World:
    """The fixture home and the paths and ids the values refer to."""

    root: Path          # where everything of this sweep lives
    home: Path          # the home commands run in (reset from pristine before each command)
    pristine: Path      # a copy of it as the fixture left it
    container_id: str
    snapshot_ids: list[str]
    task_id: str
    email: str          # a second user (operator), with a session, an API token and a share of the container
    session_id: str
    token_id: str
    tree: Path          # a small directory tree outside the home
    manifest: Path      # a binary manifest of tree
    file: Path          # a regular file
    empty_dir: Path
    counter: int = 0

    def fresh(self, stem: str = "new") -> str:
        """A path that does not exist yet (a destination)."""
        self.counter += 1
        return str(self.root / "fresh" / f"{stem}-{self.counter}")

    def reset(self) -> None:
        """Puts the home back as the fixture left it (commands may delete, rename, restore...)."""
        shutil.rmtree(self.home)
        shutil.copytree(self.pristine, self.home, symlinks=True)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    import bodega
    from bodega.storage import manifest as mf

    root = tmp_path_factory.mktemp("sweep")
    (root / "fresh").mkdir()
    home = root / "home"
    with bodega.open(home) as b:
        c = b.containers.create("dev", tags=["work"])
        tree = Path(c.storage_path) / "root"
        (tree / "app").mkdir()
        (tree / "app" / "bin").write_bytes(b"\x7fELF" + bytes(range(256)) * 8)
        (tree / "readme").write_text("hello\n")
        first = b.snapshots.create("dev", label="first")
        (tree / "readme").write_text("changed\n")
        second = b.snapshots.create("dev", label="second")
        app_archive = root / "tool.tar.gz"  # an app to show, run, update and uninstall
        with tarfile.open(app_archive, "w:gz") as tf:
            script = b"#!/bin/sh\nexit 0\n"
            info = tarfile.TarInfo("bin/tool")
            info.size, info.mode = len(script), 0o755
            tf.addfile(info, io.BytesIO(script))
        b.apps.install("dev", app_archive, name="tool", entries=["tool=bin/tool", "aux=bin/tool"])
        task = b.tasks.list(limit=1)[0]
        email = "ana@example.org"
        b.users.create(email, "Ana", "operator", password="ana's password")
        session = b.sessions.login(email, "ana's password").session
        token = b.tokens.create(email, name="ci")
        b.shares.share("dev", email, "viewer")
        b.exports.export("dev", location=str(root / "dev.zip"))  # a package to verify and import
    outside = root / "tree"
    (outside / "sub").mkdir(parents=True)
    (outside / "sub" / "f").write_bytes(b"data")
    manifest = root / "tree.bgm"
    mf.build(outside).save(manifest)
    f = root / "a-file"
    f.write_text("just a file\n")
    (root / "empty").mkdir()
    pristine = root / "pristine"
    shutil.copytree(home, pristine, symlinks=True)
    yield World(root, home, pristine, str(c.id), [str(first.id), str(second.id)], str(task.id), email,
                str(session.id), str(token.info.id), outside, manifest, f, root / "empty")


# --- the values ----------------------------------------------------------------------------

Value = Callable[[World], str]


def _ids(w: World) -> list[str]:
    """Ids of every kind (full and prefixes), an email, and ids of nothing."""
    return [w.container_id, w.snapshot_ids[0][:8], w.task_id, w.session_id[:8], w.token_id, w.email, "0000",
            str(uuid.UUID(int=0))]


def text_values(w: World) -> list[str]:
    """For any text: empty, huge, control characters, not UTF-8, dashes, ids of every kind, bad JSON."""
    return ["", "x" * 5000, "a\nb", "\x1b[2J\x1b[31m\x7f\x9b", "\udcff\udcfe", "a\0b", "-", "-1", "..",
            "@/dev/null", f"@{w.empty_dir}", "@/nonexistent/x", "9" * 30, "{", '{"cpu_limit": NaN}', "[" * 5000,
            "CON", *_ids(w)]


def path_values(w: World) -> list[str]:
    """For a path: files, directories, devices, missing, under a file, links, and the text oddities."""
    link_out = w.root / "link-out"
    if not link_out.is_symlink():
        link_out.symlink_to(w.tree)
        (w.root / "link-dangling").symlink_to(w.root / "nowhere")
    return [str(w.file), str(w.empty_dir), str(w.root / "missing"), str(w.file / "under"), "/dev/null",
            "/dev/zero", str(link_out), str(w.root / "link-dangling"), str(w.manifest), "", "-", "a\nb",
            "\udcff", "a\0b", "x" * 5000, "/" + "x" * 300]


def home_values(w: World) -> list[str]:
    """For a home: what cannot be one (a directory that can is no bad input, and costs a new catalogue)."""
    return [str(w.file), str(w.file / "under"), "/dev/null", "/dev/zero", "/proc/self", str(w.manifest), "",
            "\udcff", "a\0b", "a\nb", "x" * 5000, "/" + "x" * 300]


def number_values(w: World) -> list[str]:
    """For a number: negative, zero, huge, not finite, not a number."""
    return ["-1", "0", "-" + "9" * 30, "9" * 30, "1e309", "nan", "inf", "-inf", "", "x", "0x10", "1.5"]


def choice_values(w: World) -> list[str]:
    return ["bogus", "", "\udcff"]


def values_for(param: click.Parameter, w: World) -> list[str]:
    """The batch of bad values for a parameter, by its type."""
    t = param.type
    if param.name == "home":
        return home_values(w)
    if isinstance(t, click.Choice):
        return choice_values(w)
    if isinstance(t, (click.types.IntParamType, click.types.FloatParamType)):
        return number_values(w)
    if isinstance(t, click.Path):
        return path_values(w)
    return text_values(w)


# --- baselines: a working value for each parameter, by name --------------------------------

BY_NAME: dict[str, Value] = {
    "container": lambda w: w.container_id,
    "source": lambda w: w.container_id,
    "containers": lambda w: w.container_id,
    "snap": lambda w: w.snapshot_ids[0],
    "snaps": lambda w: w.snapshot_ids[0],
    "snapshot": lambda w: w.snapshot_ids[0],
    "old": lambda w: w.snapshot_ids[0],
    "new": lambda w: w.snapshot_ids[1],
    "task_id": lambda w: w.task_id,
    "session_id": lambda w: w.session_id,
    "token_id": lambda w: w.token_id,
    "email": lambda w: w.email,
    "role": lambda w: "operator",
    "key": lambda w: "auth.session_hours",
    "value": lambda w: "24",
    "name": lambda w: "sweep-name",
    "tags": lambda w: "t1",
    "path": lambda w: "readme",
    "dest": lambda w: w.fresh("dest"),
    "dst": lambda w: w.fresh("dst"),
    "output": lambda w: w.fresh("out"),
    "src": lambda w: str(w.tree),
    "manifest": lambda w: str(w.manifest),
    "home": lambda w: str(w.home),
    "app_ref": lambda w: "tool",
}
BY_COMMAND: dict[tuple[tuple[str, ...], str], Value] = {
    (("fs", "manifest"), "path"): lambda w: str(w.tree),
    (("fs", "verify"), "path"): lambda w: str(w.tree),
    (("fs", "diff"), "old"): lambda w: str(w.tree),
    (("fs", "diff"), "new"): lambda w: str(w.tree),
    (("snapshot", "extract"), "path"): lambda w: "app",
    (("container", "recover"), "path"): lambda w: str(w.home / "containers"),
    (("demo",), "home"): lambda w: w.fresh("demo-home"),
    (("user", "add"), "email"): lambda w: "new.user@example.org",
    (("export", "verify"), "path"): lambda w: str(w.root / "dev.zip"),
    (("import",), "path"): lambda w: str(w.root / "dev.zip"),
    (("app", "install"), "source"): lambda w: str(w.root / "tool.tar.gz"),
    (("app", "update"), "source"): lambda w: str(w.root / "tool.tar.gz"),
    (("app", "set-entry"), "entry"): lambda w: "aux=bin/tool",
    (("app", "remove-entry"), "name"): lambda w: "aux",
    (("run",), "entry"): lambda w: "tool",
}


def baseline(path: tuple[str, ...], param: click.Parameter, w: World) -> str | None:
    """A working value for param of the command at path, or None when it has none."""
    value = BY_COMMAND.get((path, param.name or "")) or BY_NAME.get(param.name or "")
    return value(w) if value else None


# --- walking the command tree and building command lines -----------------------------------

def leaves(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command that is not a group, with the words that reach it (through click's
    list_commands/get_command: the root group loads its commands on first use)."""
    ctx = click.Context(group)
    for name in sorted(group.list_commands(ctx)):
        command = group.get_command(ctx, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            yield from leaves(command, path + (name,))
        else:
            yield path + (name,), command


COMMANDS = {path: command for path, command in leaves(main)}


def _swept(path: tuple[str, ...], command: click.Command) -> list[click.Parameter]:
    """The parameters that take a value (flags and --help take none)."""
    return [p for p in command.params
            if not (isinstance(p, click.Option) and (p.is_flag or p.count or p.is_eager))
            and (path, p.name) not in NEVER_GIVEN]


def command_line(path: tuple[str, ...], command: click.Command, w: World,
                 bad: tuple[click.Parameter, str] | None = None) -> list[str]:
    """The words of `bodega PATH ...`: baselines for what is required, the bad value for one parameter."""
    words = list(path) + ALWAYS.get(path, [])
    tested = bad[0] if bad else None
    positionals = [p for p in command.params if isinstance(p, click.Argument)]
    last = positionals.index(tested) if tested in positionals else -1
    for i, p in enumerate(positionals):
        if p is tested:
            words.append(bad[1])  # type: ignore[index]
        elif p.required or i < last:  # an optional argument before the tested one needs a value too
            value = baseline(path, p, w)
            if value is None:
                raise AssertionError(f"bodega {' '.join(path)}: no baseline for argument {p.name}: "
                                     "add one to BY_NAME or BY_COMMAND")
            words.append(value)
    options = [p for p in command.params if isinstance(p, click.Option)]
    for p in options:
        flag = max(p.opts, key=len)
        if p is tested:
            words += [flag, bad[1]]  # type: ignore[index]
        elif p.name == "home" or (p.required and not p.is_flag):
            value = baseline(path, p, w)
            if value is not None:
                words += [flag, value]
    return words


@dataclass
class Outcome:
    words: list[str]
    code: int
    stdout: str
    stderr: str
    problem: str | None


def run(words: list[str], stdin: str | None = None) -> Outcome:
    """Runs `bodega WORDS` through the real entry point and says what, if anything, is wrong.

    A run that hangs (a command reading a device that never ends, say) dumps every thread's
    stack and ends the test process after RUN_TIMEOUT seconds, rather than stalling CI.
    """
    faulthandler.dump_traceback_later(RUN_TIMEOUT, exit=True)
    try:
        r = CliRunner().invoke(main, words, input=stdin, prog_name="bodega")
    finally:
        faulthandler.cancel_dump_traceback_later()
    problem = None
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        frames = traceback.extract_tb(r.exc_info[2])
        ours = [f for f in frames if f"{os.sep}bodega{os.sep}" in f.filename] or frames
        where = f"{ours[-1].filename}:{ours[-1].lineno} ({ours[-1].name})"
        problem = f"raised {type(r.exception).__name__}: {str(r.exception)[:200]} at {where}"
    elif r.exit_code == 1:
        problem = "exit 1 (a bug)"
    elif "Traceback (most recent call last)" in r.stderr + r.stdout:
        problem = "printed a traceback"
    elif r.exit_code != 0:
        lines = r.stderr.splitlines()
        errors = [line for line in lines if line.startswith("bodega: error: ") or line.startswith('{"error": ')]
        others = [line for line in lines if not line.startswith("bodega: ") and not line.startswith("{")]
        if len(errors) != 1 or others:
            problem = f"exit {r.exit_code} without exactly one error line: {r.stderr[-500:]!r}"
    return Outcome(words, r.exit_code, r.stdout, r.stderr, problem)


def _shown(words: list[str]) -> str:
    return "bodega " + " ".join(repr(w) if len(w) < 60 else repr(w[:40] + f"...({len(w)} chars)") for w in words)


@pytest.mark.parametrize("path", sorted(set(COMMANDS) - set(EXCLUDED)), ids=lambda p: " ".join(p))
def test_every_command_survives_bad_input(world: World, path: tuple[str, ...], monkeypatch, tmp_path):
    monkeypatch.setenv("BODEGA_HOME", str(world.home))
    scratch = tmp_path / "cwd" / "here"  # relative paths ("", ".", "..", "-") land in scratch directories
    scratch.mkdir(parents=True)
    monkeypatch.chdir(scratch)
    command = COMMANDS[path]
    world.reset()
    failures = []
    tried = 0
    for param in _swept(path, command):
        for value in values_for(param, world):
            for extra in ([], ["--json"]) if value == "" else ([],):
                outcome = run(command_line(path, command, world, (param, value)) + extra, STDIN.get(path))
                tried += 1
                if outcome.problem:
                    failures.append(f"{_shown(outcome.words)}: {outcome.problem}")
    world.reset()
    base = run(command_line(path, command, world), STDIN.get(path))
    expected, why = BASELINE_EXIT.get(path, (0, ""))
    assert base.code == expected and not base.problem, (
        f"the baseline `{_shown(base.words)}` ended with exit {base.code} ({base.stderr.strip()[-300:]}): "
        "fix its values in BY_NAME/BY_COMMAND/ALWAYS so that the sweep tries bad values on a working command")
    assert not failures, f"{len(failures)} of {tried} runs failed:\n" + "\n".join(failures[:40])


def test_the_sweep_walks_every_command_and_excludes_only_what_it_documents():
    paths = set(COMMANDS)
    assert {("container", "create"), ("snapshot", "restore"), ("fs", "manifest"), ("verify",), ("task", "wait"),
            ("agent",), ("events",)} <= paths
    assert set(EXCLUDED) <= paths  # exclusions name real commands
    assert {("user", "add"), ("token", "create"), ("container", "share"), ("serve",)} <= paths  # the panel's too
    for (path, option), _ in NEVER_GIVEN.items():
        assert option in {p.name for p in COMMANDS[path].params}


# --- real processes: what only a real argv and environment carry ---------------------------

def test_in_real_processes(world: World, tmp_path):
    """Non-UTF-8 bytes in argv and in $BODEGA_HOME, decoded by Python as a real process does."""
    world.reset()
    env = child_env(world.home)
    cases: list[tuple[list[bytes], dict[str, bytes], int]] = [
        ([b"container", b"create", b"bad\xffname"], {}, 40),
        ([b"container", b"show", b"\xff\xfe"], {}, 43),
        ([b"snapshot", b"ls", world.container_id.encode(), world.snapshot_ids[0].encode(), b"\xff"], {}, 76),
        ([b"container", b"edit", world.container_id.encode(), b"-d", b"\xff"], {}, 10),
        ([b"container", b"list"], {"BODEGA_HOME": os.fsencode(world.file)}, 2),
        ([b"container", b"list"], {"BODEGA_HOME": os.fsencode(world.file) + b"/home"}, 35),
        ([b"container", b"list"], {"BODEGA_HOME": os.fsencode(world.root) + b"/\xff"}, 10),
        ([b"events", b"--container", b"\xff", b"--json"], {}, 43),
        ([b"fs", b"manifest", os.fsencode(world.tree), b"-o", b"/dev/full"], {}, 34),
    ]
    failures = []
    for args, extra, code in cases:
        e = {os.fsencode(k): os.fsencode(v) for k, v in env.items()}
        e.update({k.encode(): v for k, v in extra.items()})
        done = subprocess.run([os.fsencode(sys.executable), b"-m", b"bodega", *args], env=e, cwd=tmp_path,
                              capture_output=True, timeout=120)
        err = done.stderr.decode("utf-8", "replace")
        ok = (done.returncode == code and "Traceback" not in err and err.count("\n") == 1
              and err.startswith(("bodega: error: ", '{"error"')))
        if not ok:
            failures.append(f"{args} {extra}: exit {done.returncode} (expected {code}): {err[-800:]}")
    assert not failures, "\n".join(failures)
