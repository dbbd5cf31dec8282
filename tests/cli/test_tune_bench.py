"""`bodega tune` and `bodega bench` from the command line: their --json shapes, the text they
print, bad input as one line and its exit code, and peers missing from PATH listed as skipped."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bodega.cli import main


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """cli(*args, code=0): `bodega ARGS` on a fresh home in tmp_path (stdout, stderr)."""
    monkeypatch.setenv("BODEGA_HOME", str(tmp_path / "home"))

    def invoke(*args: str, code: int = 0) -> tuple[str, str]:
        r = CliRunner().invoke(main, list(args), catch_exceptions=False)
        assert r.exit_code == code, r.stdout + r.stderr
        return r.stdout, r.stderr

    return invoke


def test_tune_json_then_show_and_a_hand_set_value(cli, tmp_path):
    root = Path(json.loads(cli("container", "create", "dev", "--json")[0])["storage_path"]) / "root"
    for i in range(8):
        (root / f"f{i}").write_bytes(os.urandom(3000))
    out, _ = cli("tune", "--files", "8", "--rounds", "1", "--json")
    record = json.loads(out)
    assert set(record) >= {"values", "figures", "sample", "volume", "rounds", "measured_at", "effective"}
    assert record["volume"] == str(tmp_path / "home") and record["sample"]["source"] == "containers"
    for f in record["figures"].values():
        assert set(f) == {"benchmark", "default", "chosen", "kept_default", "reason", "candidates"}
        assert all({"value", "median_s", "spread", "rounds_s"} <= set(c) for c in f["candidates"])
    cli("setting", "set", "tune.batch_files", "32")
    shown = json.loads(cli("tune", "--show", "--json")[0])
    assert shown["tuned"] and shown["values"]["batch_files"]["effective"] == 32
    assert shown["values"]["batch_files"]["tuned"] == record["values"]["batch_files"]
    text = cli("tune", "--show")[0]
    assert "batch_files    32" in text and "set one by hand" in text and "->" in text


def test_tune_show_on_a_home_never_tuned(cli):
    shown = json.loads(cli("tune", "--show", "--json")[0])
    assert shown == {"tuned": False, "values": shown["values"]}
    assert {v["tuned"] for v in shown["values"].values()} == {None}
    assert cli("tune", "--show")[0].startswith("not tuned: run `bodega tune`")


@pytest.mark.parametrize("where, code", [("missing", 31), ("a-file", 35)])
def test_tune_bad_path_is_one_line(cli, tmp_path, where, code):
    (tmp_path / "a-file").write_text("x")
    _, err = cli("tune", str(tmp_path / where), "--files", "5", "--rounds", "1", code=code)
    assert err.count("\n") == 1 and err.startswith("bodega: error: ")
    _, err = cli("tune", str(tmp_path / where), "--json", code=code)
    assert json.loads(err)["error"]["exit_code"] == code


def _only(tmp_path: Path, *programs: str) -> str:
    """A PATH holding only these programs (links to the real ones)."""
    d = tmp_path / "bin"
    d.mkdir()
    for p in programs:
        real = shutil.which(p)
        assert real, f"{p} is needed by this test (apt-get install findutils coreutils)"
        (d / p).symlink_to(real)
    return str(d)


def test_bench_with_only_some_peers_prints_the_table_and_lists_the_skipped(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", _only(tmp_path, "cp", "find", "xargs", "cat"))
    out, _ = cli("bench", "--files", "12", "--rounds", "2", "--json", "--plot", str(tmp_path / "chart.svg"))
    report = json.loads(out)
    assert {r["group"] for r in report["rows"]} == {"clone"}
    clone = {r["tool"]: r for r in report["rows"]}
    assert clone["bodega fs clone"]["ratio"] is None and clone["cp -a --reflink=auto"]["ratio"] > 0
    assert all(len(r["rounds_s"]) == 2 and r["median_s"] > 0 for r in report["rows"])
    skipped = {s["tool"] for s in report["skipped"]}
    assert {"b3sum", "restic", "borg", "git", "rsync", "zip", "7z"} <= skipped
    assert {"hash", "status", "snapshot", "zip", "7z"} <= skipped  # groups without a peer
    assert report["files"] == 12 and report["generated"] and report["plot"] == str(tmp_path / "chart.svg")
    svg = (tmp_path / "chart.svg").read_text()
    assert svg.startswith("<svg") or svg.startswith("<?xml")
    assert "cp -a --reflink=auto" in svg
    assert not list((tmp_path / "home" / "tmp").glob("bench-*"))  # scratch removed
    text = cli("bench", "--files", "12", "--rounds", "1")[0]
    assert "bodega/tool" in text and "cp -a --reflink=auto" in text and "#" in text
    assert "skipped: " in text and "restic (restic not found on PATH)" in text


def test_bench_on_a_path_with_a_floor(cli, tmp_path, monkeypatch):
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    for i in range(5):
        (tree / "sub" / f"f{i}").write_bytes(os.urandom(2000))
    monkeypatch.setenv("PATH", _only(tmp_path, "b3sum", "find", "xargs", "cat"))
    report = json.loads(cli("bench", str(tree), "--rounds", "1", "--json", "--peer", "b3sum")[0])
    assert report["tree"] == str(tree) and not report["generated"] and report["files"] == 5
    assert report["bytes"] == 10_000
    kinds = {r["tool"]: r["kind"] for r in report["rows"]}
    assert kinds == {"bodega fs manifest": "bodega", "b3sum": "peer", "floor: read (cat)": "floor"}


@pytest.mark.parametrize("args, code", [
    (["--plot", "chart.gif"], 10),
    (["--peer", "nosuch"], 10),
    (["missing-tree"], 31),
])
def test_bench_bad_input_is_refused_before_it_runs(cli, tmp_path, monkeypatch, args, code):
    monkeypatch.chdir(tmp_path)
    _, err = cli("bench", "--files", "5", "--rounds", "1", *args, code=code)
    assert err.startswith("bodega: error: ") and err.count("\n") == 1
    assert not (tmp_path / "home" / "tmp").exists() or not list((tmp_path / "home" / "tmp").glob("bench-*"))
