"""The native and storage suites run once per back end of the native core (Cython and cffi).

For a [cffi] run, every binding the process can reach is swapped for the cffi back end's:
the `bodega._native.*` entries of sys.modules (so imports inside functions find it) and each
global of the test module and of the loaded bodega modules that names a binding module or one
of its public objects (`from bodega._native.tree import Dir`).  The tests and the code under
test stay back-end blind; the swap is undone after each test.
"""
from __future__ import annotations

import importlib
import inspect
import sys
from types import ModuleType

import pytest

from bodega._native import BACKENDS, MODULES

# The suites that run on both back ends (tests/ relative prefixes): every storage test, and
# the native tests that call a binding (the C suite and the source scans have none).
BOTH_NATIVE_BACKENDS = ("native/", "storage/")
ALWAYS_BOTH = ("storage/",)


def binding(backend: str, name: str) -> ModuleType:
    """The back end's module `name` (one of bodega._native.MODULES)."""
    prefix = "bodega._native." if backend == "cython" else "bodega._native.cffi_backend."
    return importlib.import_module(prefix + name)


def swaps(namespace: dict, backend: str, source: str = "cython") -> dict[str, object]:
    """{global name: the back end's object} for every global of namespace that is source's."""
    out: dict[str, object] = {}
    for module_name in MODULES:
        default = binding(source, module_name)
        chosen = binding(backend, module_name)
        by_id = {id(value): name for name, value in vars(default).items() if not name.startswith("__")}
        for name, value in namespace.items():
            if value is default:
                out[name] = chosen
            elif not inspect.ismodule(value) and id(value) in by_id and hasattr(chosen, by_id[id(value)]):
                out[name] = getattr(chosen, by_id[id(value)])
    return out


def runs_on_both(rel: str, module: ModuleType | None) -> bool:
    """True when the test module at rel (tests/ relative) runs once per back end."""
    if rel.startswith(ALWAYS_BOTH):
        return True
    return rel.startswith(BOTH_NATIVE_BACKENDS) and module is not None and bool(swaps(vars(module), "cython"))


def bodega_modules() -> dict[str, ModuleType]:
    """The loaded bodega modules above the bindings."""
    return {n: m for n, m in list(sys.modules.items())
            if n.startswith("bodega.") and not n.startswith("bodega._native") and m is not None}


def restore_new_modules(before: set[str], backend: str) -> None:
    """Gives the modules first imported during a `backend` test the default bindings back."""
    if backend == "cython":
        return
    for name, module in bodega_modules().items():
        if name not in before:
            for attr, value in swaps(vars(module), "cython", source=backend).items():
                setattr(module, attr, value)


def use_backend(backend: str, test_module: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """Makes the process use `backend`'s bindings until monkeypatch is undone."""
    if backend == "cython":
        return
    import bodega._native as package

    for name in MODULES:
        monkeypatch.setitem(sys.modules, f"bodega._native.{name}", binding(backend, name))
        monkeypatch.setattr(package, name, binding(backend, name), raising=False)
    monkeypatch.setattr(package, "BACKEND", backend)
    modules = [test_module, *bodega_modules().values()]
    for module in modules:
        for name, value in swaps(vars(module), backend).items():
            monkeypatch.setattr(module, name, value)
