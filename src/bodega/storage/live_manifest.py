"""Where a tree's live manifest is kept: its last full manifest with its stat cache, which the
snapshot engine saves in the container's state directory after a snapshot or a restore (a
leaf module: the light diff, services/snapshot_diff.py, finds it without the engine)."""
from __future__ import annotations

from pathlib import Path

FILE_NAME = "live.manifest"


def live_manifest_path(state_dir: Path) -> Path:
    """Where the tree's last full manifest with its stat cache is kept."""
    return state_dir / FILE_NAME
