"""From a container's settings to the portable ProcessSpec of one launch (installer or entry point).

The container root is the app's writable world, seen at `ROOT_VIEW` (/container on POSIX, its
own host path on Windows).  Settings map as follows:
  env                   added to a small base (PATH, HOME in the container, TERM, LANG, TZ)
  mounts                binds, read-only unless "read_only": false
  network.default=deny  with no rule that allows: no network at all
  network.default=allow with no rule that denies: the host's network
  any other rule        refused with IsolationUnavailable naming it: bodega has no mechanism
                        here to enforce host/port rules, and never ignores one
  memory_limit_mb, cpu_limit   the cgroup or Job Object limits (doctor says which applies)
"""
from __future__ import annotations

import os
import posixpath
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bodega import errors
from bodega._native import process as native

BASE_PATH = "/usr/local/bin:/usr/bin:/bin"
PASSED_THROUGH = ("TERM", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "COLORTERM", "SYSTEMROOT", "WINDIR", "COMSPEC")
INSTALLER_DIR = "/run/bodega/installer"
DEFAULT_NETWORK = "deny"  # no "network" in settings: the safe side


@dataclass(frozen=True)
class Isolation:
    """The host's isolation (probed once per process)."""

    native: native.Isolation

    @property
    def root_view(self) -> str | None:
        """Where apps see the container root (None: at its host path)."""
        return self.native.root_view


_PROBED: Isolation | None = None


def host_isolation() -> Isolation:
    """What this host offers (sandbox tool, root view, limit mechanisms)."""
    global _PROBED
    if _PROBED is None:
        _PROBED = Isolation(native.isolation())
    return _PROBED


def view_of(root: Path, rel: str) -> str:
    """The path an app sees for rel ('/'-separated, inside the container root)."""
    view = host_isolation().root_view
    if view is None:
        return str(root / rel) if rel else str(root)
    return posixpath.join(view, rel) if rel else view


def network_mode(settings: dict[str, Any]) -> str:
    """"none" or "host" for the container's network settings; IsolationUnavailable for a rule
    that would need filtering."""
    net = settings.get("network") or {}
    default = net.get("default", DEFAULT_NETWORK)
    for i, rule in enumerate(net.get("rules", [])):
        if rule.get("action") != default:
            where = f"{rule.get('host')}" + (f":{rule['port']}" if rule.get("port") else "")
            raise errors.IsolationUnavailable(
                f"network rule {i + 1} ({rule.get('action')} {where}) cannot be enforced here: bodega has no "
                f"per-host filter on this platform; use network.default={rule.get('action')} without rules, "
                "or remove the rule")
    if default == "deny":
        if not host_isolation().native.network_none:
            raise errors.IsolationUnavailable(
                "network.default=deny cannot be enforced here (on Windows that is a network filter driver's "
                "job); set network.default=allow to run without network isolation")
        return "none"
    return "host"


def check_relative(path: str, what: str) -> str:
    """path if it is relative and stays inside the container; InvalidInput naming what otherwise."""
    if not path or path.startswith(("/", "\\")) or (len(path) > 1 and path[1] == ":"):
        raise errors.InvalidInput(f"{what} {path!r} names a path outside the container: give a path relative "
                                  "to the app's directory")
    parts = path.replace("\\", "/").split("/")
    if ".." in parts:
        raise errors.InvalidInput(f"{what} {path!r} names a path outside the container (it climbs with ..)")
    return "/".join(p for p in parts if p not in ("", "."))


def split_command(command: str, what: str) -> list[str]:
    """The words of an entry command, the first a program relative to the app's directory."""
    try:
        words = shlex.split(command)
    except ValueError as e:
        raise errors.InvalidInput(f"{what}: cannot parse {command!r}: {e}") from None
    if not words:
        raise errors.InvalidInput(f"{what}: the command is empty")
    words[0] = check_relative(words[0], f"{what}: program")
    return words


def _binds(settings: dict[str, Any]) -> list[native.Bind]:
    out = []
    view = host_isolation().root_view
    for m in settings.get("mounts", []):
        target = m["target"]
        if view is not None and (not target.startswith("/") or target.rstrip("/") in ("", view)
                                 or target.startswith(view + "/")):
            raise errors.InvalidSettings(f"mount target {target!r} must be an absolute path outside {view}")
        if not os.path.exists(m["source"]):
            raise errors.PathNotFound(2, None, m["source"], "mount source")
        out.append(native.Bind(m["source"], target, m.get("read_only", True)))
    return out


def environment(settings: dict[str, Any], root: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The app's whole environment: a small base, the container's env, then extra."""
    home = view_of(root, "home")
    env = {"PATH": BASE_PATH, "HOME": home, "BODEGA_CONTAINER_ROOT": view_of(root, "")}
    env.update({k: os.environ[k] for k in PASSED_THROUGH if k in os.environ})
    env.update(settings.get("env", {}))
    env.update(extra or {})
    return env


def process_spec(settings: dict[str, Any], root: Path, argv: list[str], cwd: str, *,
                 env_extra: dict[str, str] | None = None, binds: list[native.Bind] | None = None,
                 time_limit: float = 0.0) -> native.ProcessSpec:
    """The launch of argv (paths as the app sees them) in the container at root, isolated by settings."""
    iso = host_isolation()
    if not iso.native.available:
        raise errors.IsolationUnavailable("bubblewrap is not installed (Debian: apt-get install bubblewrap): "
                                          "bodega runs no app without its isolation")
    network = network_mode(settings)
    all_binds = _binds(settings) + list(binds or [])
    if all_binds and not iso.native.binds:
        raise errors.IsolationUnavailable("mounts are a filesystem driver's job on this platform: remove them "
                                          "from the container's settings")
    memory = int(settings.get("memory_limit_mb", 0)) << 20
    return native.ProcessSpec(argv=tuple(argv), env=environment(settings, root, env_extra), cwd=cwd,
                              root=str(root), binds=tuple(all_binds), network=network, memory_limit=memory,
                              cpu_limit=float(settings.get("cpu_limit", 0.0)), time_limit=time_limit)


def installer_bind(installer: Path) -> tuple[str, list[native.Bind]]:
    """How an installer on the host is run: (its path as the app sees it, binds to add)."""
    if host_isolation().root_view is None:
        return str(installer), []
    target = posixpath.join(INSTALLER_DIR, installer.name)
    return target, [native.Bind(str(installer), target, True)]
