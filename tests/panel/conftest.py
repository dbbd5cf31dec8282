"""The served fixtures (a real server on loopback) for the panel tests."""
from served import anonymous, served, signin  # noqa: F401
