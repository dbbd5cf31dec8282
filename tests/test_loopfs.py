"""The loop-mounted volumes of the tests and benchmarks: direct I/O when asked, and only then."""
from __future__ import annotations

from pathlib import Path

import pytest

import loopfs
from conftest import need


def _dio(lm: loopfs.LoopMount) -> str:
    return Path(f"/sys/block/{Path(lm.device).name}/loop/dio").read_text().strip()


@pytest.mark.parametrize("direct_io", [False, True])
def test_a_loop_device_reads_its_image_past_the_page_cache_only_when_asked(direct_io):
    reason = loopfs.can_mount()
    if reason:
        need(reason)
    lm = loopfs.mount("ext4", 64, direct_io=direct_io)
    try:
        assert _dio(lm) == ("1" if direct_io else "0")
        (lm.path / "f").write_bytes(b"x" * 8192)  # the volume works
        assert (lm.path / "f").read_bytes() == b"x" * 8192
    finally:
        loopfs.unmount(lm)
    assert not lm.image.exists()
