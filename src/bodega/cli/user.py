"""`bodega user ...`: users, roles, passwords and second factors (owners manage everyone)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from bodega import errors
from bodega.cli.error_list import exit_status
from bodega.cli.options import home_option, json_option, open_bodega
from bodega.cli.output import emit, table
from bodega.cli.secrets_input import read_secret

if TYPE_CHECKING:
    from bodega.services.users import UserInfo

ROLES = ["owner", "operator", "viewer"]
COMMON_ERRORS = (errors.UserNotFound, errors.InvalidInput, errors.Forbidden, errors.DatabaseLocked)


def row(u: "UserInfo") -> dict[str, Any]:
    """A user as a table row."""
    return {"email": u.email, "name": u.display_name, "role": u.role.value,
            "status": "disabled" if u.disabled else "enabled", "password": "yes" if u.has_password else "no",
            "mfa": "totp" if u.mfa_enabled else "-"}


def describe(u: "UserInfo", counts: dict[str, int] | None = None) -> str:
    """A user for people, one field per line."""
    fields = [("email", u.email), ("name", u.display_name), ("role", u.role.value),
              ("status", "disabled" if u.disabled else "enabled"), ("password", "set" if u.has_password else "none"),
              ("mfa", f"totp, {u.recovery_codes_left} recovery codes left" if u.mfa_enabled else "none")]
    if counts:
        fields += [("sessions", counts["sessions"]), ("tokens", counts["tokens"])]
    return "\n".join(f"{k + ':':<11}{v}" for k, v in fields)


password_stdin_option = click.option("--password-stdin", is_flag=True,
                                     help="Read the password from the first line of stdin instead of a prompt.")


@click.group("user")
def user() -> None:
    """Add users, change their role, password and second factor, disable them.

    \b
    Roles: owner (everything, users included), operator (create, install, run, snapshot,
    restore, clone, export, import, cancel), viewer (read only).  The local command line acts
    as this machine's owner (<login>@localhost) and needs no sign-in; users sign in to
    `bodega serve` with their password (and a TOTP code once enrolled).
    """


@user.command("add", epilog=exit_status(*COMMON_ERRORS, errors.NameTaken))
@click.argument("email")
@click.option("--role", "-r", type=click.Choice(ROLES), default="viewer", show_default=True, help="The user's role.")
@click.option("--name", "display_name", default="", help="The name shown in the panel (default: the email).")
@password_stdin_option
@click.option("--no-password", is_flag=True, help="No password: they cannot sign in until `user passwd`.")
@json_option
@home_option
def add(email: str, role: str, display_name: str, password_stdin: bool, no_password: bool, as_json: bool,
        home: str | None) -> None:
    """Add a user EMAIL, asking for their password.

    \b
    Examples:
      bodega user add ana@example.org --role operator
      printf '%s\\n' "$PASSWORD" | bodega user add ci@example.org --role viewer --password-stdin
    """
    if no_password and password_stdin:
        raise errors.InvalidInput("--no-password and --password-stdin exclude each other")
    password = None if no_password else read_secret("password", password_stdin)
    with open_bodega(home) as b:
        u = b.users.create(email, display_name, role, password=password)
    emit(u.to_dict(), as_json, lambda _: describe(u))


@user.command("list", epilog=exit_status(errors.Forbidden, errors.DatabaseLocked))
@json_option
@home_option
def list_(as_json: bool, home: str | None) -> None:
    """List users."""
    with open_bodega(home) as b:
        found = b.users.list()
    emit([u.to_dict() for u in found], as_json,
         lambda _: table([row(u) for u in found], ["email", "name", "role", "status", "password", "mfa"]))


@user.command("show", epilog=exit_status(*COMMON_ERRORS))
@click.argument("email")
@json_option
@home_option
def show(email: str, as_json: bool, home: str | None) -> None:
    """Show a user, with their live sessions and API tokens."""
    with open_bodega(home) as b:
        u = b.users.show(email)
        counts = b.users.tokens_and_sessions(email)
    emit({**u.to_dict(), **counts}, as_json, lambda _: describe(u, counts))


@user.command("set-role", epilog=exit_status(*COMMON_ERRORS, errors.Conflict))
@click.argument("email")
@click.argument("role", type=click.Choice(ROLES))
@json_option
@home_option
def set_role(email: str, role: str, as_json: bool, home: str | None) -> None:
    """Change a user's ROLE (the last owner stays an owner)."""
    with open_bodega(home) as b:
        u = b.users.set_role(email, role)
    emit(u.to_dict(), as_json, lambda _: f"{u.email}: {u.role.value}")


def _switch(verb: str, disabled: bool, help: str) -> click.Command:
    @user.command(verb, help=help, epilog=exit_status(*COMMON_ERRORS, errors.Conflict))
    @click.argument("email")
    @json_option
    @home_option
    def command(email: str, as_json: bool, home: str | None) -> None:
        with open_bodega(home) as b:
            u = b.users.set_disabled(email, disabled)
        emit(u.to_dict(), as_json, lambda _: f"{u.email}: {'disabled' if u.disabled else 'enabled'}")

    return command


disable = _switch("disable", True, "Disable a user: no sign-in, their sessions end, their API tokens are refused.")
enable = _switch("enable", False, "Enable a disabled user again.")


@user.command("passwd", epilog=exit_status(*COMMON_ERRORS))
@click.argument("email")
@password_stdin_option
@json_option
@home_option
def passwd(email: str, password_stdin: bool, as_json: bool, home: str | None) -> None:
    """Set a user's password (their sessions end)."""
    password = read_secret("password", password_stdin)
    with open_bodega(home) as b:
        u = b.users.set_password(email, password)
    emit(u.to_dict(), as_json, lambda _: f"{u.email}: password set")


@user.command("mfa-enrol", epilog=exit_status(*COMMON_ERRORS, errors.Conflict, errors.MfaCodeInvalid))
@click.argument("email")
@click.option("--code-stdin", is_flag=True, help="Read the confirming code from stdin instead of a prompt.")
@json_option
@home_option
def mfa_enrol(email: str, code_stdin: bool, as_json: bool, home: str | None) -> None:
    """Enrol a TOTP second factor: scan the QR code, then type a code from the app.

    The recovery codes printed at the end are shown once: keep them somewhere safe.
    """
    import sys

    with open_bodega(home) as b:
        enrolment = b.mfa.begin(email)
        if not as_json:
            try:
                import segno

                if sys.stdout.isatty():
                    segno.make(enrolment.uri, error="m").terminal(compact=True)
            except ImportError:
                pass
            click.echo(f"secret: {enrolment.secret}\nuri:    {enrolment.uri}")
        else:
            click.echo(__import__("json").dumps(enrolment.to_dict()), err=True)
        code = read_secret("code", code_stdin, confirm=False)
        codes = b.mfa.confirm(email, code)
    emit({"email": enrolment.email, "recovery_codes": codes}, as_json,
         lambda _: "second factor enabled; recovery codes (each works once):\n  " + "\n  ".join(codes))


@user.command("mfa-disable", epilog=exit_status(*COMMON_ERRORS))
@click.argument("email")
@json_option
@home_option
def mfa_disable(email: str, as_json: bool, home: str | None) -> None:
    """Remove a user's second factor (for a lost device); they can enrol a new one."""
    with open_bodega(home) as b:
        u = b.mfa.disable(email)
    emit(u.to_dict(), as_json, lambda _: f"{u.email}: second factor removed")


@user.command("recovery-codes", epilog=exit_status(*COMMON_ERRORS, errors.WrongStatus))
@click.argument("email")
@json_option
@home_option
def recovery_codes(email: str, as_json: bool, home: str | None) -> None:
    """Replace a user's recovery codes (the old ones stop working)."""
    with open_bodega(home) as b:
        codes = b.mfa.new_recovery_codes(email)
    emit({"email": email, "recovery_codes": codes}, as_json, lambda _: "\n".join(codes))


COMMANDS = [user]
