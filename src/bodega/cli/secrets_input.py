"""Reading secrets on the command line: from a hidden prompt or stdin, never from arguments."""
from __future__ import annotations

import sys

import click

from bodega import errors


def read_secret(what: str, from_stdin: bool, confirm: bool = True) -> str:
    """A secret from one line of stdin (from_stdin) or a hidden prompt on the terminal."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise errors.InvalidInput(f"--{what}-stdin: stdin is empty")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise errors.InvalidInput(f"no terminal to ask for the {what}: pipe it with --{what}-stdin")
    return str(click.prompt(what.capitalize(), hide_input=True, confirmation_prompt=confirm))
