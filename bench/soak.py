"""The soak (issue 16): N processes of mixed bodega commands with random SIGKILLs, then every
invariant checked and every acknowledged snapshot restored bit-exact (tests/soak/soak.py).

    python bench/soak.py                                  # 8 processes, 5 minutes
    python bench/soak.py --processes 3 --seconds 60 --seed 7

Prints one line: operations, kills (landed mid-command), snapshots checked, violations;
exits 1 on any violation.  Run it on a quiet machine: the kills are timed from each
command's own progress, but a loaded machine runs fewer operations.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from soak.soak import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
