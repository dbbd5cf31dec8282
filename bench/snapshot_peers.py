"""The peers the snapshot benchmarks compare with (restic, borg), and the 1% change they share."""
from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

from conftest import need, run_peer

PEER_ENV = dict(os.environ, RESTIC_PASSWORD="bench", BORG_PASSPHRASE="",
                BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK="yes", BORG_RELOCATED_REPO_ACCESS_IS_OK="yes")


def require(tool: str) -> None:
    """Skips (fails in CI) when a peer tool is not installed (apt: restic, borgbackup)."""
    if shutil.which(tool) is None:
        need(f"{tool} is not installed (apt-get install {'borgbackup' if tool == 'borg' else tool})")


def peer(*argv: str) -> None:
    """Runs a peer command with the passwords set, failing with its stderr."""
    done = subprocess.run(argv, env=PEER_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[-500:]}")


def restic_init(repo: Path) -> None:
    require("restic")
    peer("restic", "init", "--repo", str(repo))


def restic_backup(repo: Path, tree: Path) -> None:
    peer("restic", "backup", "--repo", str(repo), "--quiet", str(tree))


def restic_restore(repo: Path, target: Path) -> None:
    peer("restic", "restore", "--repo", str(repo), "latest", "--target", str(target))


def borg_create(repo: Path, tree: Path) -> None:
    require("borg")
    peer("borg", "init", "--encryption", "none", str(repo))
    peer("borg", "create", "--compression", "zstd,3", f"{repo}::first", str(tree))


def disk_usage(path: Path) -> int:
    """Bytes allocated under path (du -s -B1)."""
    out = subprocess.run(["du", "-s", "-B1", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def remove(path: Path) -> None:
    run_peer(["rm", "-rf", str(path)])


class OnePercentChange:
    """Appends a few bytes to 1% of the tree's files (the same ones each time) and undoes it."""

    def __init__(self, tree: Path, seed: int = 1) -> None:
        files = sorted(p for p in tree.rglob("*") if p.is_file() and not p.is_symlink())
        rng = random.Random(seed)
        self.files = rng.sample(files, max(1, len(files) // 100))
        self.sizes = {p: p.stat().st_size for p in self.files}
        self.count = 0

    def apply(self) -> int:
        """Changes the files; returns how many."""
        self.count += 1
        for p in self.files:
            with open(p, "ab") as f:
                f.write(b"change %d\n" % self.count)
        return len(self.files)

    def undo(self) -> None:
        """Gives the files their old content back."""
        for p, size in self.sizes.items():
            os.truncate(p, size)
