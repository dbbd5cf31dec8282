"""Running the CLI in-process on a fresh home."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from bodega.cli import main


@pytest.fixture
def run(home):
    """run(*args, code=0): invokes `bodega ARGS` and checks its exit code."""
    runner = CliRunner()

    def invoke(*args: str, code: int = 0):
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result

    return invoke
