"""The served fixtures for the panel tests, and where their screenshots go (printed at the end of the run)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from served import anonymous, idle_server, served, signin  # noqa: F401

_SHOTS: list[Path] = []


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    """The directory the browser tests save screenshots in: $BODEGA_ARTIFACTS/panel, else the run's temp dir."""
    root = os.environ.get("BODEGA_ARTIFACTS")
    where = Path(root) / "panel" if root else tmp_path_factory.mktemp("panel-screenshots")
    where.mkdir(parents=True, exist_ok=True)
    _SHOTS.append(where)
    return where


def pytest_terminal_summary(terminalreporter) -> None:
    for where in _SHOTS:
        files = sorted(p.name for p in where.glob("*.png"))
        if files:
            terminalreporter.write_line(f"panel screenshots ({len(files)}): {where}")
