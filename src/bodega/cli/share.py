"""`bodega container share|unshare|shares`: letting other users see or operate a container."""
from __future__ import annotations

import click

from bodega import errors
from bodega.cli.container import container, container_argument
from bodega.cli.error_list import exit_status
from bodega.cli.options import home_option, json_option, open_bodega
from bodega.cli.output import emit, table

SHARE_ERRORS = (errors.ContainerNotFound, errors.UserNotFound, errors.InvalidInput, errors.Forbidden)


@container.command("share", epilog=exit_status(*SHARE_ERRORS))
@container_argument()
@click.argument("email")
@click.option("--role", type=click.Choice(["viewer", "operator"]), default="viewer", show_default=True,
              help="viewer: see it; operator: also snapshot, restore, clone, install, run, export it.")
@json_option
@home_option
def share(container: str, email: str, role: str, as_json: bool, home: str | None) -> None:
    """Share a container with the user EMAIL (never beyond their own role)."""
    with open_bodega(home) as b:
        info = b.shares.share(container, email, role)
    emit(info.to_dict(), as_json, lambda _: f"{info.container_name}: shared with {info.email} as {info.role.value}")


@container.command("unshare", epilog=exit_status(*SHARE_ERRORS, errors.NotFound))
@container_argument()
@click.argument("email")
@json_option
@home_option
def unshare(container: str, email: str, as_json: bool, home: str | None) -> None:
    """Stop sharing a container with the user EMAIL."""
    with open_bodega(home) as b:
        b.shares.unshare(container, email)
    emit({"container": container, "user": email, "shared": False}, as_json,
         lambda _: f"{container}: no longer shared with {email}")


@container.command("shares", epilog=exit_status(errors.ContainerNotFound))
@container_argument()
@json_option
@home_option
def shares(container: str, as_json: bool, home: str | None) -> None:
    """List who a container is shared with."""
    with open_bodega(home) as b:
        found = b.shares.list(container)
    rows = [s.to_dict() for s in found]
    emit(rows, as_json, lambda _: table(rows, ["user", "role", "created_at"]) if rows else "not shared")


COMMANDS: list[click.Command] = []  # its commands join the `container` group
