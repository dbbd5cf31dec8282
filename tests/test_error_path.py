"""One error path (issue 15): an OSError becomes a bodega error only through errors.os_error.

Read from the source with ast: a handler that catches OSError (or PermissionError) either lets it
go on (a bare raise), re-raises it, raises errors.os_error(...), or tests a particular errno before
raising its own error (an expected condition, such as EXDEV).  Handlers of the narrow expected
conditions (FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError) may say what
the condition means (SnapshotNotFound, "absent"...).  errors.py, where os_error lives, is the one
module exempt.
"""
from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "bodega"
BROAD = {"OSError", "IOError", "EnvironmentError", "PermissionError"}
HELPER = "os_error"


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py")
                  if "_native" not in p.relative_to(SRC).parts and p.relative_to(SRC).as_posix() != "errors.py")


def _names(node: ast.expr | None) -> set[str]:
    """The class names an except clause catches (errors.X counts as X)."""
    if node is None:
        return {"BaseException"}
    items = node.elts if isinstance(node, ast.Tuple) else [node]
    out = set()
    for item in items:
        if isinstance(item, ast.Name):
            out.add(item.id)
        elif isinstance(item, ast.Attribute):
            out.add(item.attr)
    return out


def _tests_errno(test: ast.expr) -> bool:
    return any(isinstance(n, ast.Attribute) and n.attr == "errno" for n in ast.walk(test))


def _own_raises(handler: ast.ExceptHandler) -> list[ast.Raise]:
    """The raise statements of a handler that translate the OSError on their own."""
    out: list[ast.Raise] = []

    def visit(node: ast.AST, errno_tested: bool) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            return  # runs later, not as this handler's translation
        if isinstance(node, ast.Raise) and not errno_tested and _translates(node, handler.name):
            out.append(node)
        for child in ast.iter_child_nodes(node):
            tested = errno_tested or (isinstance(node, ast.If) and child is not node.test and _tests_errno(node.test))
            visit(child, tested)

    for stmt in handler.body:
        visit(stmt, False)
    return out


def _translates(node: ast.Raise, name: str | None) -> bool:
    exc = node.exc
    if exc is None or (isinstance(exc, ast.Name) and exc.id == name):
        return False  # the OSError itself goes on
    if isinstance(exc, ast.Call):
        func = exc.func
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if called == HELPER:
            return False
    return True


def _copies_errno(node: ast.Call) -> bool:
    """storage_error(e.errno ...): an errno carried over by hand, wherever the OSError was caught."""
    func = node.func
    called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    return (called in {"storage_error", "StorageError"} and bool(node.args)
            and any(isinstance(n, ast.Attribute) and n.attr == "errno" for n in ast.walk(node.args[0])))


def violations(source: str) -> list[str]:
    """Each raise that turns a caught OSError into another error without errors.os_error."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ExceptHandler) and _names(node.type) & BROAD:
            out.extend(f"line {r.lineno}: {ast.unparse(r)}" for r in _own_raises(node))
        elif isinstance(node, ast.Call) and _copies_errno(node):
            out.append(f"line {node.lineno}: {ast.unparse(node)}")
    return out


def test_no_module_translates_oserror_on_its_own() -> None:
    found = [f"{path.relative_to(SRC).as_posix()} {v}"
             for path in _modules() for v in violations(path.read_text(encoding="utf-8"))]
    assert not found, "OSError translated outside errors.os_error:\n" + "\n".join(found)


def test_the_checker_sees_each_kind_of_translation() -> None:
    """Each own translation is caught, and each allowed form passes (so a pass means absence)."""
    caught = {
        "try: f()\nexcept OSError as e:\n    raise errors.StorageError(e.errno, e.strerror) from e",
        "try: f()\nexcept OSError as e:\n    raise errors.storage_error(e.errno or 0, p, 'read') from e",
        "try: f()\nexcept (OSError, ValueError) as e:\n    raise errors.InvalidInput(str(e)) from None",
        "try: f()\nexcept PermissionError:\n    raise errors.Forbidden('no') from None",
        "try: f()\nexcept errors.OSError as e:\n    if x:\n        raise Bad(str(e))",
        "try: f()\nexcept BaseException as e:\n    if isinstance(e, OSError):\n"
        "        raise errors.storage_error(e.errno or 5, p, op) from e",
    }
    for source in caught:
        assert violations(source), source
    allowed = {
        "try: f()\nexcept OSError as e:\n    raise errors.os_error(e, 'read', p) from e",
        "try: f()\nexcept OSError as e:\n    raise os_error(e, 'read', p) from None",
        "try: f()\nexcept OSError:\n    cleanup()\n    raise",
        "try: f()\nexcept OSError as e:\n    if e.errno == errno.EXDEV:\n        raise errors.CrossDevice('x')\n"
        "    raise errors.os_error(e, 'move', p)",
        "try: f()\nexcept FileNotFoundError:\n    raise errors.SnapshotNotFound('gone') from None",
        "try: f()\nexcept OSError:\n    return None",
    }
    for source in allowed:
        assert violations(source) == [], source
