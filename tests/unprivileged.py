"""Running a test's function as an unprivileged user: as root, in a forked child that drops to nobody."""
from __future__ import annotations

import os
import pickle
import pwd
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator


def as_unprivileged(fn: Callable[[], Any]) -> Any:
    """fn()'s result, computed without root: in a child that became `nobody` when we are root.

    The child is forked, so modules the parent imported stay usable even where nobody could
    not read them; fn must import nothing new that nobody cannot read.
    """
    if os.geteuid() != 0:
        return fn()
    nobody = pwd.getpwnam("nobody")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop privileges for good, run, send the result, never return to pytest
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            payload = pickle.dumps(("ok", fn()))
        except BaseException as e:  # noqa: BLE001 (reported to the parent, which fails the test)
            payload = pickle.dumps(("error", repr(e)))
        with os.fdopen(write, "wb") as out:
            out.write(payload)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        status, value = pickle.loads(f.read())
    os.waitpid(pid, 0)
    if status != "ok":
        raise AssertionError(f"as nobody: {value}")
    return value


@contextmanager
def public_dir(name: str) -> Iterator[Path]:
    """A fresh directory nobody can reach (pytest's own temp root is private to its user), removed after."""
    d = Path(tempfile.mkdtemp(prefix=f"bodega-{name}-", dir=tempfile.gettempdir()))
    try:
        d.chmod(0o755)
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)
