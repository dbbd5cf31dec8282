"""`bodega tune`: measure the engine's tunables on this volume and record the choices."""
from __future__ import annotations

from typing import Any

import click

from bodega.cli.options import home_option, json_option, open_bodega
from bodega.cli.output import ProgressBar, emit, human_bytes, table


def _value(name: str, value: Any) -> str:
    if value is None:
        return "-"
    return human_bytes(value) if name == "pack_max" else str(value)


def _figures_text(record: dict[str, Any]) -> list[str]:
    """Each tunable's benchmark: its candidates' medians, spreads and ratios, and the choice."""
    lines = []
    for name, f in record.get("figures", {}).items():
        lines.append(f"{name}: {f['benchmark']}")
        for c in f["candidates"]:
            mark = "*" if c["value"] == f["chosen"] else " "
            default = " (default)" if c["value"] == f["default"] else ""
            ratio = f"  ratio {c['ratio']:.3f}" if "ratio" in c and name == "zstd_level" else ""
            lines.append(f"  {mark} {_value(name, c['value']):>10}  {c['median_s'] * 1000:8.1f} ms  "
                         f"spread {c['spread'] * 100:5.1f}%{ratio}{default}")
        lines.append(f"  -> {_value(name, f['chosen'])}: {f['reason']}")
    return lines


def _show_text(shown: dict[str, Any]) -> str:
    rows = [{"tunable": name, "effective": _value(name, v["effective"]), "tuned": _value(name, v["tuned"]),
             "set by hand": _value(name, v["set_by_hand"]), "default": _value(name, v["default"])}
            for name, v in shown["values"].items()]
    head = (f"tuned {shown['measured_at']} on {shown['volume']} ({shown['sample']['source']} sample: "
            f"{shown['sample']['files']} files, {human_bytes(shown['sample']['bytes'])}; "
            f"{shown['rounds']} rounds)" if shown["tuned"] else "not tuned: run `bodega tune`")
    lines = [head, table(rows, ["tunable", "effective", "tuned", "set by hand", "default"])]
    if shown["tuned"]:
        lines += ["", *_figures_text(shown)]
    lines.append("set one by hand: bodega setting set tune.NAME VALUE (auto: back to the tuned value)")
    return "\n".join(lines)


@click.command("tune")
@click.argument("path", required=False, type=click.Path(path_type=str))
@click.option("--show", is_flag=True, help="Print the recorded choices and their figures; measure nothing.")
@click.option("--files", type=click.IntRange(1, 100_000), default=2000, show_default=True,
              help="Files in the sample (from the home's containers, else generated).")
@click.option("--rounds", type=click.IntRange(1, 50), default=3, show_default=True,
              help="Timed rounds of each candidate, taking turns.")
@json_option
@home_option
def tune(path: str | None, show: bool, files: int, rounds: int, as_json: bool, home: str | None) -> None:
    """Measure threads, zstd level, pack and batch sizes on the volume holding PATH (default: the home) and record them.

    Each tunable is timed on a sample of the home's containers (or a generated tree) and
    replaced only when a candidate beats the default on the benchmark printed; every command
    reads the choices, and `bodega setting set tune.NAME VALUE` overrides one by hand.
    """
    from bodega.services import tuning

    with open_bodega(home) as b:
        if show:
            shown = tuning.show(b)
            emit(shown, as_json, _show_text)
            return
        bar = ProgressBar("tuning", unit="runs", enabled=not as_json)
        try:
            record = tuning.tune(b, path, files=files, rounds=rounds,
                                 progress=lambda done, total, what: bar.update(done, total, what))
        finally:
            bar.close()
        shown = tuning.show(b)
    emit({**record, "effective": {k: v["effective"] for k, v in shown["values"].items()}}, as_json,
         lambda _: _show_text(shown))


COMMANDS = [tune]
