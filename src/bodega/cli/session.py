"""`bodega session list|revoke`: sign-in sessions of the panel and the API."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from bodega import errors
from bodega.cli.error_list import exit_status
from bodega.cli.options import home_option, json_option, open_bodega
from bodega.cli.output import emit, local_time, short_id, table

if TYPE_CHECKING:
    from bodega.services.sessions import SessionInfo


def row(s: "SessionInfo") -> dict[str, Any]:
    """A session as a table row."""
    state = "revoked" if s.revoked_at else "active" if s.active() else "expired"
    return {"id": short_id(s.id), "user": s.email, "state": state, "mfa": s.mfa_state.value,
            "address": s.client_info.get("address", ""), "created": local_time(s.created_at),
            "last seen": local_time(s.last_seen_at), "expires": local_time(s.expires_at)}


@click.group("session")
def session() -> None:
    """List and revoke sign-in sessions (yours; everyone's for an owner)."""


@session.command("list", epilog=exit_status(errors.UserNotFound, errors.Forbidden, errors.InvalidInput))
@click.option("--user", "email", help="Only this user's sessions.")
@click.option("--all", "include_ended", is_flag=True, help="Also revoked and expired sessions.")
@json_option
@home_option
def list_(email: str | None, include_ended: bool, as_json: bool, home: str | None) -> None:
    """List sessions, newest first."""
    with open_bodega(home) as b:
        found = b.sessions.list(email=email, include_ended=include_ended)
    emit([s.to_dict() for s in found], as_json,
         lambda _: table([row(s) for s in found], ["id", "user", "state", "mfa", "address", "created", "last seen",
                                                   "expires"]) if found else "no sessions")


@session.command("revoke", epilog=exit_status(errors.NotFound, errors.AmbiguousReference))
@click.argument("session_id")
@json_option
@home_option
def revoke(session_id: str, as_json: bool, home: str | None) -> None:
    """End a session now (its browser must sign in again)."""
    with open_bodega(home) as b:
        s = b.sessions.revoke(session_id)
    emit(s.to_dict(), as_json, lambda _: f"revoked session {short_id(s.id)} of {s.email}")


COMMANDS = [session]
