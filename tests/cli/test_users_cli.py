"""`bodega user|session|token|setting|container share` and `serve`: wiring, JSON, one-line errors with their codes."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import bodega
from bodega import errors
from bodega.cli import main


def invoke(args, code=0, stdin=None):
    result = CliRunner().invoke(main, args, input=stdin, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def test_user_add_list_set_role_disable_enable(home):
    out = invoke(["user", "add", "ana@example.org", "--role", "operator", "--password-stdin", "--json"],
                 stdin="correct horse\n")
    assert json.loads(out.stdout)["has_password"] is True
    rows = json.loads(invoke(["user", "list", "--json"]).stdout)
    assert {r["email"]: r["role"] for r in rows}["ana@example.org"] == "operator"
    assert "ana@example.org: viewer" in invoke(["user", "set-role", "ana@example.org", "viewer"]).output
    assert "disabled" in invoke(["user", "disable", "ana@example.org"]).output
    assert "enabled" in invoke(["user", "enable", "ana@example.org"]).output
    shown = json.loads(invoke(["user", "show", "ana@example.org", "--json"]).stdout)
    assert shown["sessions"] == 0 and shown["tokens"] == 0


@pytest.mark.parametrize("args,stdin,code,words", [
    (["user", "add", "not-an-email", "--no-password"], None, 10, "is not an email address"),
    (["user", "add", "a@example.org", "--password-stdin"], "short\n", 10, "8 to 1024"),
    (["user", "add", "a@example.org", "--password-stdin"], "", 10, "stdin is empty"),
    (["user", "add", "a@example.org"], None, 10, "--password-stdin"),  # no terminal to prompt on
    (["user", "set-role", "nobody@example.org", "viewer"], None, 45, "no user"),
    (["user", "passwd", "nobody@example.org", "--password-stdin"], "password12\n", 45, "no user"),
    (["session", "revoke", "0000"], None, 11, "no session"),
    (["token", "revoke", "zz"], None, 11, "no API token"),
    (["token", "create", "--user", "nobody@example.org"], None, 45, "no user"),
    (["setting", "set", "auth.idle_minutes", "zero"], None, 10, "whole number"),
    (["setting", "set", "no.such", "1"], None, 10, "no setting"),
    (["container", "share", "nope", "a@example.org"], None, 43, "no container"),
])
def test_bad_input_is_one_line_with_its_exit_code(home, args, stdin, code, words):
    result = invoke(args, code=code, stdin=stdin)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1].startswith("bodega: error: ") and words in lines[-1], result.output
    assert "Traceback" not in result.output


def test_the_last_owner_cannot_be_demoted(home):
    with bodega.open(home) as b:
        me = b.user.email
    assert "last owner" in invoke(["user", "set-role", me, "viewer"], code=12).output


def test_token_create_prints_it_once_and_list_never(home):
    invoke(["user", "add", "ana@example.org", "--no-password"])
    token = invoke(["token", "create", "--user", "ana@example.org", "--name", "ci"]).stdout.strip()
    assert token.startswith("bdg_")
    listed = invoke(["token", "list", "--json"]).stdout
    assert token not in listed and json.loads(listed)[0]["name"] == "ci"
    with bodega.open(home) as b:
        assert b.tokens.authenticate(token).user.email == "ana@example.org"
    token_id = json.loads(listed)[0]["id"]
    invoke(["token", "revoke", token_id[:8]])
    assert json.loads(invoke(["token", "list", "--json"]).stdout) == []


def test_sessions_list_and_revoke(home):
    invoke(["user", "add", "ana@example.org", "--password-stdin"], stdin="correct horse\n")
    with bodega.open(home) as b:
        b.sessions.login("ana@example.org", "correct horse", address="10.1.2.3")
    rows = json.loads(invoke(["session", "list", "--json"]).stdout)
    assert rows[0]["user"] == "ana@example.org" and rows[0]["address"] == "10.1.2.3"
    assert "revoked session" in invoke(["session", "revoke", rows[0]["id"][:8]]).output
    assert json.loads(invoke(["session", "list", "--json"]).stdout) == []


def test_container_share_and_unshare(home):
    invoke(["user", "add", "ana@example.org", "--no-password"])
    invoke(["container", "create", "dev"])
    assert "shared with ana@example.org as operator" in invoke(
        ["container", "share", "dev", "ana@example.org", "--role", "operator"]).output
    assert json.loads(invoke(["container", "shares", "dev", "--json"]).stdout)[0]["role"] == "operator"
    invoke(["container", "unshare", "dev", "ana@example.org"])
    assert "not shared" in invoke(["container", "shares", "dev"]).output


def test_mfa_enrol_from_the_command_line(home):
    import pyotp

    invoke(["user", "add", "ana@example.org", "--no-password"])
    runner = CliRunner()
    # The secret is printed first; the confirming code is read from stdin after it.
    result = runner.invoke(main, ["user", "mfa-enrol", "ana@example.org", "--code-stdin", "--json"],
                           input="000000\n", catch_exceptions=False)
    assert result.exit_code == errors.MfaCodeInvalid.exit_code  # a wrong code, nothing enabled
    secret = json.loads(result.stderr.splitlines()[0])["secret"]
    assert secret
    with bodega.open(home) as b:
        assert not b.users.get("ana@example.org").mfa_enabled
        enrolment = b.mfa.begin("ana@example.org")
        codes = b.mfa.confirm("ana@example.org", pyotp.TOTP(enrolment.secret).now())
    assert len(codes) == 10
    assert "second factor removed" in invoke(["user", "mfa-disable", "ana@example.org"]).output


def test_setting_list_and_set(home):
    assert "auth.require_mfa = True" in invoke(["setting", "set", "auth.require_mfa", "on"]).output
    rows = {r["key"]: r["value"] for r in json.loads(invoke(["setting", "list", "--json"]).stdout)}
    assert rows["auth.require_mfa"] is True


def test_serve_without_the_serve_extra_says_what_to_install(home, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_fastapi(name, *args, **kwargs):
        if name == "fastapi":
            raise ImportError("No module named 'fastapi'", name="fastapi")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_fastapi)
    result = invoke(["serve"], code=37)
    assert "pip install 'bodega[serve]'" in result.output


def test_serve_refuses_a_port_in_use(home):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = invoke(["serve", "--port", str(port)], code=30)
    assert f"listen on 127.0.0.1:{port}" in result.output and "Traceback" not in result.output


def test_cli_start_up_imports_no_web_or_crypto_library():
    import subprocess
    import sys

    from subprocesses import SRC

    code = ("import sys; from bodega.cli import main; "
            "print(sorted(m for m in ('fastapi', 'uvicorn', 'jinja2', 'argon2', 'pyotp', 'segno', 'starlette') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": SRC}, capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr
