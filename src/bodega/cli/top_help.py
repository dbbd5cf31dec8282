"""`bodega --version` and `bodega --help` without click: what click prints for them, from the table.

Importing click costs more than the rest of these answers, so the console script answers a
command line that is exactly `--version`, `-h` or `--help` from here: the version line as
click's version option prints it, and the root group's help rendered from ROOT_HELP,
ROOT_OPTIONS and COMMANDS with click's layout (its usage line, paragraph wrapping, `\\b`
blocks, definition lists, short help and terminal width).  tests/cli/test_top_help.py
compares this rendering with click's own rendering of the root group, at every width, so
the two cannot drift apart.  Any other command line (and a shell-completion request, and
`python -m bodega`, whose program name click works out) goes to click.
"""
from __future__ import annotations

import os
import sys
import textwrap

from bodega import __version__
from bodega.cli import COMMANDS, ROOT_HELP, ROOT_OPTIONS

HELP_OPTIONS = ("-h", "--help")
USAGE_PREFIX = "Usage: "
SUBCOMMAND_ARGS = "[OPTIONS] COMMAND [ARGS]..."  # what click's usage line gives a group
INDENT = 2         # click's indentation step
DL_COL_MAX = 30    # the widest first column of a definition list
DL_SPACING = 2     # between the columns of a definition list


def quick_answer(args: list[str]) -> str | None:
    """What `bodega ARGS` prints, when ARGS is exactly --version, -h or --help run as a command
    (None: a command line for click)."""
    if len(args) != 1 or (args[0] != "--version" and args[0] not in HELP_OPTIONS):
        return None
    prog = program_name()
    if prog is None or os.environ.get(f"_{prog}_COMPLETE".replace("-", "_").upper()):
        return None  # `python -m bodega` (click names it), or shell completion (click answers it)
    if args[0] == "--version":
        return f"bodega, version {__version__}"
    return top_help(prog, help_width())


def print_text(text: str) -> int:
    """Prints text and a newline on stdout; the exit status (1 when the reader is gone, as click)."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        sys.stdout = None  # type: ignore[assignment]  # nothing is left to flush to a closed pipe at exit
        return 1
    return 0


def program_name() -> str | None:
    """The command's name as click gives it (the script's file name), or None when run by `python -m`."""
    if getattr(sys.modules.get("__main__"), "__package__", None) not in (None, ""):
        return None
    return os.path.basename(sys.argv[0])


def help_width() -> int:
    """The width of help text, as click's HelpFormatter picks it: the terminal's (or $COLUMNS), at most 78."""
    import shutil

    return max(min(shutil.get_terminal_size().columns, 80) - 2, 50)


def top_help(prog: str, width: int) -> str:
    """The root group's help, as click renders it at this width."""
    out = [usage_line(prog, width), "\n"]
    out += ["\n", wrap_paragraphs(ROOT_HELP, width, " " * INDENT), "\n"]
    out += ["\n", "Options:\n", definition_list(ROOT_OPTIONS, width, INDENT)]
    limit = width - 6 - max(len(name) for name in COMMANDS)  # click allows 3 times the default spacing
    rows = [(name, short_help(COMMANDS[name].help, limit)) for name in sorted(COMMANDS)]
    out += ["\n", "Commands:\n", definition_list(rows, width, INDENT)]
    return "".join(out).rstrip("\n")


def usage_line(prog: str, width: int) -> str:
    """`Usage: PROG [OPTIONS] COMMAND [ARGS]...`, wrapped as click wraps it."""
    prefix = f"{USAGE_PREFIX}{prog} "
    if width >= len(prefix) + 20:
        return wrap(SUBCOMMAND_ARGS, width, prefix, " " * len(prefix))
    indent = " " * (len(USAGE_PREFIX) + 4)  # a long program name: the arguments on the next line
    return f"{prefix}\n" + wrap(SUBCOMMAND_ARGS, width, indent, indent)


class _Wrapper(textwrap.TextWrapper):
    """textwrap's wrapper as click uses it: a word longer than a line is cut where the line ends."""

    def _handle_long_word(self, reversed_chunks: list[str], cur_line: list[str], cur_len: int,
                          width: int) -> None:
        space_left = max(width - cur_len, 1)
        if self.break_long_words:
            last = reversed_chunks[-1]
            cur_line.append(last[:space_left])
            reversed_chunks[-1] = last[space_left:]
        elif not cur_line:
            cur_line.append(reversed_chunks.pop())


def wrap(text: str, width: int, first: str = "", rest: str = "") -> str:
    """One paragraph filled to width, the first line indented by first, the others by rest."""
    return _Wrapper(width, initial_indent=first, subsequent_indent=rest, replace_whitespace=False).fill(
        text.expandtabs())


def wrap_paragraphs(text: str, width: int, indent: str = "") -> str:
    """Paragraphs (blank-line separated) each filled to width, keeping its own indentation; a
    paragraph whose first line is `\\b` is kept line for line (click's wrap_text)."""
    paragraphs: list[tuple[int, bool, list[str]]] = []  # (indentation, kept as is, lines)
    for line in text.expandtabs().splitlines():
        if not line:
            paragraphs.append((0, False, []))
        elif not paragraphs or not paragraphs[-1][2]:
            stripped = line.lstrip()
            paragraphs.append((len(line) - len(stripped), stripped.strip() == "\b", [stripped]))
        else:
            paragraphs[-1][2].append(line)
    out = []
    for extra, kept, lines in (p for p in paragraphs if p[2]):
        first = rest = indent + " " * extra
        if kept:
            out.append("\n".join((first if i == 0 else rest) + line for i, line in enumerate(lines[1:])))
        else:
            out.append(wrap(" ".join(lines), width, first, rest))
    return "\n\n".join(out)


def definition_list(rows: tuple[tuple[str, str], ...] | list[tuple[str, str]], width: int, indent: int) -> str:
    """Terms and their descriptions in two columns, as click's HelpFormatter.write_dl lays them out."""
    first_col = min(max(len(term) for term, _ in rows), DL_COL_MAX) + DL_SPACING
    text_width = max(width - first_col - 2, 10)
    out = []
    for term, description in rows:
        out.append(" " * indent + term)
        if not description:
            out.append("\n")
            continue
        if len(term) <= first_col - DL_SPACING:
            out.append(" " * (first_col - len(term)))
        else:
            out.append("\n" + " " * (first_col + indent))
        lines = wrap_paragraphs(description, text_width).splitlines() or [""]
        out.append(lines[0] + "\n")
        out += [" " * (first_col + indent) + line + "\n" for line in lines[1:]]
    return "".join(out)


def short_help(text: str, limit: int) -> str:
    """The first sentence of text if it fits in limit, else as many words as fit and `...` (click's rule)."""
    paragraph_end = text.find("\n\n")
    words = (text if paragraph_end == -1 else text[:paragraph_end]).split()
    if words[:1] == ["\b"]:
        words = words[1:]
    total = 0
    for i, word in enumerate(words):
        total += len(word) + (i > 0)
        if total > limit:
            break
        if word[-1] == ".":
            return " ".join(words[:i + 1])
        if total == limit and i != len(words) - 1:
            break
    else:
        return " ".join(words)
    total += len("...")
    while i > 0:
        total -= len(words[i]) + (i > 0)
        if total <= limit:
            break
        i -= 1
    return " ".join(words[:i]) + "..."
