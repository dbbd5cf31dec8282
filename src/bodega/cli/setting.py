"""`bodega setting list|set`: machine-wide settings such as the MFA policy."""
from __future__ import annotations

import click

from bodega import errors
from bodega.cli.error_list import exit_status
from bodega.cli.options import home_option, json_option, open_bodega
from bodega.cli.output import emit, table


def _shown(value: object) -> object:
    """A value for people: an unset tunable (None) is `auto`."""
    return "auto" if value is None else value


@click.group("setting")
def setting() -> None:
    """Show and change machine-wide settings (owners change them)."""


@setting.command("list")
@json_option
@home_option
def list_(as_json: bool, home: str | None) -> None:
    """List settings with their values and defaults."""
    with open_bodega(home) as b:
        rows = b.settings.list()
    shown = [{**r, "value": _shown(r["value"]), "default": _shown(r["default"])} for r in rows]
    emit(rows, as_json, lambda _: table(shown, ["key", "value", "default", "help"]))


@setting.command("set", epilog=exit_status(errors.InvalidInput, errors.Forbidden))
@click.argument("key")
@click.argument("value")
@json_option
@home_option
def set_(key: str, value: str, as_json: bool, home: str | None) -> None:
    """Set KEY to VALUE, e.g. `bodega setting set auth.require_mfa true`."""
    with open_bodega(home) as b:
        stored = b.settings.set(key, value)
    emit({"key": key, "value": stored}, as_json, lambda _: f"{key} = {_shown(stored)}")


COMMANDS = [setting]
