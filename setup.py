"""Builds the native core and its Cython bindings (metadata lives in pyproject.toml).

The C core in native/ is compiled once into a static library with strict warnings
(-Wall -Wextra, and -Werror when BODEGA_WERROR=1, as CI sets it); every .pyx module in
src/bodega/_native/ links against it.  Cython's generated C is compiled without -Werror,
since its warnings are not ours to fix.
"""
import glob
import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

PLATFORM_DIR = "win32" if sys.platform == "win32" else "posix"
INCLUDE_DIRS = ["native/include"]
HEADERS = sorted(glob.glob("native/include/bodega/*.h"))
CORE_SOURCES = sorted(glob.glob("native/src/*.c")) + sorted(glob.glob(f"native/{PLATFORM_DIR}/*.c"))

WARNINGS = ["-Wall", "-Wextra", "-Wshadow", "-Wpointer-arith", "-Wstrict-prototypes"]
if os.environ.get("BODEGA_WERROR") == "1":
    WARNINGS.append("-Werror")
CORE_CFLAGS = ["-std=c99", "-O2", "-D_GNU_SOURCE", "-D_FILE_OFFSET_BITS=64", "-fvisibility=hidden", *WARNINGS]

CORE_LIBRARY = (
    "bodegacore",
    {
        "sources": CORE_SOURCES,
        "include_dirs": INCLUDE_DIRS,
        "cflags": CORE_CFLAGS,
        "obj_deps": {"": HEADERS},
    },
)


class BuildExtWithCore(build_ext):
    """build_ext that always builds the C core first, so `build_ext --inplace` works alone."""

    def run(self) -> None:
        self.run_command("build_clib")
        super().run()


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
                extra_compile_args=["-O2"],
            )
        )
    return cythonize(
        extensions,
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False,
                             "embedsignature": True},
        include_path=["src"],
    )


setup(
    libraries=[CORE_LIBRARY],
    ext_modules=native_extensions(),
    cmdclass={"build_ext": BuildExtWithCore},
)
