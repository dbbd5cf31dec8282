"""Footprints compose install transactions: added, changed, removed, and what undoes them."""
from __future__ import annotations

from pathlib import Path

from bodega.storage import manifest as mf
from bodega.storage.footprint import compose


def _m(tmp_path: Path, files: dict[str, bytes], n: list[int] = [0]) -> mf.Manifest:  # noqa: B006
    n[0] += 1
    d = tmp_path / f"t{n[0]}"
    d.mkdir()
    for rel, data in files.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_bytes(data)
    return mf.build(d)


def test_one_transaction(tmp_path):
    pre = _m(tmp_path, {"keep": b"k", "conf": b"1", "gone": b"g"})
    post = _m(tmp_path, {"keep": b"k", "conf": b"2", "app/bin": b"exe"})
    fp = compose([("s1", pre, post)])
    got = {e.path: (e.change, e.before_snapshot) for e in fp.entries}
    assert got == {b"app": ("added", None), b"app/bin": ("added", None), b"conf": ("changed", "s1"),
                   b"gone": ("removed", "s1")}
    assert fp.counts()["bytes_added"] == 3


def test_transactions_compose(tmp_path):
    a = _m(tmp_path, {"conf": b"1"})
    b = _m(tmp_path, {"conf": b"2", "x": b"x", "y": b"y"})      # install: conf changed, x y added
    c = _m(tmp_path, {"z": b"z", "y": b"yy"})                    # update: conf removed, x removed, y changed, z added
    fp = compose([("s1", a, b), ("s2", b, c)])
    got = {e.path: (e.change, e.before_snapshot, e.before.hash if e.before else None) for e in fp.entries}
    assert got[b"conf"][:2] == ("removed", "s1") and got[b"conf"][2] == a.get(b"conf").hash
    assert got[b"y"][:2] == ("added", None) and b"x" not in got and got[b"z"][0] == "added"
