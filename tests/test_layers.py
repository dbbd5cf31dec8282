"""A layer imports only those below it (issue 15), read from the source with ast.

interfaces (cli, api, panel, __main__) -> the bodega facade (bodega/__init__) -> services ->
storage and catalogue -> _native.  errors, home and _version are below everything: any layer
may use them.  The folders of one layer may use each other (the API serves the panel, the
CLI starts the API server; storage and catalogue are one layer).  Every import counts, lazy ones in functions and TYPE_CHECKING ones too: an
upward import is a cycle waiting to happen, whenever it runs.
"""
from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "bodega"

RANK = {
    "cli": 5, "api": 5, "panel": 5, "__main__": 5,
    "": 4,  # the facade: bodega/__init__.py
    "services": 3,
    "storage": 2, "catalogue": 2,
    "_native": 1,
    "errors": 0, "home": 0, "_version": 0,
}

def layer_of(module: str) -> str:
    """The layer of a dotted module name inside bodega ("bodega.storage.tree" -> "storage")."""
    parts = module.split(".")
    assert parts[0] == "bodega", module
    return parts[1] if len(parts) > 1 else ""


def _is_package_dir(name: str) -> bool:
    return (SRC / name).is_dir() or (SRC / f"{name}.py").is_file()


def imported(rel: str, source: str) -> list[tuple[int, str]]:
    """(line, module) for each bodega module that the module at rel (under src/bodega) imports."""
    package = ["bodega", *Path(rel).parts[:-1]]
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "bodega"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != "bodega":
                continue
            if module == "bodega":  # from bodega import errors: a module; from bodega import open: the facade
                out += [(node.lineno, f"bodega.{a.name}" if _is_package_dir(a.name) else "bodega")
                        for a in node.names]
            else:
                out.append((node.lineno, module))
    return out


def upward_imports(sources: dict[str, str]) -> list[tuple[str, int, str]]:
    """(module file, line, imported module) for every import of a higher (or unknown) layer."""
    found = []
    for rel, source in sorted(sources.items()):
        own = "" if rel == "__init__.py" else layer_of("bodega." + Path(rel).with_suffix("").parts[0])
        for line, module in imported(rel, source):
            target = layer_of(module)
            if target == own:
                continue
            if RANK.get(target, 99) > RANK.get(own, -1):  # one layer's folders may use each other
                found.append((rel, line, module))
    return found


def _sources() -> dict[str, str]:
    # alembic revisions are run by alembic, not imported by bodega
    return {p.relative_to(SRC).as_posix(): p.read_text(encoding="utf-8") for p in SRC.rglob("*.py")
            if not p.relative_to(SRC).as_posix().startswith("catalogue/migrations/")}


def test_no_module_imports_a_higher_layer() -> None:
    bad = [f"{rel}:{line} imports {module}" for rel, line, module in upward_imports(_sources())]
    assert not bad, "imports up the layers:\n" + "\n".join(bad)


def test_every_layer_is_known() -> None:
    """A new top-level package must be given its place in RANK."""
    names = {p.stem if p.is_file() else p.name for p in SRC.iterdir()
             if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py")}
    names = {"" if n == "__init__" else n for n in names}
    assert names <= set(RANK), f"layers without a rank: {sorted(names - set(RANK))}"


def test_the_checker_sees_an_upward_import() -> None:
    """Imports up the layers are caught, absolute and relative (so a pass means absence)."""
    probe = {
        "storage/probe.py": "from bodega.services import tasks\nfrom bodega import open\nfrom bodega import errors\n"
                            "from ..cli import app\nfrom . import tree\nimport bodega.api.server\n",
        "_native/__init__.py": "from bodega.storage import tree\n",
        "services/probe.py": "from bodega import __version__\nfrom bodega.storage import tree\n",
    }
    found = {(rel, module) for rel, _, module in upward_imports(probe)}
    assert found == {("storage/probe.py", "bodega.services"), ("storage/probe.py", "bodega"),
                     ("storage/probe.py", "bodega.cli"), ("storage/probe.py", "bodega.api.server"),
                     ("_native/__init__.py", "bodega.storage"), ("services/probe.py", "bodega")}, found
