"""Many agents on one PostgreSQL queue: 400 queued snapshot tasks on small containers, drained
by 1, 2 and 4 `bodega agent --until-idle` processes on a private loopback cluster.

Each round gets a fresh catalogue database and home: 40 containers of 20 small files, 10
snapshot tasks queued on each (--detach), then N agents started together.  Checked after
every round (the bench fails otherwise): every task succeeded, each was claimed once (one
`running` event per task), and each made exactly one snapshot (none run twice, none lost).
Prints tasks/s for each agent count, from the first claim to the last end as the catalogue
recorded them (process start-up left out), and the ratio to one agent.  Rounds alternate
the order of the agent counts.  Nothing is asserted about time.

    python bench/bench_agents.py                          # 400 tasks, agents 1 2 4, one round
    BODEGA_BENCH_AGENTS_TASKS=100 BODEGA_BENCH_AGENTS_ROUNDS=2 python bench/bench_agents.py

The cluster is started as tests/pgserver.py does (Debian's postgresql: initdb in a temporary
directory, as an unprivileged user when run as root).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

TASKS = int(os.environ.get("BODEGA_BENCH_AGENTS_TASKS", "400"))
ROUNDS = int(os.environ.get("BODEGA_BENCH_AGENTS_ROUNDS", "1"))
AGENTS = (1, 2, 4)
CONTAINERS = 40
FILES = 20  # per container


def queue(home: Path, url: str) -> None:
    """The containers and their queued snapshot tasks (TASKS in all, spread evenly)."""
    import bodega

    os.environ["BODEGA_DATABASE_URL"] = url
    with bodega.open(home) as b:
        names = []
        for i in range(CONTAINERS):
            c = b.containers.create(f"c{i}")
            root = Path(c.storage_path) / "root"
            for j in range(FILES):
                (root / f"f{j}.txt").write_text(f"container {i} file {j}\n" * 50)
            names.append(c.name)
        for t in range(TASKS):
            b.snapshots.create(names[t % CONTAINERS], label=f"t{t}", detach=True)


def drain(home: Path, url: str, agents: int) -> None:
    """Runs `agents` agents on the queue until it is empty."""
    env = dict(os.environ, BODEGA_HOME=str(home), BODEGA_DATABASE_URL=url,
               PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]))
    procs = [subprocess.Popen([sys.executable, "-m", "bodega", "agent", "--until-idle", "--poll", "0.05"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for _ in range(agents)]
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"an agent failed ({p.returncode}): {err.strip()}")


def check(home: Path, url: str) -> float:
    """Checks that every task ran exactly once; returns the seconds from the first claim to the last end."""
    import sqlalchemy as sa

    import bodega
    from bodega.catalogue.models import EventLog, Snapshot, Task, TaskStatus

    os.environ["BODEGA_DATABASE_URL"] = url
    with bodega.open(home) as b, b.catalogue.session_scope(write=False) as s:
        tasks = s.execute(sa.select(Task.id, Task.status, Task.started_at, Task.finished_at, Task.payload)
                          .where(Task.type == "snapshot.create")).all()
        claims = Counter(task_id for task_id, context in s.execute(sa.select(EventLog.task_id, EventLog.context))
                         if (context or {}).get("status") == "running")
        made = Counter(s.scalars(sa.select(Snapshot.label)).all())  # each task's label is its own
    bad = [t.id for t in tasks if t.status != TaskStatus.SUCCEEDED]
    twice = [t.id for t in tasks if claims[t.id] != 1 or made[t.payload["label"]] != 1]
    if len(tasks) != TASKS or sum(made.values()) != TASKS or bad or twice:
        raise SystemExit(f"{len(tasks)} tasks of {TASKS}: {len(bad)} did not succeed, "
                         f"{len(twice)} were not claimed and snapshotted exactly once")
    return (max(t.finished_at for t in tasks) - min(t.started_at for t in tasks)).total_seconds()


def main() -> None:
    import pgserver

    reason = pgserver.missing()
    if reason:
        raise SystemExit(reason)
    cluster = pgserver.start()
    rates: dict[int, list[float]] = {n: [] for n in AGENTS}
    try:
        pgserver.make_template(cluster)
        for r in range(ROUNDS):
            for n in (AGENTS if r % 2 == 0 else tuple(reversed(AGENTS))):
                url = cluster.new_database()
                try:
                    with tempfile.TemporaryDirectory(prefix="bench-agents-") as tmp:
                        home = Path(tmp) / "home"
                        queue(home, url)
                        started = time.monotonic()
                        drain(home, url, n)
                        wall = time.monotonic() - started
                        busy = check(home, url)
                    rates[n].append(TASKS / busy)
                    print(f"round {r + 1}: {n} agent(s): {TASKS} tasks in {busy:.1f} s "
                          f"({TASKS / busy:.1f} tasks/s; {wall:.1f} s with start-up), each run once", flush=True)
                finally:
                    cluster.drop(url)
    finally:
        cluster.stop()
    one = max(rates[1])
    print(f"\n{TASKS} snapshot tasks, {CONTAINERS} containers, loopback PostgreSQL, {os.cpu_count()} cores")
    for n in AGENTS:
        best = max(rates[n])
        print(f"  {n} agent(s): {best:7.1f} tasks/s   x{best / one:.2f} vs 1 agent")


if __name__ == "__main__":
    main()
