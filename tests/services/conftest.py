"""An open bodega on a fresh home for service tests."""
from __future__ import annotations

import pytest

import bodega


@pytest.fixture
def b(home):
    """bodega.open() on a fresh home, acting as the local user."""
    with bodega.open(home) as opened:
        yield opened
