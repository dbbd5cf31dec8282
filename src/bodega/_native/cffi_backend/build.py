"""The cffi back end's FFI (API mode): its cdef generated from native/include, never copied.

setup.py imports this file by path and compiles `bodega._native.cffi_backend._bd` against the
same static C core the Cython modules link.  The cdef is the public headers with comments,
include guards, function-like macros and platform branches removed: integer macros become
`#define NAME ...` (the compiler supplies the value) and array sizes are evaluated here.
"""
from __future__ import annotations

import os
import re

from cffi import FFI

HEADER_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "native", "include", "bodega")
# Internal headers (inline atomics, SIMD dispatch): no part of the binding's surface.
INTERNAL = {"bd_simd.h", "bd_thread.h"}

# C helpers the binding needs beside the core: a chunk collector called from C threads
# without Python, so chunk_file costs no Python call per chunk.
HELPERS = r"""
#include <stdlib.h>
#include <string.h>
typedef struct bd_chunk_list { bd_chunk *items; size_t n, cap; int out_of_memory; } bd_chunk_list;

static int bd_chunk_collect(void *ctx, const bd_chunk *chunk, const uint8_t *data)
{
    bd_chunk_list *l = (bd_chunk_list *)ctx;
    (void)data;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        bd_chunk *grown = (bd_chunk *)realloc(l->items, cap * sizeof(bd_chunk));
        if (grown == NULL) { l->out_of_memory = 1; return 1; }
        l->items = grown;
        l->cap = cap;
    }
    l->items[l->n++] = *chunk;
    return 0;
}

static void bd_chunk_list_free(bd_chunk_list *l) { free(l->items); l->items = NULL; l->n = l->cap = 0; }
"""

HELPER_CDEF = """
typedef struct bd_chunk_list { bd_chunk *items; size_t n, cap; int out_of_memory; } bd_chunk_list;
int bd_chunk_collect(void *ctx, const bd_chunk *chunk, const uint8_t *data);
void bd_chunk_list_free(bd_chunk_list *l);
extern "Python" int bd_cffi_progress(const bd_progress *p, void *ctx);
extern "Python" int bd_cffi_dir_entry(void *ctx, const char *name, size_t name_len, const bd_stat *st);
"""

_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_INCLUDE = re.compile(r'#include "(bd_\w+\.h)"')
_DEFINE = re.compile(r"#define\s+(\w+)\s+(.+)")


def _headers() -> list[str]:
    """The public headers, each after the headers it includes."""
    names = sorted(n for n in os.listdir(HEADER_DIR) if n.endswith(".h") and n not in INTERNAL)
    texts = {n: open(os.path.join(HEADER_DIR, n), encoding="utf-8").read() for n in names}
    done: list[str] = []

    def visit(name: str) -> None:
        if name in done or name not in texts:
            return
        for dep in _INCLUDE.findall(texts[name]):
            visit(dep)
        done.append(name)

    for name in names:
        visit(name)
    return [texts[n] for n in done]


def _value(expr: str, known: dict[str, int]) -> int | None:
    """An integer macro's value (casts and suffixes dropped), None when it is not one."""
    expr = re.sub(r"\(\s*u?int\d+_t\s*\)", "", expr)
    expr = re.sub(r"\b(0x[0-9a-fA-F]+|\d+)(?:[uU]|[lL]{1,2}|[uU][lL]{1,2})\b", r"\1", expr)
    expr = re.sub(r"\b[A-Z_][A-Z0-9_]*\b", lambda m: str(known[m.group()]) if m.group() in known else m.group(), expr)
    expr = expr.replace("UINT32_MAX", str(2**32 - 1))
    if not re.fullmatch(r"[\s0-9xa-fA-F()+\-*<>|&~]+", expr):
        return None
    try:
        return int(eval(expr, {"__builtins__": {}}))  # digits and operators only, checked above
    except (SyntaxError, ArithmeticError, TypeError):
        return None


def cdef_source() -> str:
    """The cdef: every public header's declarations, in include order."""
    known: dict[str, int] = {}
    defines: dict[str, str] = {}
    body: list[str] = []
    for text in _headers():
        text = _COMMENT.sub("", text).replace("\\\n", " ")
        for line in text.splitlines():
            stripped = line.strip()
            if not stripped.startswith("#"):
                body.append(line)
                continue
            m = _DEFINE.match(stripped)
            if not m or "(" in m.group(1) or m.group(1).startswith("BODEGA_"):
                continue  # guards, includes, platform branches, function-like macros
            name, expr = m.group(1), m.group(2).strip()
            if name in defines:
                continue
            if expr.startswith('"'):
                defines[name] = f"static const char *const {name};"
                continue
            value = _value(expr, known)
            if value is not None:
                known[name] = value
                defines[name] = f"#define {name} ..."
    code = "\n".join(body)
    # Array sizes the parser must know: evaluated from the macros above.
    code = re.sub(r"\[([^\]]+)\]", lambda m: f"[{_value(m.group(1), known)}]", code)
    code = code.replace("volatile ", "")
    return "\n".join(defines.values()) + "\n" + code + HELPER_CDEF


def include_source() -> str:
    """The C the module compiles: every public header, then the helpers."""
    names = sorted(n for n in os.listdir(HEADER_DIR) if n.endswith(".h") and n not in INTERNAL)
    return "".join(f'#include "bodega/{n}"\n' for n in names) + HELPERS


ffibuilder = FFI()
ffibuilder.cdef(cdef_source())
ffibuilder.set_source("bodega._native.cffi_backend._bd", include_source())

if __name__ == "__main__":
    print(cdef_source())
