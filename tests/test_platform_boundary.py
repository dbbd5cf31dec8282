"""The native core is the only platform boundary (issue 15): read from the source, with ast.

No module of src/bodega outside _native imports fcntl or ctypes, names an os.O_* flag, calls
os.symlink or os.pread, reads /proc, uses st_blocks or windll, or removes a tree with
shutil.rmtree (the native no-follow remove is storage.tree.remove_path).  Each such operation is one C
function with posix/ and win32/ implementations, reached through bodega._native.
"""
from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "bodega"

FORBIDDEN_MODULES = {"fcntl", "ctypes", "msvcrt", "winreg", "_winapi", "termios", "pwd", "grp"}
FORBIDDEN_OS_ATTRS = {"symlink", "pread", "pwrite", "fchmod", "fchown", "lchown", "lchmod", "mkfifo", "mknod",
                      "sync", "posix_fallocate", "posix_fadvise", "statvfs", "fstatvfs"}
FORBIDDEN_ATTRS = {"st_blocks", "st_blksize", "windll", "oledll", "WinDLL"}


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "_native" not in p.relative_to(SRC).parts)


def violations(source: str) -> list[str]:
    """What in one module's source reaches past the native core (one line per site)."""
    out = []
    for node in ast.walk(ast.parse(source)):
        where = f"line {getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_MODULES:
                    out.append(f"{where}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            if (node.module or "").split(".")[0] in FORBIDDEN_MODULES and node.level == 0:
                out.append(f"{where}: from {node.module} import")
            if node.module == "shutil" and any(a.name == "rmtree" for a in node.names):
                out.append(f"{where}: from shutil import rmtree")
            if node.module == "os":
                for alias in node.names:
                    if alias.name.startswith("O_") or alias.name in FORBIDDEN_OS_ATTRS:
                        out.append(f"{where}: from os import {alias.name}")
        elif isinstance(node, ast.Attribute):
            base = node.value.id if isinstance(node.value, ast.Name) else None
            if base == "os" and (node.attr.startswith("O_") or node.attr in FORBIDDEN_OS_ATTRS):
                out.append(f"{where}: os.{node.attr}")
            elif base == "shutil" and node.attr == "rmtree":
                out.append(f"{where}: shutil.rmtree")  # follows junctions on Windows; storage.tree.remove_path
            elif node.attr in FORBIDDEN_ATTRS:
                out.append(f"{where}: .{node.attr}")
        elif isinstance(node, ast.Call):
            # getattr(os, "O_NOFOLLOW", 0) names a flag as surely as os.O_NOFOLLOW does
            if (isinstance(node.func, ast.Name) and node.func.id in {"getattr", "hasattr"} and len(node.args) >= 2
                    and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
                name = node.args[1].value
                if name.startswith("O_") or name in FORBIDDEN_OS_ATTRS or name in FORBIDDEN_ATTRS:
                    out.append(f"{where}: {node.func.id}(..., {name!r})")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.startswith("/proc") or "/proc/" in node.value:
                out.append(f"{where}: reads {node.value!r}")
        elif isinstance(node, ast.JoinedStr):
            first = node.values[0] if node.values else None
            if isinstance(first, ast.Constant) and str(first.value).startswith("/proc"):
                out.append(f"{where}: reads /proc")
    return out


def test_no_module_outside_native_calls_the_platform() -> None:
    # No exception list: every site is behind the native core (ObjectStore.put_file, the last,
    # reads through a native no-follow File), so a new site fails here with nothing to hide it.
    found = [f"{path.relative_to(SRC).as_posix()} {v}"
             for path in _modules() for v in violations(path.read_text(encoding="utf-8"))]
    assert not found, "platform calls outside bodega._native:\n" + "\n".join(found)


def test_the_checker_sees_each_kind_of_site() -> None:
    """Each forbidden form is caught (so a pass above means absence, not blindness)."""
    samples = {
        "import fcntl": "import fcntl",
        "import ctypes.util": "import ctypes.util",
        "from fcntl import flock": "from fcntl import",
        "os.open(p, os.O_RDONLY)": "os.O_RDONLY",
        "getattr(os, 'O_NOFOLLOW', 0)": "getattr(..., 'O_NOFOLLOW')",
        "from os import O_EXCL": "from os import O_EXCL",
        "os.symlink(a, b)": "os.symlink",
        "os.pread(fd, 1, 0)": "os.pread",
        "open('/proc/1/stat')": "reads '/proc/1/stat'",
        "open(f'/proc/{pid}/stat')": "reads /proc",
        "st.st_blocks * 512": ".st_blocks",
        "ctypes.windll.kernel32": ".windll",
        "shutil.rmtree(p, ignore_errors=True)": "shutil.rmtree",
        "from shutil import rmtree": "from shutil import rmtree",
    }
    for source, expected in samples.items():
        found = [v.split(": ", 1)[1] for v in violations(source)]
        assert expected in found, (source, found)
    assert violations("import os\nos.open(p, flags)\nos.replace(a, b)\n") == []
