"""The served fixtures (a real server on loopback) for the API tests."""
from served import anonymous, idle_server, served, signin  # noqa: F401
