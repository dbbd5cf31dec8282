"""The Cython and cffi back ends expose the same surface: names, signatures and exceptions.

Each public module of bodega._native is compared with its cffi twin: the same public names,
the same parameters (names, kinds, defaults) for every function and public method, and the
same exception (type and message) for the same bad call.
"""
from __future__ import annotations

import inspect
import os
import subprocess
import sys

import pytest

from bodega import errors
from bodega._native import BACKENDS, MODULES, chosen_backend, default_backend, status, values
from bodega._native.cffi_backend._bd import ffi, lib

from native_backends import binding

PUBLIC = [name for name in MODULES if not name.startswith("_")]


def _surface(module: object) -> dict[str, object]:
    """A module's public names, without what it imported (modules, typing, helpers)."""
    out = {}
    for name, value in vars(module).items():
        if name.startswith("_") or name in ("annotations", "TYPE_CHECKING") or inspect.ismodule(value) or value is ffi or value is lib:
            continue
        origin = getattr(value, "__module__", None) or ""
        if (inspect.isclass(value) or callable(value)) and origin not in (module.__name__, values.__name__):
            continue  # imported, and not one of the shared values the module hands out
        out[name] = value
    return out


def _params(fn: object) -> list[tuple[str, str, str]] | None:
    """(name, kind, default) of each parameter, annotations left out; None when C hides them."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    if str(sig) == "(self, /, *args, **kwargs)":
        return None  # a C slot (a Cython class's __init__): its parameters are not introspectable
    dunder = getattr(fn, "__name__", "").startswith("__")  # called by the interpreter: by position only

    def kind(p: inspect.Parameter) -> str:
        return "POSITIONAL_ONLY" if dunder and p.kind is p.POSITIONAL_OR_KEYWORD else p.kind.name

    return [("" if dunder else p.name, kind(p), "" if p.default is p.empty else repr(p.default)) for p in sig.parameters.values()]


def _members(cls: type) -> dict[str, object]:
    """A class's public methods and properties (its own and inherited from its bases but object)."""
    out = {}
    for name in dir(cls):
        if name.startswith("_") and name not in ("__len__", "__getitem__", "__iter__", "__enter__", "__exit__"):
            continue
        if hasattr(tuple, name) and hasattr(cls, "_fields"):
            continue
        value = inspect.getattr_static(cls, name)
        out[name] = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
    return out


@pytest.mark.parametrize("name", PUBLIC)
def test_each_module_has_the_same_public_names(name):
    cython, cffi = _surface(binding("cython", name)), _surface(binding("cffi", name))
    assert sorted(cython) == sorted(cffi)
    for key, value in cython.items():
        if not callable(value):
            assert cffi[key] == value, key  # constants: the same values


@pytest.mark.parametrize("name", PUBLIC)
def test_each_function_and_method_has_the_same_signature(name):
    cython, cffi = _surface(binding("cython", name)), _surface(binding("cffi", name))
    compared = 0
    for key, value in cython.items():
        if inspect.isclass(value):
            theirs, ours = _members(value), _members(cffi[key])
            if not issubclass(value, tuple) and not hasattr(value, "__dataclass_fields__"):
                assert sorted(theirs) == sorted(ours), key
            for member, fn in [*theirs.items(), ("__init__", value.__init__)]:
                mine = ours.get(member, getattr(cffi[key], member, None))
                if callable(fn) and _params(fn) is not None:
                    assert _params(fn) == _params(mine), f"{key}.{member}"
                    compared += 1
            if hasattr(value, "_fields") or hasattr(value, "__dataclass_fields__"):
                assert getattr(value, "_fields", None) == getattr(cffi[key], "_fields", None), key
                assert list(getattr(value, "__dataclass_fields__", {})) == list(
                    getattr(cffi[key], "__dataclass_fields__", {})), key
                compared += 1
        elif callable(value):
            assert _params(value) == _params(cffi[key]), key
            compared += 1
    assert compared, f"nothing of {name} was compared"


def test_the_comparison_sees_a_difference(monkeypatch):
    """The surface check can fail: a renamed parameter or a missing name is seen."""
    cffi_hash = binding("cffi", "hash")

    def hash_file(path, *, thread_count=None, progress=None):  # the parameter renamed
        """The wrong signature."""

    hash_file.__module__ = cffi_hash.__name__
    monkeypatch.setattr(cffi_hash, "hash_file", hash_file)
    with pytest.raises(AssertionError):
        test_each_function_and_method_has_the_same_signature("hash")
    monkeypatch.delattr(cffi_hash, "hash_file")
    with pytest.raises(AssertionError):
        test_each_module_has_the_same_public_names("hash")


def _outcome(call):
    try:
        result = call()
    except BaseException as exc:  # the exception is what is compared
        return type(exc), str(exc)
    return "returned", repr(result) if not hasattr(result, "__len__") else len(result)


def _first_error(results: list) -> list:
    """Raises the first error a batch returned (so both back ends' errors are compared)."""
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results


BAD_CALLS = {
    "scan a missing tree": lambda m, d: m["scan"].scan(os.path.join(d, "missing")),
    "scan a file": lambda m, d: m["scan"].scan(os.path.join(d, "file")),
    "scan with a NUL": lambda m, d: m["scan"].scan(b"a\0b"),
    "scan with 99 threads": lambda m, d: m["scan"].scan(d, threads=99),
    "scan through a link": lambda m, d: m["scan"].scan(os.path.join(d, "link")),
    "hash a missing file": lambda m, d: m["hash"].hash_file(os.path.join(d, "missing")),
    "hash a directory": lambda m, d: m["hash"].hash_file(os.path.join(d, "sub")),
    "hash with threads=0": lambda m, d: m["hash"].hash_file(os.path.join(d, "file"), threads=0),
    "hash a str": lambda m, d: m["hash"].Blake3("text"),
    "a short key": lambda m, d: m["hash"].Blake3(key=b"short"),
    "a batch path with ..": lambda m, d: m["hash"].hash_files(d, ["../file"]),
    "a batch of a missing file": lambda m, d: m["hash"].hash_files(d, ["missing"]),
    "a report of a missing file": lambda m, d: [r.error.__class__ for r in m["hash"].hash_files_report(d, ["missing"])],
    "caps that do not match": lambda m, d: m["hash"].read_files(d, ["file"], []),
    "unknown BLAKE3 back end": lambda m, d: m["hash"].use_implementation("nope"),
    "chunk sizes out of order": lambda m, d: m["chunk"].chunker_id(min_size=10, avg_size=5),
    "chunk a missing file": lambda m, d: m["chunk"].chunk_file(os.path.join(d, "missing")),
    "a progress that raises": lambda m, d: m["chunk"].chunk_file(os.path.join(d, "file"),
                                                                  progress=lambda p: 1 / 0),
    "clone a missing tree": lambda m, d: m["clone"].clone_tree(os.path.join(d, "missing"), os.path.join(d, "x")),
    "clone onto an existing path": lambda m, d: m["clone"].clone_tree(os.path.join(d, "sub"), d),
    "clone with a bad mode": lambda m, d: m["clone"].clone_file(os.path.join(d, "file"), d, mode="fast"),
    "clone a file onto itself": lambda m, d: m["clone"].clone_file(os.path.join(d, "file"), os.path.join(d, "file")),
    "manifest of a missing tree": lambda m, d: m["manifest"].scan_tree(os.path.join(d, "missing")),
    "sections that are not": lambda m, d: m["manifest"].check_sections(b"xx", None, 1, False),
    "open a link as a directory": lambda m, d: m["tree"].Dir.open(d).open_at("link"),
    "an entry name with a slash": lambda m, d: m["tree"].Dir.open(d).stat_at("a/b"),
    "a link read from a file": lambda m, d: m["tree"].Dir.open(d).readlink_at("file"),
    "an exclusive create of an existing file": lambda m, d: m["tree"].Dir.open(d).create_at("file"),
    "a tar header that is not one": lambda m, d: m["tar"].TarReader().read(b"x" * 1024, True, 0),
    "a file to write with no path": lambda m, d: m["tree"].Dir.open(d).write_files([(b"", b"x", 0o644, 0)]),
    "a file to write that exists": lambda m, d: m["tree"].Dir.open(d).write_files([(b"file", b"x", 0o644, 0)]),
    "a file to write with half an owner": lambda m, d: m["tree"].Dir.open(d).write_files(
        [(b"new", b"x", 0o644, 0, 0, None)]),
    "a file to write given as a pair": lambda m, d: m["tree"].Dir.open(d).write_files([(b"new", b"x")]),
    "a directory to create that exists": lambda m, d: m["tree"].Dir.open(d).create_dirs([b"sub"]),
    "a directory to create given as text": lambda m, d: m["tree"].Dir.open(d).create_dirs(["new"]),
    "a directory to finish through a link": lambda m, d: m["tree"].Dir.open(d).finish_dirs(
        [(b"sub", 0o755, 0), (b"link", 0o700, 0)]),
    "a directory to finish with half an owner": lambda m, d: m["tree"].Dir.open(d).finish_dirs(
        [(b"sub", 0o755, 0, 0, None)]),
    "a directory to finish given as a pair": lambda m, d: m["tree"].Dir.open(d).finish_dirs([(b"sub", 0o755)]),
    "hash many with a str": lambda m, d: m["hash"].hash_many([b"x", "text"]),
    "a clone with a short hash": lambda m, d: m["tree"].Dir.open(d).write_clones(
        m["tree"].Dir.open(d), [(b"new", b"file", b"x" * 31, 0o644, 0, None, None)]),
    "a clone with half an owner": lambda m, d: m["tree"].Dir.open(d).write_clones(
        m["tree"].Dir.open(d), [(b"new", b"file", b"x" * 32, 0o644, 0, 0, None)]),
    "a clone of no path": lambda m, d: m["tree"].Dir.open(d).write_clones(
        m["tree"].Dir.open(d), [(b"new", b"", b"x" * 32, 0o644, 0, None, None)]),
    "a clone of a missing source": lambda m, d: _first_error(m["tree"].Dir.open(d).write_clones(
        m["tree"].Dir.open(d), [(b"new", b"missing", b"x" * 32, 0o644, 0, None, None)])),
    "a clone of a source that is not what its hash says": lambda m, d: _first_error(
        m["tree"].Dir.open(d).write_clones(m["tree"].Dir.open(d), [(b"new", b"file", b"x" * 32, 0o644, 0, None, None)])),
    "an unknown fault step": lambda m, d: m["fault"].step("explode", None),
    "a negative process id": lambda m, d: m["process"].pid_alive(-1),
}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_the_same_bad_call_raises_the_same_exception(case, tmp_path):
    (tmp_path / "file").write_bytes(b"x" * 5000)
    (tmp_path / "sub").mkdir()
    (tmp_path / "link").symlink_to("sub")
    outcomes = {}
    for backend in BACKENDS:
        modules = {name: binding(backend, name) for name in PUBLIC}
        outcomes[backend] = _outcome(lambda: BAD_CALLS[case](modules, str(tmp_path)))
    assert outcomes["cython"] == outcomes["cffi"]
    assert outcomes["cython"][0] != "returned" or case.startswith(("a report", "sections"))


def test_the_shared_status_codes_are_the_c_values():
    names = ["OK", "E_IO", "E_NOMEM", "E_NOTSUP", "E_XDEV", "E_UNSAFE_PATH", "E_CORRUPT", "E_CANCELLED",
             "E_INVAL", "E_CHANGED", "E_SPECIAL"]
    assert [getattr(status, n) for n in names] == [getattr(lib, f"BD_{n}") for n in names]
    assert len(names) == lib.BD_STATUS_COUNT
    assert (status.PATH_AS_GIVEN, status.PATH_SRC, status.PATH_DST) == (
        lib.BD_PATH_AS_GIVEN, lib.BD_PATH_SRC, lib.BD_PATH_DST)


def test_the_shared_values_have_the_c_values():
    assert [k.value for k in values.Kind] == [lib.BD_KIND_FILE, lib.BD_KIND_DIR, lib.BD_KIND_SYMLINK,
                                              lib.BD_KIND_REPARSE, lib.BD_KIND_SPECIAL]
    assert [values.METHODS.index(m) for m in ("none", "clone", "kernel_copy", "os_copy", "user_copy")] == [
        lib.BD_METHOD_NONE, lib.BD_METHOD_CLONE, lib.BD_METHOD_KERNEL_COPY, lib.BD_METHOD_OS_COPY,
        lib.BD_METHOD_USER_COPY]


def test_both_back_ends_hand_out_the_same_classes(tmp_path):
    (tmp_path / "f").write_bytes(b"data")
    stats = [binding(b, "tree").Dir.open(tmp_path).stat_at("f") for b in BACKENDS]
    assert type(stats[0]) is type(stats[1]) is values.Stat and stats[0] == stats[1]


def test_both_back_ends_read_the_same_tar_members():
    """The same values, not only the same names: a C char is an int from Cython and was bytes
    from cffi, which turned every member of a tar into a "special file" (found by .ci/wheel's demo)."""
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind in (("d", tarfile.DIRTYPE), ("d/f", tarfile.REGTYPE), ("d/l", tarfile.SYMTYPE),
                           ("p", tarfile.FIFOTYPE)):
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.size = kind, "f" if kind == tarfile.SYMTYPE else "", 0
            t.addfile(info, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)
    rows = {b: binding(b, "tar").TarReader().read(buf.getvalue(), True, 1 << 20)[0] for b in BACKENDS}
    assert [r[0] for r in rows["cython"]] == [ord(c) for c in "5026"]
    assert rows["cffi"] == rows["cython"]


def test_every_status_becomes_a_bodega_error_or_memory_error():
    for code in range(1, lib.BD_STATUS_COUNT):
        exc = status.native_error(code, 5 if code == status.E_IO else 0, "op", b"p", False, status.PATH_AS_GIVEN)
        assert isinstance(exc, (errors.BodegaError, MemoryError)), code
    assert isinstance(status.native_error(status.E_CANCELLED, 0, "op", b"", False, 0), errors.Cancelled)


def test_the_backend_is_chosen_by_the_environment(monkeypatch):
    monkeypatch.delenv("BODEGA_BACKEND", raising=False)
    assert chosen_backend() == default_backend() == ("cython" if sys.implementation.name == "cpython" else "cffi")
    monkeypatch.setenv("BODEGA_BACKEND", "cffi")
    assert chosen_backend() == "cffi"
    monkeypatch.setenv("BODEGA_BACKEND", "ctypes")
    with pytest.raises(errors.InvalidInput, match="BODEGA_BACKEND must be one of cython, cffi"):
        chosen_backend()


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_package_serves_the_chosen_backend(backend, tmp_path):
    code = ("import bodega._native as n, bodega._native.scan as s; "
            "print(n.BACKEND, s.__name__, s.scan.__module__)")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "BODEGA_BACKEND": backend},
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == backend
    assert out[2] == ("bodega._native.scan" if backend == "cython" else "bodega._native.cffi_backend.scan")


def test_the_cffi_declarations_are_the_headers():
    """build.py's cdef is generated from native/include: every public function and macro is in lib."""
    import re
    from pathlib import Path

    include = Path(__file__).resolve().parents[2] / "native" / "include" / "bodega"
    functions, macros = set(), set()
    for header in include.glob("bd_*.h"):
        if header.name in ("bd_simd.h", "bd_thread.h"):  # internal: inline atomics and SIMD dispatch
            continue
        text = re.sub(r"/\*.*?\*/", "", header.read_text(), flags=re.S)
        functions |= set(re.findall(r"^[a-z][\w ]*?\**\b(bd_\w+)\(", text, flags=re.M))
        macros |= {m for m in re.findall(r"^#define (BD_\w+) [^\n(]", text, flags=re.M)}
    assert len(functions) > 80
    assert sorted(f for f in functions if not hasattr(lib, f)) == []
    assert sorted(m for m in macros if not hasattr(lib, m)) == []
