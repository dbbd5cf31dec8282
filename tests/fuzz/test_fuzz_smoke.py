"""A short run of each decoder's fuzzer in CI (issue 16): bounded in time (about a minute for
the six), no finding, and a count of executions printed.  The long runs: docs/reliability.md."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import need
from subprocesses import SRC

HERE = Path(__file__).resolve().parent
# seconds of fuzzing each (start-up and seeds aside), and the executions each must reach
SMOKE = {"fuzz_archive.py": (8, 2_000), "fuzz_pack_index.py": (4, 4_000), "fuzz_package.py": (8, 1_000),
         "fuzz_manifest_json.py": (4, 2_000), "fuzz_settings.py": (3, 2_000), "fuzz_http.py": (6, 40)}


@pytest.mark.parametrize("script", sorted(SMOKE))
def test_a_short_fuzz_run_finds_nothing(script, tmp_path):
    try:
        import atheris  # noqa: F401
    except ImportError:
        need("atheris is not installed (pip install atheris)")
    seconds, at_least = SMOKE[script]
    out = subprocess.run([sys.executable, str(HERE / script), f"-max_total_time={seconds}", "-runs=10000000"],
                         capture_output=True, text=True, timeout=180, cwd=tmp_path,  # a finding is saved there
                         env={**os.environ, "PYTHONPATH": os.pathsep.join([SRC, str(HERE)])})
    # atheris prints a finding's traceback on stdout, libFuzzer its summary on stderr
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    done = re.search(r"Done (\d+) runs in (\d+) second", out.stderr)
    assert done, out.stderr[-3000:]
    runs = int(done.group(1))
    print(f"{script}: {runs} executions in {done.group(2)} s")
    assert runs >= at_least, f"{script} ran only {runs} inputs: the target is too slow to fuzz"
