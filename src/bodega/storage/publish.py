"""Publishing a staged tree in place of a live one: the old tree or the new, never half.

Where the kernel and the filesystem can, the two directories swap in one step
(renameat2 RENAME_EXCHANGE).  Elsewhere (Windows; Linux filesystems without exchange; or when
forced with BODEGA_PUBLISH=rename, as tests do) the publish is a journaled two-rename: the
restore journal names the new tree by file id, then the live tree moves aside into staging
and the new one takes its place.  A crash between the two renames leaves no tree at the live
path until recovery, on the next open, finishes the second rename (`complete`).
"""
from __future__ import annotations

import os
import uuid

from bodega import errors
from bodega.storage import faults
from bodega.storage.tree import Dir, Stat

ASIDE = b"old"
MODES = ("auto", "exchange", "rename")


def mode_from_env() -> str:
    """The publish mode BODEGA_PUBLISH asks for: auto (default), exchange or rename."""
    mode = os.environ.get("BODEGA_PUBLISH", "auto") or "auto"
    if mode not in MODES:
        raise errors.InvalidInput(f"BODEGA_PUBLISH is one of {', '.join(MODES)}, not {mode!r}")
    return mode


def identity(st: Stat) -> list[int]:
    """What names a directory across renames: its file id and volume."""
    return [st.file_id, st.file_id_hi, st.volume_id]


def same(st: Stat | None, ident: list[int | None] | None) -> bool:
    """Whether st is the directory ident names (a version-1 journal knew the inode only)."""
    if st is None or ident is None or st.kind != "dir":
        return False
    return all(want is None or got == want for got, want in zip(identity(st), ident))


def publish(parent: Dir, name: bytes, staging: Dir, staged: bytes, mode: str = "auto") -> str:
    """Puts staging/staged at parent/name, the live tree there (if any) moving to staging.

    Returns how: "exchange" (one atomic swap), "rename" (the journaled two-rename) or "new"
    (there was no live tree).  The restore journal must name the staged tree already.
    """
    faults.point("publish.step", step="start")
    if parent.stat_at(name) is None:
        staging.rename_at(staged, parent, name, noreplace=True)
        parent.sync()
        return "new"
    if mode != "rename":
        try:
            staging.rename_at(staged, parent, name, exchange=True)
        except errors.NotSupported:
            if mode == "exchange":
                raise
        else:
            parent.sync()
            faults.point("publish.step", step="exchanged")
            return "exchange"
    parent.rename_at(name, staging, _aside_name(staging), noreplace=True)
    faults.point("publish.step", step="moved aside")
    staging.rename_at(staged, parent, name, noreplace=True)
    parent.sync()
    faults.point("publish.step", step="renamed")
    return "rename"


def _aside_name(staging: Dir) -> bytes:
    return ASIDE if staging.stat_at(ASIDE) is None else b"old-" + uuid.uuid4().hex.encode()


def complete(parent: Dir, name: bytes, staging: Dir, staged: bytes, new_root: list[int | None] | None,
             mode: str = "auto") -> bool:
    """Finishes a publish a crash interrupted: True once the new tree is at parent/name; False
    when it cannot be (the staged tree is gone: nothing was published, the live tree stays)."""
    if same(parent.stat_at(name), new_root):
        return True
    if not same(staging.stat_at(staged), new_root):
        return False
    publish(parent, name, staging, staged, mode)
    return True
