"""`bodega fs`."""
from __future__ import annotations

COMMANDS: list = []
