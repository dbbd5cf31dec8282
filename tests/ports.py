"""Loopback ports for the servers tests start."""
from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port of 127.0.0.1 nothing listens on (at the time of asking)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
