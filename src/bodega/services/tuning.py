"""`bodega tune`: measures the engine's tunables on the volume holding a path, on a sample of
the home's containers (or a generated tree), and records the choices with their figures.

Each tunable is timed alone, the others at their built-in defaults, its candidates taking
turns round after round (storage/timing.py).  A candidate replaces the default only when its
median is at least MARGIN faster on the benchmark printed beside it; the zstd level, a
trade, takes the best store ratio among the levels no slower than the default.  Otherwise the
default is kept, and the figures say so.
"""
from __future__ import annotations

import datetime
import os
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from bodega import errors
from bodega.storage import tuning as tuning_file
from bodega.storage.tuning import KNOBS, Tuning

if TYPE_CHECKING:
    from bodega.services import Bodega

MARGIN = 0.03  # a candidate must beat the default's median by this share: less is noise
RATIO_GAIN = 0.005  # a zstd level other than the default must shrink the store by this share at least
SAMPLE_FILES = 2000
SAMPLE_SCALE = 0.5  # generated files at half the benchmark tree's sizes: a quick sample
ROUNDS = 3
ZSTD_LEVELS = (1, 3, 6, 9)
PACK_SIZES = (4 << 20, 8 << 20, 16 << 20, 32 << 20, 64 << 20)
BATCH_SIZES = (64, 128, 256, 512, 1024)

Progress = Callable[[int, int, str], None]  # (runs done, runs in all, what runs)


@dataclass
class Sample:
    """The tree the tunables are measured on."""

    path: Path
    source: str  # "containers" or "generated"
    files: int
    bytes: int


@dataclass
class Measured:
    """One tunable's figures: each candidate's median, spread (and store ratio), and the choice."""

    name: str
    benchmark: str
    default: int
    candidates: list[dict[str, Any]] = field(default_factory=list)
    chosen: int = 0
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"benchmark": self.benchmark, "default": self.default, "chosen": self.chosen,
                "kept_default": self.chosen == self.default, "reason": self.reason, "candidates": self.candidates}


def _threads() -> tuple[int, ...]:
    cpus = os.cpu_count() or 2
    return tuple(sorted({1, 2, 4, cpus, 2 * cpus}))


def choose_fastest(m: Measured) -> None:
    """The default, unless a candidate's median beats it by MARGIN (then the fastest)."""
    by_value = {c["value"]: c for c in m.candidates}
    base = by_value[m.default]["median_s"]
    best = min(m.candidates, key=lambda c: c["median_s"])
    # Noise guard: even its slowest round must beat the default's median.
    if best["value"] != m.default and best["median_s"] <= base * (1 - MARGIN) and max(best["rounds_s"]) <= base:
        m.chosen = best["value"]
        m.reason = (f"{best['median_s'] * 1000:.0f} ms vs {base * 1000:.0f} ms for the default "
                    f"({base / best['median_s']:.2f}x)")
    else:
        m.chosen = m.default
        m.reason = (f"kept the default: no candidate beat its {base * 1000:.0f} ms by {MARGIN:.0%} "
                    "(in its median and its slowest round)")


def choose_ratio(m: Measured) -> None:
    """The best store ratio among the candidates no slower than the default (the default on a tie)."""
    by_value = {c["value"]: c for c in m.candidates}
    base = by_value[m.default]
    eligible = [c for c in m.candidates if c["value"] == m.default or (
        c["median_s"] <= base["median_s"] and c["ratio"] >= base["ratio"] * (1 + RATIO_GAIN))]
    best = max(eligible, key=lambda c: (c["ratio"], -c["median_s"]))
    m.chosen = best["value"]
    if m.chosen == m.default:
        m.reason = (f"kept the default: no level was both as fast ({base['median_s'] * 1000:.0f} ms) "
                    f"and {RATIO_GAIN:.1%} smaller (ratio {base['ratio']:.3f})")
    else:
        m.reason = (f"ratio {best['ratio']:.3f} vs {base['ratio']:.3f} at {best['median_s'] * 1000:.0f} ms "
                    f"vs {base['median_s'] * 1000:.0f} ms for the default")


def _differing(name: str, values: tuple[int, ...], sample: Sample) -> tuple[int, ...]:
    """The candidates that can behave differently on sample, the default always among them: a
    pack larger than the sample, or a batch of more files than it has, is the same as any other."""
    default = KNOBS[name].default
    limit = {"pack_max": sample.bytes, "batch_files": sample.files}.get(name)
    kept = {v for v in values if limit is None or v < limit}
    return tuple(sorted(kept | {default}))


class Tuner:
    """One run of `bodega tune`: a scratch directory on the volume, a sample in it, the timings."""

    def __init__(self, bodega: "Bodega", where: Path, *, files: int, rounds: int,
                 progress: Progress | None = None) -> None:
        self._b = bodega
        self.where = where
        self.files = files
        self.rounds = rounds
        self.progress = progress or (lambda done, total, what: None)
        self.done = 0
        self.total = 0

    # --- the sample -----------------------------------------------------------------------

    def _sample(self, scratch: Path) -> Sample:
        """The home's containers' files (every k-th regular file, cloned or copied), else a generated tree."""
        from bodega.storage import sample_tree

        dest = scratch / "sample"
        picked = self._container_files()
        if not picked:
            stats = sample_tree.generate(dest, self.files, seed=0, scale=SAMPLE_SCALE)
            return Sample(dest, "generated", stats.files, stats.bytes)
        return self._copy_sample(picked, dest)

    def _container_files(self) -> list[tuple[Path, str]]:
        """(directory, name) of up to `files` regular files spread over the containers' trees."""
        seen: list[tuple[Path, str]] = []
        for c in self._b.containers.list():
            root = Path(c.storage_path) / "root"
            for parent, dirs, names in os.walk(root):  # never follows a link to a directory
                dirs.sort()
                for n in sorted(names):
                    p = Path(parent) / n
                    if p.is_file() and not p.is_symlink():
                        seen.append((Path(parent), n))
                if len(seen) >= 4 * self.files:
                    break
            if len(seen) >= 4 * self.files:
                break
        step = max(1, len(seen) // self.files)
        return seen[::step][:self.files]

    @staticmethod
    def _copy_sample(picked: list[tuple[Path, str]], dest: Path) -> Sample:
        """Clones (or copies) the picked files into dest, 100 to a directory."""
        from bodega.storage.tree import Dir

        with Dir.open(dest.parent) as d:
            d.mkdir_at(dest.name)
        total = 0
        for i in range(0, len(picked), 100):
            sub = f"d{i // 100:04d}"
            with Dir.open(dest) as d:
                d.mkdir_at(sub)
            with Dir.open(dest / sub) as out:
                for j, (parent, name) in enumerate(picked[i:i + 100]):
                    try:
                        with Dir.open(parent) as src:
                            out.clone_from(src, name, f"{i + j:06d}", mode="auto")
                            total += out.stat_at(f"{i + j:06d}").size
                    except (errors.PathNotFound, errors.UnsafePath, errors.SpecialFile):
                        continue  # changed since the walk: one file less
        return Sample(dest, "containers", len(picked), total)

    # --- timing ---------------------------------------------------------------------------

    def _tick(self, what: str) -> None:
        self.done += 1
        self.progress(self.done, self.total, what)

    def _time(self, name: str, values: tuple[int, ...], run: Callable[[int], dict[str, Any] | None],
              cleanup: Callable[[], None]) -> list[dict[str, Any]]:
        """Each value's timings, turns taken round by round; run(value) may return extra figures."""
        from bodega.storage.timing import interleaved

        extra: dict[int, dict[str, Any]] = {}

        def contender(v: int) -> Callable[[], None]:
            def go() -> None:
                got = run(v)
                if got:
                    extra[v] = got
            return go

        timings = interleaved({str(v): contender(v) for v in values}, self.rounds,
                              after_each=lambda _: (cleanup(), self._tick(name)))
        return [{"value": v, "median_s": timings[str(v)].median, "spread": timings[str(v)].spread,
                 "rounds_s": list(timings[str(v)].seconds), **extra.get(v, {})} for v in values]

    def _clone_run(self, sample: Path, scratch: Path) -> tuple[Callable[[int], None], Callable[[], None]]:
        from bodega.storage import fs
        from bodega.storage.tree import remove_path

        dest = scratch / "clone"

        def run(threads: int) -> None:
            fs.clone_tree(sample, dest, threads=threads)

        return run, lambda: remove_path(dest)

    def _snapshot_run(self, sample: Path, scratch: Path, knob: str) -> tuple[Callable[[int], dict[str, Any]],
                                                                             Callable[[], None]]:
        """A full snapshot of the sample into a fresh store with knob at the given value."""
        from bodega.storage.snapshot import SnapshotEngine
        from bodega.storage.store import ObjectStore
        from bodega.storage.tree import remove_path

        store_dir, state_dir = scratch / "store", scratch / "state"

        def run(value: int) -> dict[str, Any]:
            t = {name: KNOBS[name].default for name in ("hash_threads", "zstd_level", "pack_max", "batch_files")}
            t[knob] = value
            # the other knobs' runs keep the store's own levels (1 for small files, 3 for the rest)
            level = value if knob == "zstd_level" else None
            store = ObjectStore(store_dir, zstd_level=level, pack_max=t["pack_max"])
            engine = SnapshotEngine(store, threads=t["hash_threads"], hash_threads=t["hash_threads"],
                                    batch_files=t["batch_files"])
            info = engine.create(sample, state_dir, uuid.uuid4().hex, kind="full")
            return {"ratio": info.bytes / info.added_bytes if info.added_bytes else 1.0,
                    "stored_bytes": info.added_bytes}

        def cleanup() -> None:
            remove_path(store_dir)
            remove_path(state_dir)

        return run, cleanup

    # --- the run --------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Measures every tunable, writes the home's tuning file; its record (values and figures)."""
        from bodega.storage.tree import remove_path

        plan = [("clone_threads", "clone of the sample (bodega fs clone)", _threads(), choose_fastest),
                ("hash_threads", "full snapshot of the sample into a fresh store", _threads(), choose_fastest),
                ("batch_files", "full snapshot of the sample into a fresh store", BATCH_SIZES, choose_fastest),
                ("zstd_level", "full snapshot of the sample into a fresh store (time, store ratio)", ZSTD_LEVELS,
                 choose_ratio),
                ("pack_max", "full snapshot of the sample into a fresh store", PACK_SIZES, choose_fastest)]
        try:
            scratch = Path(tempfile.mkdtemp(prefix=".bodega-tune-", dir=self.where))
        except OSError as e:
            raise errors.os_error(e, "create scratch directory", self.where) from None
        try:
            self.progress(0, self.total, "sample")
            sample = self._sample(scratch)
            plan = [(name, bench, _differing(name, values, sample), choose) for name, bench, values, choose in plan]
            self.total = sum(len(values) for _, _, values, _ in plan if len(values) > 1) * self.rounds
            measured = []
            for name, bench, values, choose in plan:
                if len(values) == 1:  # nothing to compare on this sample
                    measured.append(Measured(name, bench, KNOBS[name].default, [], KNOBS[name].default,
                                             "kept the default: the sample is too small for other values to differ"))
                    continue
                run, cleanup = (self._clone_run(sample.path, scratch) if name == "clone_threads"
                                else self._snapshot_run(sample.path, scratch, name))
                m = Measured(name, bench, KNOBS[name].default, self._time(name, values, run, cleanup))
                choose(m)
                measured.append(m)
        finally:
            remove_path(scratch)
        chosen = Tuning(**{m.name: (None if m.chosen == m.default else m.chosen) for m in measured})
        figures = {"measured_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                   "volume": str(self.where), "rounds": self.rounds, "margin": MARGIN,
                   "sample": {"source": sample.source, "files": sample.files, "bytes": sample.bytes},
                   "figures": {m.name: m.to_dict() for m in measured}}
        return tuning_file.save(self._b.home.root, chosen, figures)


def tune(bodega: "Bodega", path: str | os.PathLike[str] | None = None, *, files: int = SAMPLE_FILES,
         rounds: int = ROUNDS, progress: Progress | None = None) -> dict[str, Any]:
    """Measures the tunables on the volume holding path (default: the home) and records the choices."""
    from bodega.storage.fs import given_directory

    where = given_directory(path, "tune") if path is not None else bodega.home.root
    if files < 1 or rounds < 1:
        raise errors.InvalidInput(f"files and rounds are at least 1, not {files} and {rounds}")
    return Tuner(bodega, where, files=files, rounds=rounds, progress=progress).run()


def show(bodega: "Bodega") -> dict[str, Any]:
    """What commands run with: each tunable's tuned, hand-set and effective value, and the figures."""
    record = tuning_file.load_record(bodega.home.root)
    tuned = Tuning(**record["values"]) if record else Tuning()
    hand = bodega.settings.tuning()
    effective = hand.over(tuned)
    values = {name: {"effective": effective.effective(name), "tuned": getattr(tuned, name),
                     "set_by_hand": getattr(hand, name), "default": knob.default, "help": knob.help}
              for name, knob in KNOBS.items()}
    out: dict[str, Any] = {"tuned": record is not None, "values": values}
    if record:
        out.update({k: v for k, v in record.items() if k not in ("values", "format", "version")})
    return out
