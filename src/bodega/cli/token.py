"""`bodega token create|list|revoke`: bearer tokens for scripts calling the HTTP API."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from bodega import errors
from bodega.cli.error_list import exit_status
from bodega.cli.options import home_option, json_option, open_bodega
from bodega.cli.output import emit, local_time, short_id, table

if TYPE_CHECKING:
    from bodega.services.tokens import TokenInfo


def row(t: "TokenInfo") -> dict[str, Any]:
    """A token as a table row."""
    return {"id": short_id(t.id), "user": t.email, "name": t.name, "state": "revoked" if t.revoked_at else "active",
            "created": local_time(t.created_at), "last used": local_time(t.last_used_at)}


@click.group("token")
def token() -> None:
    """API tokens: `Authorization: Bearer TOKEN` on requests to `bodega serve`."""


@token.command("create", epilog=exit_status(errors.UserNotFound, errors.Forbidden, errors.InvalidInput,
                                             errors.WrongStatus))
@click.option("--user", "email", help="The token's user (default: you).")
@click.option("--name", default="", help="What the token is for, e.g. 'ci'.")
@json_option
@home_option
def create(email: str | None, name: str, as_json: bool, home: str | None) -> None:
    """Create a token and print it: this is the only time it is shown."""
    with open_bodega(home) as b:
        made = b.tokens.create(email, name)
    emit(made.to_dict(), as_json, lambda _: made.token)


@token.command("list", epilog=exit_status(errors.UserNotFound, errors.Forbidden, errors.InvalidInput))
@click.option("--user", "email", help="Only this user's tokens.")
@click.option("--all", "include_revoked", is_flag=True, help="Also revoked tokens.")
@json_option
@home_option
def list_(email: str | None, include_revoked: bool, as_json: bool, home: str | None) -> None:
    """List tokens (never the tokens themselves)."""
    with open_bodega(home) as b:
        found = b.tokens.list(email=email, include_revoked=include_revoked)
    emit([t.to_dict() for t in found], as_json,
         lambda _: table([row(t) for t in found], ["id", "user", "name", "state", "created", "last used"])
         if found else "no tokens")


@token.command("revoke", epilog=exit_status(errors.NotFound, errors.AmbiguousReference))
@click.argument("token_id")
@json_option
@home_option
def revoke(token_id: str, as_json: bool, home: str | None) -> None:
    """Revoke a token by its id (the first column of `token list`)."""
    with open_bodega(home) as b:
        t = b.tokens.revoke(token_id)
    emit(t.to_dict(), as_json, lambda _: f"revoked token {short_id(t.id)} of {t.email}")


COMMANDS = [token]
