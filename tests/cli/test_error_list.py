"""`bodega errors`: the documented exit codes."""
from __future__ import annotations

import json

from click.testing import CliRunner

from bodega import errors
from bodega.cli import main


def test_errors_lists_every_class_with_its_code():
    result = CliRunner().invoke(main, ["errors", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert {r["name"]: r["code"] for r in rows} == {c.__name__: c.exit_code for c in errors.all_error_classes()}
    assert {"code": 46, "name": "NameTaken", "message": "The name is taken."} in rows
