"""`bodega demo`."""
from __future__ import annotations

COMMANDS: list = []
