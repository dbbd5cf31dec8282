"""The C test runner of native/: natively (GCC and Clang, strict C99), cross-compiled for Windows
under Wine, the arm64 build, and the MSVC branches of the compiler-wrapping headers."""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

from conftest import need

NATIVE = Path(__file__).resolve().parents[2] / "native"
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$", re.MULTILINE)
WINE_CANDIDATES = ("/usr/lib/wine/wine64", "wine64", "wine")


def _make(target: str, timeout: int) -> subprocess.CompletedProcess:
    """Runs one target of native/Makefile, with its output kept for the assertion message."""
    return subprocess.run(
        ["make", "-C", str(NATIVE), target],
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )


def _assert_suite_passed(proc: subprocess.CompletedProcess) -> str:
    """Checks the runner's summary line: no failure, at least one test passed."""
    out = proc.stdout + proc.stderr
    found = SUMMARY.findall(proc.stdout)
    assert found, f"no 'N passed, N failed' summary (make exited {proc.returncode}):\n{out[-4000:]}"
    passed, failed = (int(n) for n in found[-1])
    assert failed == 0, f"{failed} C test(s) failed:\n{out[-4000:]}"
    assert passed > 0, f"no C test ran:\n{out[-4000:]}"
    assert proc.returncode == 0, f"make exited {proc.returncode}:\n{out[-4000:]}"
    return proc.stdout


def _have(*tools: str) -> bool:
    return all(shutil.which(t) or os.access(t, os.X_OK) for t in tools)


def test_c_suite_native():
    if not _have("make", "cc"):
        need("make and a C compiler are needed for the native C tests")
    _assert_suite_passed(_make("test", 600))


def test_c_suite_native_on_a_volume_that_clones(cow_dir):
    """The suite's sandboxes on the XFS mount (BD_TEST_TMP): the clone tests take their clone branch."""
    from bodega._native import clone

    if not _have("make", "cc"):
        need("make and a C compiler are needed for the native C tests")
    assert clone.probe_cow(cow_dir) is True  # so the C tests see BD_FS_CLONE, not NOTSUP
    proc = _make("build/host/bd_tests", 600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    _assert_suite_passed(subprocess.run([str(NATIVE / "build" / "host" / "bd_tests")], capture_output=True,
                                        text=True, timeout=600, cwd=NATIVE, env=dict(os.environ, BD_TEST_TMP=str(cow_dir))))


def test_c_suite_under_wine():
    if not _have("make", "x86_64-w64-mingw32-gcc"):
        need("x86_64-w64-mingw32-gcc is missing (apt-get install mingw-w64)")
    if not any(_have(w) for w in WINE_CANDIDATES):
        need("wine64 is missing (apt-get install wine64)")
    out = _assert_suite_passed(_make("test-win32", 900))
    # What Wine cannot run is reported by name, never silently dropped.
    assert "running under Wine" in out
    assert "skipped under Wine: link_create_read_never_follow:" in out


def test_c_suite_builds_for_windows_arm64():
    if not _have("make"):
        need("make is missing")
    if importlib.util.find_spec("ziglang") is None:
        need("the ziglang package is missing (pip install ziglang): no windows-arm64 compiler")
    proc = _make("check-win32-arm64", 900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    exe = NATIVE / "build" / "win32-arm64" / "bd_tests.exe"
    header = exe.read_bytes()[:4096]
    pe = int.from_bytes(header[0x3C:0x40], "little")
    assert header[pe:pe + 4] == b"PE\0\0"
    assert int.from_bytes(header[pe + 4:pe + 6], "little") == 0xAA64  # IMAGE_FILE_MACHINE_ARM64


def test_c_suite_strict_c99_with_gcc_and_clang():
    if not _have("make", "gcc", "clang"):
        need("gcc and clang are needed (apt-get install clang)")
    proc = _make("check-strict", 900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    for cc in ("gcc", "clang"):
        _assert_suite_passed(subprocess.run([str(NATIVE / "build" / "strict" / f"bd_tests-{cc}")],
                                            capture_output=True, text=True, timeout=600, cwd=NATIVE))


def test_msvc_branches_of_the_wrapping_headers_compile():
    if not _have("make", "clang"):
        need("clang is needed (apt-get install clang)")
    proc = _make("check-msvc-headers", 300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    for arch, machine in (("x64", 0x8664), ("arm64", 0xAA64)):
        obj = (NATIVE / "build" / "msvc" / f"headers-{arch}.obj").read_bytes()
        assert int.from_bytes(obj[:2], "little") == machine  # a COFF object for that machine
