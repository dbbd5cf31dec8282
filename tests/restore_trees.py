"""The trees restore tests go between: S1 and S2 differ by every kind of step a restore
journal has, and S2 turns a directory of S1 into a link to a sentinel outside the tree (the
shape of issue 10, item 1)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from treefacts import facts, root_facts


def outside(base: Path) -> Path:
    """The sentinel: a directory outside every tree, holding the names the trees use."""
    out = base / "outside"
    (out / "x").mkdir(parents=True)
    for name in ("a", "b", "c", "inner", "f"):
        (out / name).write_bytes(b"outside " + name.encode())
    (out / "x" / "secret").write_bytes(b"keep me")
    return out


def sentinel(out: Path) -> tuple:
    """Everything about the sentinel, byte for byte (compare before and after)."""
    return facts(out), root_facts(out)


def s1(tree: Path) -> None:
    """S1: link/ is a directory holding a, b, c."""
    (tree / "link").mkdir(parents=True)
    for name in ("a", "b", "c"):
        (tree / "link" / name).write_bytes(name.encode() * 100)
    (tree / "keep").mkdir(exist_ok=True)
    for i in range(5):
        (tree / "keep" / f"u{i}").write_bytes(b"unchanged %d" % i)
    (tree / "keep" / "mod").write_bytes(b"old content")
    (tree / "keep" / "gone").write_bytes(b"removed by the restore")
    (tree / "keep" / "chmod").write_bytes(b"mode changes")
    (tree / "t2d").write_bytes(b"a file, then a directory")
    (tree / "d2f").mkdir()
    (tree / "d2f" / "x").write_bytes(b"x")


def s2(tree: Path, out: Path) -> None:
    """S1 changed into S2: link is a link to out, and one change of every other kind."""
    shutil.rmtree(tree / "link")
    os.symlink(out, tree / "link")
    (tree / "keep" / "mod").write_bytes(b"new content, longer")
    (tree / "keep" / "gone").unlink()
    os.chmod(tree / "keep" / "chmod", 0o600)
    (tree / "t2d").unlink()
    (tree / "t2d").mkdir()
    (tree / "t2d" / "inner").write_bytes(b"inner")
    shutil.rmtree(tree / "d2f")
    (tree / "d2f").write_bytes(b"a directory, then a file")
    (tree / "newdir" / "deep").mkdir(parents=True)
    (tree / "newdir" / "deep" / "f").write_bytes(b"new")
    os.link(tree / "keep" / "u1", tree / "keep" / "h2")
