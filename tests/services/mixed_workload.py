"""One worker of the concurrency test: N random create/list/tag/delete operations on one home.

Usage: python mixed_workload.py HOME OPS SEED OUT.json.  Only the documented conflicts are
caught; anything else ends the worker with a traceback (and fails the test).
"""
from __future__ import annotations

import json
import random
import sys
from collections import Counter

import bodega
from bodega import errors

CONFLICTS = (errors.NameTaken, errors.ContainerNotFound, errors.ContainerBusy, errors.WrongStatus)
NAMES = [f"c{i}" for i in range(12)]  # few names: workers collide on purpose


def main(home: str, ops: int, seed: int, out: str) -> None:
    rng = random.Random(seed)
    outcomes: Counter[str] = Counter()
    with bodega.open(home) as b:
        for _ in range(ops):
            op = rng.choice(["create", "create", "list", "tag", "tag", "delete"])
            name = rng.choice(NAMES)
            try:
                if op == "create":
                    b.containers.create(name, tags=[f"w{seed}"])
                elif op == "list":
                    names = [c.name for c in b.containers.list()]
                    assert len(names) == len(set(names)), names
                elif op == "tag":
                    b.containers.tag(name, add=[f"t{rng.randrange(4)}"], remove=[f"t{rng.randrange(4)}"])
                else:
                    b.containers.delete(name)
                outcome = "ok"
            except CONFLICTS as e:
                outcome = type(e).__name__
            outcomes[f"{op}:{outcome}"] += 1
    with open(out, "w") as f:
        json.dump(outcomes, f)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
