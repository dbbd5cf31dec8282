"""The sweep's summary: one line per operation at the end of the run."""
from __future__ import annotations

SUMMARY: list[str] = []


def pytest_terminal_summary(terminalreporter):
    """Prints 'OPERATION: N kill points, V violations' for each operation swept."""
    if SUMMARY:
        terminalreporter.section("kill-point sweep")
        for line in SUMMARY:
            terminalreporter.write_line(line)
