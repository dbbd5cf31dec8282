"""services/tuning.py and the Tuning value: what `bodega tune` records reaches the commands
(proved by effect: packs cut at the tuned size, the thread counts the native calls get),
hand-set values win, choices never lose to the default on their own figures, bad input."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import bodega
from bodega import errors
from bodega.services import tuning
from bodega.storage import tuning as tuning_file
from bodega.storage.tuning import KNOBS, Tuning


def _home_with_files(tmp_path: Path, name: str = "home", files: int = 60, size: int = 12_000) -> Path:
    """A home with container "dev" holding files small enough to be packed, incompressible."""
    home = tmp_path / name
    with bodega.open(home) as b:
        c = b.containers.create("dev")
        root = Path(c.storage_path) / "root"
        for i in range(files):
            (root / f"f{i:03d}").write_bytes(os.urandom(size))
    return home


def _packs(home: Path) -> list[Path]:
    return sorted((home / "store" / "packs").glob("*"))


def _spy(monkeypatch, module, name: str) -> list[dict]:
    """Records the keyword arguments of every call of module.name (still calling it)."""
    calls: list[dict] = []
    real = getattr(module, name)

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return calls


def test_a_tuned_pack_size_cuts_the_packs_of_a_snapshot(tmp_path):
    # 100 random files of 12 KB (1.2 MB, packed: below the clone size): one pack by default,
    # two at 1 MiB (the smallest pack size allowed).
    plain = _home_with_files(tmp_path, "plain", files=100)
    tuned = _home_with_files(tmp_path, "tuned", files=100)
    tuning_file.save(tuned, Tuning(pack_max=1 << 20), {})
    for home in (plain, tuned):
        with bodega.open(home) as b:
            b.snapshots.create("dev")
    assert len(_packs(plain)) < len(_packs(tuned))
    assert len(_packs(tuned)) >= 2


def test_a_tuned_zstd_level_is_the_level_the_store_compresses_with(tmp_path):
    text = b"".join(b"msgid \"line %d\" msgstr \"linea %d\"\n" % (i, i * 7 % 1000) for i in range(300))
    homes = {}
    for level in (1, 19):
        home = tmp_path / f"z{level}"
        with bodega.open(home) as b:
            root = Path(b.containers.create("dev").storage_path) / "root"
            for i in range(40):
                (root / f"t{i}").write_bytes(text[i * 97:] + text[:i * 97])
        tuning_file.save(home, Tuning(zstd_level=level), {})
        with bodega.open(home) as b:
            b.snapshots.create("dev")
        homes[level] = sum(p.stat().st_size for p in _packs(home))
    assert homes[19] < homes[1]


def test_tuned_threads_and_batch_size_are_what_the_native_calls_get(tmp_path, monkeypatch):
    from bodega._native import manifest as native_manifest
    from bodega.storage import fs, store

    home = _home_with_files(tmp_path, files=50, size=100)
    tuning_file.save(home, Tuning(hash_threads=3, clone_threads=5, batch_files=16), {})
    scans = _spy(monkeypatch, native_manifest, "scan_tree")
    clones = _spy(monkeypatch, fs._clone, "clone_tree")
    batches: list[int] = []
    real_put = store.StoreWriter.put_files
    monkeypatch.setattr(store.StoreWriter, "put_files",
                        lambda self, base, files: (batches.append(len(files)), real_put(self, base, files))[1])
    with bodega.open(home) as b:
        b.snapshots.create("dev")
        b.containers.clone("dev", "dev2")
    assert scans and {c["threads"] for c in scans} == {3}
    assert clones and {c["threads"] for c in clones} == {5}
    assert max(batches) == 16 and sum(batches) >= 50


def test_tune_times_the_other_knobs_at_the_store_s_own_zstd_levels(tmp_path, monkeypatch):
    from bodega.storage import store

    levels: list[int | None] = []
    real_init = store.ObjectStore.__init__

    def spy(self, root, **kw):
        if ".bodega-tune-" in str(root):  # the tuner's stores, not the home's
            levels.append(kw.get("zstd_level"))
        real_init(self, root, **kw)

    monkeypatch.setattr(store.ObjectStore, "__init__", spy)
    with bodega.open(tmp_path / "home") as b:
        tuning.tune(b, files=40, rounds=1)
    assert levels and None in levels  # hash_threads, batch_files, pack_max: small files at the small level
    assert set(levels) - {None} <= set(tuning.ZSTD_LEVELS)


def test_a_value_set_by_hand_wins_over_the_tuned_one_and_auto_gives_it_back(tmp_path, monkeypatch):
    from bodega._native import manifest as native_manifest

    home = _home_with_files(tmp_path, files=5, size=100)
    tuning_file.save(home, Tuning(hash_threads=3), {})
    scans = _spy(monkeypatch, native_manifest, "scan_tree")
    with bodega.open(home) as b:
        b.settings.set("tune.hash_threads", "6")
    with bodega.open(home) as b:
        b.snapshots.create("dev")
        assert tuning.show(b)["values"]["hash_threads"] == {**tuning.show(b)["values"]["hash_threads"],
                                                            "effective": 6, "tuned": 3, "set_by_hand": 6}
    assert {c["threads"] for c in scans} == {6}
    scans.clear()
    with bodega.open(home) as b:
        b.settings.set("tune.hash_threads", "auto")
    with bodega.open(home) as b:
        (Path(b.containers.get("dev").storage_path) / "root" / "new").write_bytes(b"x")
        b.snapshots.create("dev")
    assert {c["threads"] for c in scans} == {3}


def test_a_hand_set_value_out_of_bounds_is_refused(tmp_path):
    with bodega.open(tmp_path / "home") as b:
        with pytest.raises(errors.InvalidInput, match="between 1 and 19"):
            b.settings.set("tune.zstd_level", "40")
        with pytest.raises(errors.InvalidInput):
            b.settings.set("tune.batch_files", "many")


def test_tune_records_choices_no_slower_than_the_default_on_its_own_figures(tmp_path):
    home = _home_with_files(tmp_path, files=30, size=3000)
    seen = []
    with bodega.open(home) as b:
        record = tuning.tune(b, files=20, rounds=1, progress=lambda done, total, what: seen.append((done, total)))
    assert seen[-1][0] == seen[-1][1] > 0  # the progress reached its end
    assert record["sample"] == {"source": "containers", "files": 20, "bytes": 20 * 3000}
    assert json.loads((home / "tuning.json").read_text())["values"] == record["values"]
    assert set(record["figures"]) == set(KNOBS)
    # 60 KB fill no pack of any size tried, and 20 files no batch: nothing to compare, nothing timed
    for name in ("pack_max", "batch_files"):
        assert record["figures"][name]["candidates"] == [] and "too small" in record["figures"][name]["reason"]
    for name, f in record["figures"].items():
        if not f["candidates"]:
            assert f["kept_default"]
            continue
        by_value = {c["value"]: c for c in f["candidates"]}
        assert f["default"] in by_value
        assert by_value[f["chosen"]]["median_s"] <= by_value[f["default"]]["median_s"]
        assert record["values"][name] == (None if f["kept_default"] else f["chosen"])
    with bodega.open(home) as b:
        assert b.tuning == Tuning(**record["values"])


def test_tune_generates_a_tree_when_the_home_has_no_container(tmp_path):
    with bodega.open(tmp_path / "home") as b:
        record = tuning.tune(b, files=10, rounds=1)
    assert record["sample"]["source"] == "generated" and record["sample"]["files"] == 10


def _measured(default: int, medians: dict[int, list[float]], ratios: dict[int, float] | None = None) -> tuning.Measured:
    m = tuning.Measured("x", "bench", default)
    m.candidates = [{"value": v, "median_s": sorted(r)[len(r) // 2], "rounds_s": r,
                     **({"ratio": ratios[v]} if ratios else {})} for v, r in medians.items()]
    return m


def test_a_candidate_replaces_the_default_only_when_clearly_faster():
    clear = _measured(2, {1: [1.0, 1.0, 1.0], 2: [2.0, 2.0, 2.0], 4: [1.5, 1.5, 1.5]})
    tuning.choose_fastest(clear)
    assert clear.chosen == 1 and "2.00x" in clear.reason
    within_noise = _measured(2, {1: [0.99, 0.99, 0.99], 2: [1.0, 1.0, 1.0]})
    tuning.choose_fastest(within_noise)
    assert within_noise.chosen == 2 and within_noise.reason.startswith("kept the default")
    one_slow_round = _measured(2, {1: [0.5, 0.5, 3.0], 2: [1.0, 1.0, 1.0]})  # its median wins, a round loses
    tuning.choose_fastest(one_slow_round)
    assert one_slow_round.chosen == 2


def test_a_zstd_level_is_chosen_for_its_ratio_only_at_no_cost_in_time():
    m = _measured(3, {1: [0.5], 3: [1.0], 6: [0.9], 9: [2.0]}, {1: 2.0, 3: 2.5, 6: 2.6, 9: 3.0})
    tuning.choose_ratio(m)
    assert m.chosen == 6  # 9 compresses best but is slower than the default
    m = _measured(3, {1: [0.5], 3: [1.0], 6: [1.5]}, {1: 2.0, 3: 2.5, 6: 2.6})
    tuning.choose_ratio(m)
    assert m.chosen == 3 and m.reason.startswith("kept the default")


@pytest.mark.parametrize("bad, error", [("missing", errors.PathNotFound), ("a-file", errors.NotADirectory)])
def test_tune_refuses_a_path_that_is_no_directory(tmp_path, bad, error):
    (tmp_path / "a-file").write_text("x")
    with bodega.open(tmp_path / "home") as b:
        with pytest.raises(error):
            tuning.tune(b, tmp_path / bad, files=5, rounds=1)
    assert not (tmp_path / "home" / "tuning.json").exists()


def test_tune_on_an_unwritable_volume_is_access_denied_and_records_nothing(tmp_path):
    from unprivileged import as_unprivileged, public_dir

    with public_dir("tune") as public, bodega.open(tmp_path / "home") as b:
        locked = public / "locked"
        locked.mkdir(mode=0o555)

        def attempt() -> str:  # in a child without root: the home stays open from before
            try:
                tuning.tune(b, locked, files=5, rounds=1)
            except errors.AccessDenied as e:
                return f"denied: {e}"
            return "tuned"

        assert as_unprivileged(attempt) == f"denied: create scratch directory: {locked}: Permission denied"
        assert list(locked.iterdir()) == []
    assert not (tmp_path / "home" / "tuning.json").exists()


def test_a_damaged_tuning_file_is_one_clear_error(tmp_path):
    home = tmp_path / "home"
    with bodega.open(home) as b:
        b.containers.create("dev")
    (home / "tuning.json").write_text('{"format": "bodega-tuning", "version": 1, "values": {"zstd_level": 99}}')
    with bodega.open(home) as b:
        with pytest.raises(errors.InvalidSettings, match="tuning.json is damaged"):
            b.snapshots.create("dev")
