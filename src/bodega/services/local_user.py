"""The local OS user, as the catalogue names it (commands act as this user)."""
from __future__ import annotations

import getpass


def local_email() -> str:
    """The email that stands for the local OS user: <login>@localhost."""
    return f"{getpass.getuser()}@localhost".lower()
