"""The benchmark tree: bodega.storage.sample_tree (one definition, shipped for `bodega tune` and
`bodega bench`), with its command line.

`python bench/treegen.py DEST [--files N] [--seed S] [--scale X]` writes the tree under DEST
(which must not exist) and prints what it holds.
"""
from __future__ import annotations

import argparse
import os
import sys

from bodega.storage.sample_tree import (BINARY, RANDOM, TEXT, FileSpec, TreePlan, TreeStats,  # noqa: F401
                                        generate, plan_tree, write_tree)


def main(argv: list[str] | None = None) -> int:
    """The command line: generate a tree and print what it holds."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dest", help="directory to create (must not exist)")
    ap.add_argument("--files", type=int, default=100_000, help="regular files (default 100000)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiplier on every file size (default 1)")
    args = ap.parse_args(argv)
    if os.path.lexists(args.dest):
        ap.error(f"{args.dest} exists already")
    try:
        s = generate(args.dest, args.files, args.seed, args.scale)
    except ValueError as exc:
        ap.error(str(exc))
    print(f"{args.dest}: {s.files} files, {s.dirs} directories, {s.symlinks} symlinks, "
          f"{s.hardlinks} hard links, {s.bytes / 2**20:.0f} MiB in {s.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
