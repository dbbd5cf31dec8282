"""The checks a member's name and link target pass before anything is written.

Names are normalised to relative '/'-separated bytes (leading './' and '.' components and
repeated slashes dropped); everything that could place a member outside the unpack root is
refused with errors.UnsafeArchive naming the member and the reason.
"""
from __future__ import annotations

import re

from bodega import errors

DRIVE = re.compile(rb"^[A-Za-z]:")
LINK_DEPTH = 40  # links followed while resolving one target, as the kernel allows


def refuse(member: str, reason: str, archive: str = "") -> errors.UnsafeArchive:
    """The error for an unsafe member."""
    where = f"{archive}: " if archive else ""
    return errors.UnsafeArchive(f"{where}member {member!r}: {reason}", member=member, reason=reason)


def shown(name: bytes) -> str:
    """A name for messages."""
    return name.decode("utf-8", "backslashreplace")


def normalize(name: bytes, *, backslash_is_separator: bool, max_path: int, max_depth: int) -> bytes:
    """name as a clean relative path (b"" for the root itself), or UnsafeArchive saying why not."""
    who = shown(name)
    if b"\x00" in name:
        raise refuse(who, "a NUL byte in the name")
    if backslash_is_separator:
        name = name.replace(b"\\", b"/")
    elif b"\\" in name:
        raise refuse(who, "a backslash in the name (a path separator on Windows)")
    if name.startswith(b"/"):
        raise refuse(who, "an absolute path")
    if DRIVE.match(name):
        raise refuse(who, "a drive letter")
    parts = [p for p in name.split(b"/") if p not in (b"", b".")]
    if b".." in parts:
        raise refuse(who, "a '..' component (path traversal)")
    if len(parts) > max_depth:
        raise refuse(who, f"nested {len(parts)} levels deep (the limit is {max_depth})")
    out = b"/".join(parts)
    if len(out) > max_path:
        raise refuse(who, f"a path of {len(out)} bytes (the limit is {max_path})")
    if any(len(p) > 255 for p in parts):
        raise refuse(who, "a name component longer than 255 bytes")
    return out


def resolve_inside(path: bytes, target: bytes, links: dict[bytes, bytes]) -> bool:
    """Whether the link at path with target stays inside the root, following the archive's own
    links (links: normalised path -> target) the way the kernel would."""
    if target.startswith((b"/", b"\\")) or DRIVE.match(target):
        return False
    stack = [p for p in target.replace(b"\\", b"/").split(b"/") if p not in (b"", b".")]
    stack.reverse()
    here = path.split(b"/")[:-1]
    followed = 0
    while stack:
        part = stack.pop()
        if part == b"..":
            if not here:
                return False
            here.pop()
            continue
        here.append(part)
        key = b"/".join(here)
        if key in links:
            followed += 1
            if followed > LINK_DEPTH:
                return False
            inner = links[key]
            if inner.startswith((b"/", b"\\")) or DRIVE.match(inner):
                return False
            here.pop()
            stack.extend(reversed([p for p in inner.replace(b"\\", b"/").split(b"/") if p not in (b"", b".")]))
    return True
