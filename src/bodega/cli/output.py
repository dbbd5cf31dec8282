"""How commands print: text for people, JSON for scripts, progress bars on stderr."""
from __future__ import annotations

import json
import sys
from typing import Any, Callable

import click


def emit(data: Any, as_json: bool, text: Callable[[Any], str] | None = None) -> None:
    """Prints data as JSON or, for people, as text(data)."""
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
    elif text is not None:
        click.echo(printable(text(data)))
    else:
        click.echo(printable(str(data)))


def printable(text: str) -> str:
    """text with lone surrogates (bytes of a name that were not UTF-8) shown as \\udcXX escapes,
    so that printing it never fails on a UTF-8 terminal."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def write_output(data: bytes, target: str | None) -> None:
    """Writes a command's output file: to stdout for None or '-', else atomically to target
    (a device or fifo there is written through; a symlink is refused)."""
    if target is None or target == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    from pathlib import Path

    from bodega.storage.atomic_file import write_file_atomic

    write_file_atomic(Path(target), data, through_special=True)


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A plain left-aligned table with a header line."""
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


class ProgressBar:
    """A progress bar on stderr that shows only when stderr is a terminal and not in JSON mode."""

    def __init__(self, label: str, total: int = 0, enabled: bool = True, unit: str = "B") -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.label, self.total, self.unit = label, total, unit
        self._last = ""

    def update(self, done: int, total: int | None = None, extra: str = "") -> None:
        """Redraws the bar with done out of total."""
        if not self.enabled:
            return
        total = total if total is not None else self.total
        fmt = human_bytes if self.unit == "B" else str
        if total:
            frac = min(1.0, done / total)
            bar = "#" * int(frac * 30)
            line = f"\r{self.label} [{bar:<30}] {frac * 100:5.1f}% {fmt(done)}/{fmt(total)} {extra}"
        else:
            line = f"\r{self.label} {fmt(done)} {extra}"
        if line != self._last:
            sys.stderr.write(line)
            sys.stderr.flush()
            self._last = line

    def close(self) -> None:
        """Ends the bar's line."""
        if self.enabled and self._last:
            sys.stderr.write("\n")
            sys.stderr.flush()


class TaskProgress:
    """A progress bar for a task run in-process; pass `.update` as the task's progress callback."""

    def __init__(self, label: str, as_json: bool) -> None:
        self._bar = ProgressBar(label, total=100, unit="%", enabled=not as_json)

    def update(self, percent: int) -> None:
        """Shows percent done."""
        self._bar.update(percent)

    def __enter__(self) -> "TaskProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.close()


def short_id(value: Any) -> str:
    """The first 8 characters of an id, enough to name it on the command line."""
    return str(value)[:8] if value else ""


def local_time(when: Any) -> str:
    """A timestamp in local time, to the second."""
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S") if when else ""


MESSAGE_MAX = 2000
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: str, limit: int = MESSAGE_MAX) -> str:
    """text as one printable line: control characters, lone surrogates and escapes shown as
    backslash escapes (so no name can forge a line or drive the terminal), at most limit long."""
    out = []
    for c in text:
        o = ord(c)
        if o < 0x20 or 0x7F <= o < 0xA0:
            out.append(_ESCAPES.get(c) or f"\\x{o:02x}")
        elif 0xD800 <= o < 0xE000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(c)
    line = "".join(out)
    if len(line) > limit:  # keep both ends: messages end with the reason
        head, tail = limit * 2 // 3, limit // 3
        line = f"{line[:head]}... ({len(line) - head - tail} characters left out) ...{line[-tail:]}"
    return line
