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
