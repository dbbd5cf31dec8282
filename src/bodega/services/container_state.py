"""Where the snapshot engine keeps a container's state beside its tree (its live manifest,
head and restore staging): read by the snapshot service and by the light diff without it."""
from __future__ import annotations

from pathlib import Path


def state_dir(container_dir: Path) -> Path:
    """The engine's state directory of the container whose directory is container_dir."""
    return container_dir / "state"
