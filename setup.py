"""Builds the native core, its Cython bindings and its cffi binding (metadata lives in pyproject.toml).

The C core in native/ is compiled once into a static library with strict warnings, the
flags chosen per compiler (GCC/Clang: -std=c99 -Wall -Wextra; MSVC: /W4; and -Werror or
/WX when BODEGA_WERROR=1, as CI sets it); every .pyx module in src/bodega/_native/ links
against it, and so does the cffi back end (bodega._native.cffi_backend._bd, API mode, its
cdef generated from the same headers by src/bodega/_native/cffi_backend/build.py).  The
generated C of both is compiled without -Werror, since its warnings are not ours to fix.
"""
import glob
import importlib.util
import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_clib import build_clib
from setuptools.command.build_ext import build_ext

PLATFORM_DIR = "win32" if sys.platform == "win32" else "posix"
INCLUDE_DIRS = ["native/include"]
HEADERS = sorted(glob.glob("native/include/bodega/*.h"))
CORE_SOURCES = sorted(glob.glob("native/src/*.c")) + sorted(glob.glob(f"native/{PLATFORM_DIR}/*.c"))

WERROR = os.environ.get("BODEGA_WERROR") == "1"


def core_cflags(compiler_type: str) -> list:
    """The C core's flags for this compiler: strict C99 for GCC/Clang, /W4 for MSVC."""
    if compiler_type == "msvc":
        return ["/O2", "/W4", *(["/WX"] if WERROR else [])]
    warnings = ["-Wall", "-Wextra", "-Wshadow", "-Wpointer-arith", "-Wstrict-prototypes"]
    return ["-std=c99", "-O2", "-D_GNU_SOURCE", "-D_FILE_OFFSET_BITS=64", "-fvisibility=hidden", *warnings,
            *(["-Werror"] if WERROR else [])]


def binding_cflags(compiler_type: str) -> list:
    """Flags for Cython's generated C (never -Werror: its warnings are not ours to fix)."""
    return ["/O2"] if compiler_type == "msvc" else ["-O2"]


CORE_LIBRARY = (
    "bodegacore",
    {
        "sources": CORE_SOURCES,
        "include_dirs": INCLUDE_DIRS,
        "obj_deps": {"": HEADERS},
    },
)


class BuildClibPerCompiler(build_clib):
    """build_clib that picks the core's flags for the compiler in use (GCC, Clang or MSVC)."""

    def build_libraries(self, libraries: list) -> None:
        flags = core_cflags(self.compiler.compiler_type)
        super().build_libraries([(name, {**info, "cflags": flags}) for name, info in libraries])


class BuildExtWithCore(build_ext):
    """build_ext that always builds the C core first, so `build_ext --inplace` works alone."""

    def finalize_options(self) -> None:
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1  # a dozen modules: compiled side by side, CI builds them twice

    def run(self) -> None:
        self.run_command("build_clib")
        super().run()

    def build_extension(self, ext: Extension) -> None:
        ext.extra_compile_args = binding_cflags(self.compiler.compiler_type)
        super().build_extension(ext)


def native_extensions() -> list:
    """One extension module per .pyx file in src/bodega/_native/."""
    from Cython.Build import cythonize

    extensions = []
    for pyx in sorted(glob.glob("src/bodega/_native/*.pyx")):
        name = os.path.splitext(os.path.basename(pyx))[0]
        extensions.append(
            Extension(
                f"bodega._native.{name}",
                [pyx],
                include_dirs=INCLUDE_DIRS,
                depends=CORE_SOURCES + HEADERS,  # relink when the core changes
                libraries=["pthread"] if PLATFORM_DIR == "posix" else [],
            )
        )
    return [*cythonize(
        extensions,
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False,
                             "embedsignature": True},
        include_path=["src"],
    ), cffi_extension()]


def cffi_extension() -> Extension:
    """The cffi back end's module, its C emitted from build.py's FFI into build/."""
    spec = importlib.util.spec_from_file_location("bodega_cffi_build", "src/bodega/_native/cffi_backend/build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    os.makedirs("build/cffi", exist_ok=True)
    source = "build/cffi/_bd.c"
    build.ffibuilder.emit_c_code(source)
    return Extension(
        "bodega._native.cffi_backend._bd",
        [source],
        include_dirs=INCLUDE_DIRS,
        depends=CORE_SOURCES + HEADERS,
        libraries=["pthread"] if PLATFORM_DIR == "posix" else [],
    )


setup(
    libraries=[CORE_LIBRARY],
    ext_modules=native_extensions(),
    cmdclass={"build_clib": BuildClibPerCompiler, "build_ext": BuildExtWithCore},
)
