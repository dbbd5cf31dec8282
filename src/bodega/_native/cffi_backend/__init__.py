"""The cffi back end of the native core: the same modules and API as the Cython bindings.

Selected with BODEGA_BACKEND=cffi (the default on PyPy); `bodega._native` then serves these
modules under its own names.  The C module `_bd` is compiled by setup.py from build.py.
"""
