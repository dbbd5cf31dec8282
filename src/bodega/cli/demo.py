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


def build_app_archives(where: Path) -> tuple[Path, Path]:
    """(a small app's tar.gz with its bodega-app.json, a hostile tar.gz whose last member climbs out)."""
    import io
    import json
    import tarfile

    def tar(path: Path, files: list[tuple[str, bytes, int]]) -> Path:
        with tarfile.open(path, "w:gz") as tf:
            for name, data, mode in files:
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), mode
                tf.addfile(info, io.BytesIO(data))
        return path

    meta = {"name": "hello", "version": "1.0", "vendor": "bodega demo",
            "entry_points": [{"name": "hello", "command": "bin/hello"}]}
    script = b'#!/bin/sh\necho "hello from $(pwd)" > "$HOME/hello.txt"\n'
    good = tar(where / "hello-1.0.tar.gz", [("bodega-app.json", json.dumps(meta).encode(), 0o644),
                                            ("bin/hello", script, 0o755), ("share/README", b"a demo app\n", 0o644)])
    evil = tar(where / "evil.tar.gz", [("bin/looks-fine", b"#!/bin/sh\n", 0o755),
                                       ("../../outside-the-container", b"gotcha\n", 0o644)])
    return good, evil


def app_steps(b: Any, log: "DemoLog", scratch: Path) -> None:
    """install -> run -> footprint -> a failed install rolled back, in a container of their own."""
    from bodega import errors
    from bodega.storage import manifest as mf

    good, evil = build_app_archives(scratch)
    c = b.containers.create("tools", settings={"network": {"default": "deny"}, "memory_limit_mb": 256})
    root = Path(c.storage_path) / "root"
    log.step("install 'hello' (a transaction)", lambda: (
        lambda a: (f"{a.status.value} at {a.install_path}; pre- and post-install snapshots",
                   {"app": a.name, "status": a.status.value}))(b.apps.install("tools", good)))

    def run() -> tuple[str, dict[str, Any]]:
        try:
            r = b.apps.run("tools", "hello")
        except errors.IsolationUnavailable as e:
            return f"skipped: {e}", {"run": None}
        said = (root / "home/hello.txt").read_text().strip()
        return f"exit {r.exit_code}; it wrote $HOME/hello.txt: {said!r}", {"exit_code": r.exit_code, "wrote": said}

    log.step("run 'hello' isolated", run)
    log.step("footprint of 'hello'", lambda: (
        lambda c: (f"{c['added']} added ({human_bytes(c['bytes_added'])}), {c['changed']} changed, "
                   f"{c['removed']} removed", {"footprint": c}))(b.apps.footprint("tools", "hello").counts()))

    def failed() -> tuple[str, dict[str, Any]]:
        before = mf.build(root).root_hex
        try:
            b.apps.install("tools", evil, name="evil", entries=["x=bin/looks-fine"])
        except errors.UnsafeArchive as e:
            same = mf.build(root).root_hex == before
            return (f"refused ({e.reason}); container {'unchanged' if same else 'CHANGED'}",
                    {"refused": str(e), "unchanged": same})
        return "NOT refused", {"refused": None, "unchanged": False}

    log.step("install a hostile archive", failed)


def tune_step(b: Any) -> tuple[str, dict[str, Any]]:
    """A quick `bodega tune` of the demo's home: what it chose, what it kept."""
    from bodega.services import tuning

    record = tuning.tune(b, files=50, rounds=1)
    chosen = {k: v for k, v in record["values"].items() if v is not None}
    line = ", ".join(f"{k}={v}" for k, v in chosen.items()) or "every default kept"
    return f"{line} (bodega tune --show)", {"tuned": chosen}


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
    manifest it, snapshot, change files, diff, delta snapshot, restore, clone, export,
    verify the package, import it as a copy and diff it, install an app as a transaction,
    run it isolated, read its footprint, refuse a hostile archive (rolled back), verify, tune
    the tunables on the home's volume, and read the event log.
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
        package = home_path / "exports" / "app.zip"
        log.step("export 'app' (zip package)", lambda: (
            lambda t: (f"{human_bytes(t.result['bytes'])}, blake3 {t.result['integrity_hash'][:16]}...",
                       {"package": str(package), "integrity_hash": t.result["integrity_hash"]}))(
                b.exports.export("app", location=str(package))))
        log.step("verify the package", lambda: (
            lambda r: (f"ok: {r['members']} members checked, root {r['root'][:16]}...", {"package_ok": r["ok"]}))(
                b.exports.verify(package)))
        log.step("import it as 'app-imported'", lambda: (
            lambda t: (f"{t.result['files']} files, root {t.result['root'][:16]}...",
                       {"imported": t.result["container_id"]}))(
                b.imports.import_package(package, name="app-imported")))
        def same_tree() -> tuple[str, dict[str, Any]]:
            imported = Path(b.containers.get("app-imported").storage_path) / "root"
            d = manifest.diff(root, imported)
            return ("clean: the same tree" if not len(d) else f"{len(d)} differences"), {"import_clean": not len(d)}

        log.step("diff the import against 'app'", same_tree)
        app_steps(b, log, home_path / "tmp")
        log.step("verify every snapshot (read data)", lambda: (
            lambda r: ("ok" if r["ok"] else f"DAMAGED: {r}", {"verify_ok": r["ok"]}))(
                b.snapshots.verify(read_data=1.0)))
        log.step("tune (50 files, 1 round)", lambda: tune_step(b))
        log.step("event log", lambda: (
            lambda ev: (f"{len(ev)} events, last: {ev[-1].message if ev else '-'}", {"events": len(ev)}))(
                b.events.list(limit=None)))

    if as_json:
        import json

        click.echo(json.dumps({"home": str(home_path), "steps": log.steps}, indent=2, default=str))
    else:
        click.echo(f"\nhome kept at {home_path}; try: BODEGA_HOME={home_path} bodega container list")


COMMANDS = [demo]
