"""`bodega bench`: bodega against the peer tools found on this machine, with floors and a plot."""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import click

from bodega import errors
from bodega.cli.options import home_option, json_option
from bodega.cli.output import ProgressBar, emit, human_bytes, table, write_output

PLOT_SUFFIXES = (".svg", ".png", ".txt")
BAR = 40  # characters of the longest bar in the text chart


def text_chart(rows: list[dict[str, Any]]) -> str:
    """Each group's medians as bars, the slowest of the group the longest."""
    lines: list[str] = []
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["group"], []).append(r)
    width = max((len(r["tool"]) for r in rows), default=0)
    for group, members in groups.items():
        top = max(r["median_s"] for r in members) or 1.0
        lines.append(f"{group}")
        for r in members:
            n = max(1, round(BAR * r["median_s"] / top))
            lines.append(f"  {r['tool']:<{width}} {'#' * n:<{BAR}} {r['median_s'] * 1000:.1f} ms")
    return "\n".join(lines) + "\n"


def svg_chart(rows: list[dict[str, Any]]) -> str:
    """The text chart's bars as an SVG image (no dependency)."""
    line, label, bar_w = 18, 260, 420
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["group"], []).append(r)
    parts, y = [], 10
    colours = {"bodega": "#2b6cb0", "peer": "#a0aec0", "floor": "#68d391"}
    for group, members in groups.items():
        top = max(r["median_s"] for r in members) or 1.0
        y += line
        parts.append(f'<text x="4" y="{y}" font-weight="bold">{html.escape(group)}</text>')
        for r in members:
            y += line
            w = max(1.0, bar_w * r["median_s"] / top)
            parts.append(f'<text x="14" y="{y}">{html.escape(r["tool"])}</text>'
                         f'<rect x="{label}" y="{y - 12}" width="{w:.1f}" height="14" fill="{colours[r["kind"]]}"/>'
                         f'<text x="{label + w + 6:.1f}" y="{y}">{r["median_s"] * 1000:.1f} ms</text>')
    height = y + 14
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{label + bar_w + 110}" height="{height}" '
            f'font-family="sans-serif" font-size="12">' + "".join(parts) + "</svg>\n")


def _matplotlib_chart(rows: list[dict[str, Any]], fmt: str) -> bytes:
    """The chart drawn by matplotlib (PNG or SVG)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['group']}: {r['tool']}" for r in rows][::-1]
    values = [r["median_s"] * 1000 for r in rows][::-1]
    colours = {"bodega": "#2b6cb0", "peer": "#a0aec0", "floor": "#68d391"}
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(rows) + 1))
    ax.barh(labels, values, color=[colours[r["kind"]] for r in rows][::-1])
    ax.set_xscale("log")
    ax.set_xlabel("median wall time (ms, log scale)")
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format=fmt)
    plt.close(fig)
    return out.getvalue()


def _has_matplotlib() -> bool:
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def check_plot(target: str) -> str:
    """The plot's format from its file name, refused before anything runs when it cannot be written."""
    suffix = Path(target).suffix.lower()
    if suffix not in PLOT_SUFFIXES:
        raise errors.InvalidInput(f"the plot file ends in .svg, .png or .txt (a text chart), not {target!r}")
    if suffix == ".png" and not _has_matplotlib():
        raise errors.MissingDependency("a PNG plot needs matplotlib (pip install matplotlib); "
                                       "an .svg or .txt plot needs nothing")
    parent = Path(target).parent
    if not parent.is_dir():
        raise errors.PathNotFound(2, None, str(parent), "write plot")
    if Path(target).is_dir():
        raise errors.IsADirectory(21, None, target, "write plot")
    return suffix[1:]


def plot(rows: list[dict[str, Any]], fmt: str) -> bytes:
    """The chart in fmt: svg or png (matplotlib if installed; an SVG of its own otherwise), or txt."""
    if fmt == "txt":
        return text_chart(rows).encode()
    if _has_matplotlib():
        return _matplotlib_chart(rows, fmt)
    return svg_chart(rows).encode()


def _text(report: dict[str, Any]) -> str:
    rows = [{"group": r["group"], "tool": r["tool"], "median": f"{r['median_s'] * 1000:.1f} ms",
             "spread": f"{r['spread'] * 100:.0f}%",
             "bodega/tool": "" if r["ratio"] is None else f"{r['ratio']:.2f}x"} for r in report["rows"]]
    head = (f"{'generated tree' if report['generated'] else report['tree']}: {report['files']} files, "
            f"{human_bytes(report['bytes'])}; medians of {report['rounds']} rounds, taking turns "
            "(bodega/tool below 1: bodega is faster)")
    out = [head, table(rows, ["group", "tool", "median", "spread", "bodega/tool"]), "", text_chart(report["rows"])]
    if report["skipped"]:
        out.append("skipped: " + "; ".join(f"{s['tool']} ({s['reason']})" for s in report["skipped"]))
    if report.get("plot"):
        out.append(f"plot: {report['plot']}")
    return "\n".join(out)


@click.command("bench")
@click.argument("path", required=False, type=click.Path(path_type=str))
@click.option("--rounds", type=click.IntRange(1, 50), default=3, show_default=True,
              help="Timed rounds of each contender, taking turns.")
@click.option("--files", type=click.IntRange(1, 100_000), default=2000, show_default=True,
              help="Files of the generated tree (when no PATH is given).")
@click.option("--peer", "peers", multiple=True, help="Only this peer (cp, b3sum, git, rsync, restic, borg, zip, "
              "7z); repeatable.  Default: every one found.")
@click.option("--plot", "plot_file", type=click.Path(path_type=str), default=None,
              help="Also draw the medians to FILE: .svg, .png (matplotlib) or .txt.")
@json_option
@home_option
def bench(path: str | None, rounds: int, files: int, peers: tuple[str, ...], plot_file: str | None,
          as_json: bool, home: str | None) -> None:
    """Time bodega against the peer tools found on this machine (cp --reflink, b3sum, git status, rsync, restic, borg, zip, 7z), on a generated tree or PATH.

    Scratch space is taken in the home's tmp/ and removed at the end.
    """
    from bodega.home import Home
    from bodega.services import peer_bench

    fmt = check_plot(plot_file) if plot_file is not None else None
    bar = ProgressBar("bench", unit="rounds", enabled=not as_json)
    try:
        report = peer_bench.bench(Home.at(home).tmp, path, files=files, rounds=rounds, peers=list(peers) or None,
                                  progress=lambda done, total, what: bar.update(done, total, what)).to_dict()
    finally:
        bar.close()
    if plot_file is not None and fmt is not None:
        write_output(plot(report["rows"], fmt), plot_file)
        report["plot"] = plot_file
    emit(report, as_json, _text)


COMMANDS = [bench]
