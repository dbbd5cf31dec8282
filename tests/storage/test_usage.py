"""Tree usage: apparent and allocated bytes, hardlinks once, links not followed."""
from __future__ import annotations

import os

from bodega.storage.usage import measure_tree


def test_usage_of_a_tree(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a").write_bytes(b"x" * 5000)
    os.link(tmp_path / "d" / "a", tmp_path / "b")
    (tmp_path / "out").symlink_to("/usr")  # followed, it would count gigabytes
    with open(tmp_path / "sparse", "wb") as f:
        f.truncate(1 << 30)
    u = measure_tree(tmp_path)
    assert (u.files, u.dirs) == (3, 1)
    assert u.apparent_bytes == 5000 + len("/usr") + (1 << 30)
    assert 5000 <= u.allocated_bytes < (1 << 20)


def test_a_missing_tree_measures_zero(tmp_path):
    u = measure_tree(tmp_path / "nope")
    assert (u.files, u.dirs, u.apparent_bytes, u.allocated_bytes) == (0, 0, 0, 0)
