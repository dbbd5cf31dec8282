"""Options shared by every command, each defined once."""
from __future__ import annotations

import math
from typing import Any

import click

# A count or a cursor: what the catalogue's 64-bit integers hold.
COUNT = click.IntRange(0, 2**63 - 1)


class Seconds(click.ParamType):
    """A duration in seconds: a finite number at least 0 (or inf, where waiting for ever makes sense)."""

    name = "seconds"

    def __init__(self, forever: bool = False) -> None:
        self.forever = forever

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        """value as seconds, or a usage error saying what a duration is."""
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if math.isnan(seconds) or seconds < 0 or (math.isinf(seconds) and not self.forever):
            self.fail(f"{value!r} is not a number of seconds at least 0"
                      + (" (or inf)" if self.forever else ""), param, ctx)
        return seconds


json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")

home_option = click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=str),
    envvar="BODEGA_HOME",
    help="bodega's home directory (default: $BODEGA_HOME or the platform's user data dir).",
)

detach_option = click.option(
    "--detach", is_flag=True,
    help="Queue the task for `bodega agent` and print its id instead of running it here.",
)

wait_option = click.option(
    "--wait", is_flag=True,
    help="If another task is running on the container, wait for it instead of failing.",
)


def open_bodega(home: str | None):  # noqa: ANN201 (a Bodega; imported lazily to keep `bodega --help` fast)
    """Opens the home given by --home / $BODEGA_HOME (or the default one)."""
    from bodega.services import open as open_home

    return open_home(home)
