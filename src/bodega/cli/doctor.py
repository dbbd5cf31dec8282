"""`bodega doctor`: what bodega runs on and whether copy-on-write cloning works in its home."""
from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import click

from bodega import __version__
from bodega.cli.options import home_option, json_option
from bodega.cli.output import emit, human_bytes


def _native() -> dict[str, Any]:
    """The native core: built or not, the binding in use (Cython or cffi), and its features."""
    from bodega.errors import InvalidInput

    try:
        from bodega import _native
    except (ImportError, InvalidInput) as exc:  # not built, or BODEGA_BACKEND names no binding
        return {"built": False, "error": str(exc), "features": []}
    return {"built": True, "platform": _native.PLATFORM, "backend": _native.BACKEND,
            "features": sorted(_native.features)}


def _home(home: Path) -> dict[str, Any]:
    """The home directory, its filesystem and whether it clones."""
    from bodega import fs

    info = fs.fs_info(home)
    return {
        "path": str(home),
        "exists": home.is_dir(),
        "probed_at": info.path,
        "filesystem": info.fs_name,
        "block_size": info.block_size,
        "bytes_free": info.bytes_free,
        "bytes_total": info.bytes_total,
        "cow_clone": info.can_clone,
    }


def _isolation() -> dict[str, Any]:
    """How apps are isolated here: the sandbox tool, where they see the root, how limits apply."""
    from bodega._native import process

    return process.isolation().to_dict()


def report(home: str | None) -> dict[str, Any]:
    """Everything doctor shows, as a JSON-ready dict."""
    native = _native()
    out: dict[str, Any] = {
        "bodega": __version__,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "native": native,
    }
    if native["built"]:
        from bodega.home import Home

        out["home"] = _home(Home.at(home).root)
        out["isolation"] = _isolation()
    return out


def _text(r: dict[str, Any]) -> str:
    native = r["native"]
    lines = [
        f"bodega      {r['bodega']}",
        f"python      {r['python']}",
        f"platform    {r['platform']}",
        "native      " + (f"built ({native['platform']}, {native['backend']} binding; BODEGA_BACKEND=cython|cffi"
                           f" picks): {' '.join(native['features'])}" if native["built"]
                          else f"NOT BUILT: {native['error']}"),
    ]
    h = r.get("home")
    if h:
        where = "" if h["exists"] else f" (not created yet; volume of {h['probed_at']})"
        lines += [
            f"home        {h['path']}{where}",
            f"filesystem  {h['filesystem']}, {human_bytes(h['bytes_free'])} free of {human_bytes(h['bytes_total'])}",
            "cow clone   " + ("yes: containers clone instantly, sharing blocks" if h["cow_clone"]
                              else "no: clones fall back to copying (use XFS, btrfs or ReFS for instant clones)"),
        ]
    iso = r.get("isolation")
    if iso:
        limits = (f"memory by {iso['memory_by']}, cpu by {iso['cpu_by']}"
                  + ("" if iso["cpu_by"] != "none" else " (cpu_limit cannot be applied)"))
        if iso["root_view"] is None:
            lines.append(f"isolation   job object ({limits}); filesystem and network isolation need drivers here")
        elif iso["available"]:
            lines.append(f"isolation   {iso['tool']}: apps see the container at {iso['root_view']}; {limits}")
        else:
            lines.append("isolation   NONE: bubblewrap is not installed, so `bodega run` and installers refuse to run")
    return "\n".join(lines)


@click.command()
@home_option
@json_option
def doctor(home: str | None, as_json: bool) -> None:
    """Show the platform, the native build and whether the home can clone copy-on-write."""
    emit(report(home), as_json, _text)


COMMANDS = [doctor]
