"""The C core stays compiler-neutral and its portable part OS-neutral (issue 15).

Compiler extensions (atomics, SIMD targets, CPU detection, pragmas) are named only in the
headers that wrap them, with a branch per compiler there, so an MSVC build needs no change
to native/src; OS conditionals live only in native/posix, native/win32 and bd_platform.h.
"""
from __future__ import annotations

import re
from pathlib import Path

NATIVE = Path(__file__).resolve().parents[2] / "native"
CORE_DIRS = ("src", "posix", "win32", "include")
COMPILER_TOKENS = re.compile(
    r"\b(__GNUC__|__clang__|_MSC_VER|__attribute__|__builtin_\w+|__atomic_\w+|__sync_\w+|__declspec|"
    r"__forceinline|_Interlocked\w+|__cpuidex?|_Pragma|__typeof__|typeof)\b|#\s*pragma\b")
OS_TOKENS = re.compile(r"\b(_WIN32|_WIN64|__linux__|__APPLE__|__unix__|__FreeBSD__)\b")
COMPILER_WRAPPERS = {"include/bodega/bd_thread.h", "include/bodega/bd_simd.h"}
OS_WRAPPERS = {"include/bodega/bd_platform.h", "include/bodega/bd_simd.h"}  # bd_simd: mingw GCC's quirk


def _sources(*dirs: str) -> list[tuple[str, str]]:
    out = []
    for d in dirs:
        for path in sorted((NATIVE / d).rglob("*")):
            if path.suffix in (".c", ".h"):
                out.append((path.relative_to(NATIVE).as_posix(), path.read_text(errors="replace")))
    return out


def _hits(pattern: re.Pattern[str], files: list[tuple[str, str]], allowed: set[str]) -> list[str]:
    hits = []
    for rel, text in files:
        if rel in allowed:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            m = pattern.search(line)
            if m:
                hits.append(f"{rel}:{n}: {m.group(0)}")
    return hits


def test_compiler_extensions_only_in_their_wrapping_headers():
    assert _hits(COMPILER_TOKENS, _sources(*CORE_DIRS), COMPILER_WRAPPERS) == []


def test_portable_core_has_no_os_conditionals():
    assert _hits(OS_TOKENS, _sources("src", "include"), OS_WRAPPERS) == []


def test_the_wrapping_headers_have_an_msvc_branch():
    for rel in sorted(COMPILER_WRAPPERS):
        assert "_MSC_VER" in (NATIVE / rel).read_text(), rel


def test_the_scan_finds_what_it_forbids():
    # The patterns are what keeps the core neutral: prove they catch each spelling.
    for bad in ("x = __atomic_load_n(p, 0);", "__attribute__((target(\"avx2\")))", "#pragma once",
                "#if defined(__GNUC__)", "_InterlockedOr(p, 0);", "__builtin_cpu_supports(\"avx2\")"):
        assert _hits(COMPILER_TOKENS, [("src/x.c", bad)], set()), bad
    assert _hits(OS_TOKENS, [("src/x.c", "#ifdef _WIN32")], set())
