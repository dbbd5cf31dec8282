"""`bodega errors`: every error class with its exit code and message."""
from __future__ import annotations

import click

from bodega.cli.options import json_option
from bodega.cli.output import emit, table
from bodega.errors import BodegaError, all_error_classes


def exit_status(*classes: type[BodegaError]) -> str:
    """The EXIT STATUS section of a command's help, listing the errors it can end with."""
    lines = ["\b", "EXIT STATUS", "  0 ok, 1 internal error, 2 usage error"]
    lines += [f"  {cls.exit_code} {cls.__name__}: {(cls.__doc__ or '').strip().splitlines()[0]}"
              for cls in sorted(classes, key=lambda c: c.exit_code)]
    return "\n".join(lines)


@click.command("errors")
@json_option
def errors_command(as_json: bool) -> None:
    """List every error bodega can end with, its exit code and its message."""
    rows = [{"code": cls.exit_code, "name": cls.__name__, "message": (cls.__doc__ or "").strip().splitlines()[0]}
            for cls in sorted(all_error_classes(), key=lambda c: c.exit_code)]
    emit(rows, as_json, lambda r: table(r, ["code", "name", "message"]))


COMMANDS = [errors_command]
