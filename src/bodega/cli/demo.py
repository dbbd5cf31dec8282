"""`bodega demo`: the main job on a fresh home, one step per capability."""
from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import click

from bodega.cli.options import json_option
from bodega.cli.output import human_bytes


def build_sample_app(root: Path, files: int = 2000, seed: int = 7) -> int:
    """Writes a small installed-application tree (bin, lib, share, plugins) under root; returns bytes written."""
    rng = random.Random(seed)
    text = b"".join(b"msgid \"line %d\"\nmsgstr \"linea %d\"\n" % (i, i) for i in range(4000))
    noise = rng.randbytes(1 << 20)
    layout = ["bin", "lib", "lib/plugins", "share/icons/hicolor/48x48", "share/doc"]
    layout += [f"share/locale/{lang}/LC_MESSAGES" for lang in ("de", "es", "fr", "it", "ja", "pt_BR")]
    for d in layout:
        (root / d).mkdir(parents=True, exist_ok=True)
    written = 0
    for i in range(files):
        d = layout[i % len(layout)]
        # Half the files are under 4 KiB, a few are hundreds of KiB: the shape of real installs.
        size = rng.choice((200, 900, 3000, 3500, 12_000, 40_000, 300_000)) if i % 97 else 900_000
        pool = text if i % 3 else noise
        start = rng.randrange(0, len(pool) - min(size, len(pool) - 1))
        data = pool[start:start + size]
        (root / d / f"part{i:05d}.dat").write_bytes(data)
        written += len(data)
    (root / "bin" / "app").write_bytes(b"#!/bin/sh\necho 'sample app 1.0'\n")
    (root / "bin" / "app").chmod(0o755)
    (root / "lib" / "libapp.so").symlink_to("plugins/../part00001.dat")
    return written


class DemoLog:
    """Prints numbered steps for people and collects them for --json."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.steps: list[dict[str, Any]] = []

    def step(self, title: str, action: Callable[[], tuple[str, dict[str, Any]]]) -> dict[str, Any]:
        """Runs action, timing it, and reports its line and data."""
        started = time.perf_counter()
        line, data = action()
        seconds = time.perf_counter() - started
        self.steps.append({"step": title, "seconds": round(seconds, 4), **data})
        if not self.as_json:
            click.echo(f"{len(self.steps):2d}. {title:<34} {seconds * 1000:8.1f} ms  {line}")
        return data


@click.command("demo")
@click.option("--home", type=click.Path(file_okay=False, path_type=str),
              help="Run in this (new or empty) home instead of a fresh temporary one.")
@click.option("--files", type=click.IntRange(10, 200_000), default=2000, show_default=True,
              help="Files in the sample app tree.")
@json_option
def demo(home: str | None, files: int, as_json: bool) -> None:
    """Show what bodega does, on a sample app in a fresh home (SQLite catalogue).

    Steps: probe copy-on-write, create a container, install a sample app tree, scan and
    manifest it, snapshot, change files, diff, delta snapshot, restore, clone, verify,
    and read the event log.
    """
    import bodega
    from bodega import fs, manifest

    from bodega.errors import os_error
    from bodega.home import Home

    home_path = Home.at(home if home else tempfile.mkdtemp(prefix="bodega-demo-")).root
    try:
        used = home_path.exists() and (not home_path.is_dir() or any(home_path.iterdir()))
    except OSError as e:
        raise os_error(e, "look at the demo's home", home_path) from None
    if used:
        raise click.UsageError(f"{home_path} is not empty, or not a directory: the demo needs a fresh home")
    log = DemoLog(as_json)
    if not as_json:
        click.echo(f"bodega {bodega.__version__} demo in {home_path}\n")

    with bodega.open(home_path) as b:
        info = log.step("probe copy-on-write", lambda: (
            lambda i: (f"{i.fs_name}: {'clones copy-on-write' if i.can_clone else 'no reflink, copies instead'}",
                       {"filesystem": i.fs_name, "cow": i.can_clone}))(fs.fs_info(home_path)))
        c = log.step("create container 'app'", lambda: (
            lambda c: (f"{c.id} ({c.platform.value})", {"container": str(c.id), "path": c.storage_path}))(
                b.containers.create("app", description="sample app", tags=["demo"])))
        root = Path(c["path"]) / "root"
        log.step(f"install a sample app ({files} files)", lambda: (
            lambda n: (human_bytes(n), {"bytes": n}))(build_sample_app(root, files)))
        log.step("scan the tree (native, no GIL)", lambda: (
            lambda s: (f"{len(s)} entries, {s.nbytes / max(1, len(s)):.0f} B/entry held",
                       {"entries": len(s)}))(fs.scan(root)))
        log.step("BLAKE3 manifest", lambda: (
            lambda m: (f"root {m.root_hex[:16]}...", {"root": m.root_hex}))(manifest.build(root)))
        first = log.step("snapshot 'installed'", lambda: (
            lambda s: (f"{s.type.value}, {human_bytes(s.size_bytes)} stored",
                       {"snapshot": str(s.id), "type": s.type.value}))(b.snapshots.create("app", label="installed")))

        def change() -> tuple[str, dict[str, Any]]:
            (root / "share/doc/part00004.dat").write_bytes(b"edited by the demo\n")
            (root / "bin/part00000.dat").unlink()
            (root / "share/doc/NEWS").write_text("new in 1.1\n")
            (root / "bin/app").chmod(0o700)
            return "edited 1, deleted 1, added 1, chmod 1", {}

        log.step("change the app (an 'update')", change)
        diff = log.step("diff against the snapshot", lambda: (
            lambda d: (" ".join(f"{k}={v}" for k, v in d.counts().items() if v) or "no change",
                       {"diff": d.to_json(), "text": d.to_text()}))(b.snapshots.diff("app")))
        if not as_json:
            click.echo("".join(f"      {line}\n" for line in diff["text"].splitlines()), nl=False)
        log.step("snapshot 'updated' (delta)", lambda: (
            lambda s: (f"{s.type.value}, {human_bytes(s.size_bytes)} new", {"snapshot": str(s.id)}))(
                b.snapshots.create("app", label="updated")))
        log.step("restore 'installed'", lambda: (
            b.snapshots.restore("app", first["snapshot"]), ("atomic: old tree or new, never half", {}))[1])
        log.step("diff after restore", lambda: (
            lambda d: ("clean" if not len(d) else f"{len(d)} changes", {"changes": len(d)}))(
                b.snapshots.diff("app", first["snapshot"])))
        log.step("clone container -> 'app-copy'", lambda: (
            lambda c2: (f"{c2.id}", {"clone": str(c2.id)}))(b.containers.clone("app", "app-copy")))
        log.step("verify every snapshot (read data)", lambda: (
            lambda r: ("ok" if r["ok"] else f"DAMAGED: {r}", {"verify_ok": r["ok"]}))(
                b.snapshots.verify(read_data=1.0)))
        log.step("event log", lambda: (
            lambda ev: (f"{len(ev)} events, last: {ev[-1].message if ev else '-'}", {"events": len(ev)}))(
                b.events.list(limit=None)))

    if as_json:
        import json

        click.echo(json.dumps({"home": str(home_path), "steps": log.steps}, indent=2, default=str))
    else:
        click.echo(f"\nhome kept at {home_path}; try: BODEGA_HOME={home_path} bodega container list")


COMMANDS = [demo]
