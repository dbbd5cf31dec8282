"""Options shared by every command, each defined once."""
from __future__ import annotations

import click

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
