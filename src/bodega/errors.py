"""The BodegaError tree: every error bodega raises, its message and its exit code.

A leaf module (imports nothing from bodega) so every layer, the native bindings included,
can raise these.  Each class's docstring is its default message; `exit_code` is unique per
class (tests/test_errors.py checks) and documented in docs/errors.md.  Exit codes: 0 ok,
1 internal error, 2 usage (click), 3-99 errors, 100-127 warnings.

OS-level errors inherit both BodegaError and the matching built-in (FileNotFoundError,
PermissionError, ...), and keep errno and filename, so ordinary Python code that catches
OSError still works.
"""
from __future__ import annotations

import errno as _errno
import os
from typing import Any


class BodegaError(Exception):
    """bodega failed."""

    exit_code = 3
    bug = False  # True: a bug in bodega, so the CLI shows the traceback

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.details = details
        super().__init__(message or (self.__doc__ or type(self).__name__).strip().splitlines()[0])

    @property
    def message(self) -> str:
        """The human-readable message."""
        return str(self.args[0]) if self.args else ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description of the error."""
        out: dict[str, Any] = {"type": type(self).__name__, "message": str(self), "exit_code": self.exit_code}
        path = getattr(self, "filename", None) or self.details.get("path")
        if path is not None:
            out["path"] = os.fsdecode(path) if isinstance(path, (bytes, str)) else str(path)
        return out


class InternalError(BodegaError, RuntimeError):
    """Internal error: this is a bug in bodega."""

    exit_code = 1
    bug = True


# --- input and state --------------------------------------------------------------------

class InvalidInput(BodegaError, ValueError):
    """Invalid input."""

    exit_code = 10


class NotFound(BodegaError, LookupError):
    """Not found."""

    exit_code = 11


class Conflict(BodegaError):
    """The request conflicts with the current state."""

    exit_code = 12


class Cancelled(BodegaError):
    """Cancelled."""

    exit_code = 13


class UnsafePath(BodegaError):
    """A link or reparse point was found where bodega will not follow one."""

    exit_code = 14


class IntegrityError(BodegaError):
    """Data does not match its checksum."""

    exit_code = 15


class NotSupported(BodegaError):
    """Not supported on this platform or filesystem."""

    exit_code = 16


class CrossDevice(BodegaError):
    """Source and destination are on different volumes."""

    exit_code = 18


class SpecialFile(BodegaError):
    """A special file (fifo, socket or device) cannot be copied."""

    exit_code = 19


class ChangedWhileReading(BodegaError):
    """A file changed or vanished while it was being read."""

    exit_code = 20


# --- snapshots and the object store: 70-89 ------------------------------------------------

class ObjectCorrupt(IntegrityError):
    """A stored object does not match its hash."""

    exit_code = 70


class ObjectMissing(IntegrityError):
    """An object is missing from the store."""

    exit_code = 71


class PackCorrupt(IntegrityError):
    """A pack file of the store is damaged."""

    exit_code = 72


class StoreFormatUnsupported(BodegaError):
    """The store was written in a format this bodega does not read."""

    exit_code = 73


class StoreBusy(Conflict):
    """The store is busy: garbage collection and snapshot writers exclude each other."""

    exit_code = 74


class SnapshotNotFound(NotFound):
    """No such snapshot."""

    exit_code = 75


class SnapshotPathNotFound(NotFound):
    """No such path in the snapshot."""

    exit_code = 76


class SnapshotInUse(Conflict):
    """The snapshot is needed by others and cannot be removed."""

    exit_code = 77


class VerifyFailed(IntegrityError):
    """Verification found damage."""

    exit_code = 78


class RetentionInvalid(InvalidInput):
    """Invalid retention rule."""

    exit_code = 79


# --- apps: archives, installs and runs (84-89) -------------------------------------------

class UnsafeArchive(InvalidInput):
    """An archive member is unsafe to unpack (it would escape the tree or exhaust the disk)."""

    exit_code = 84

    def __init__(self, message: str | None = None, *, member: str | None = None, reason: str | None = None,
                 **details: Any) -> None:
        self.member = member
        self.reason = reason
        super().__init__(message, member=member, reason=reason, **details)


class ArchiveCorrupt(IntegrityError):
    """The archive is damaged, truncated or not an archive bodega reads."""

    exit_code = 85

    def __init__(self, message: str | None = None, *, member: str | None = None, **details: Any) -> None:
        self.member = member
        super().__init__(message, member=member, **details)


class InstallFailed(BodegaError):
    """The install failed; the container was rolled back to its pre-install snapshot."""

    exit_code = 86


class PlatformMismatch(Conflict):
    """The app is built for another platform than the container's."""

    exit_code = 87


class IsolationUnavailable(NotSupported):
    """The isolation the container's settings ask for cannot be enforced here."""

    exit_code = 88


class AppNotFound(NotFound):
    """No such app in the container."""

    exit_code = 89


# --- export packages (90-94) ------------------------------------------------------------

class PackageInvalid(InvalidInput):
    """Not a bodega package, or its description is missing or invalid."""

    exit_code = 90


class PackageDamaged(IntegrityError):
    """A package member does not match its hash, or the package does not match its manifest."""

    exit_code = 91

    def __init__(self, message: str | None = None, *, member: str | None = None, **details: Any) -> None:
        self.member = member
        super().__init__(message, member=member, **details)


class DeltaBaseMissing(Conflict):
    """A delta package needs its base snapshot, which no container here holds."""

    exit_code = 92


class UnsavedChanges(Conflict):
    """The container's tree has changes that no snapshot holds."""

    exit_code = 93


# --- manifests and diff (60-69) ----------------------------------------------------------

class ManifestCorrupt(IntegrityError):
    """The manifest file is damaged."""

    exit_code = 60

    def __init__(self, message: str | None = None, *, offset: int | None = None, **details: Any) -> None:
        self.offset = offset
        super().__init__(message, offset=offset, **details)


class ManifestVersionUnsupported(BodegaError):
    """This manifest's format version is not one this bodega reads."""

    exit_code = 61


class TreeMismatch(IntegrityError):
    """The tree does not match its manifest."""

    exit_code = 63


# --- storage I/O: also the matching built-in OSError subclass --------------------------

class StorageError(BodegaError, OSError):
    """A filesystem operation failed."""

    exit_code = 30

    def __init__(self, errno: int | None = None, strerror: str | None = None,
                 filename: str | bytes | None = None, op: str | None = None) -> None:
        # OSError's own constructor sets .errno, .strerror and .filename.
        self.details = {"op": op} if op else {}
        self.op = op
        if errno is None:
            OSError.__init__(self, strerror or (self.__doc__ or "").strip())
        elif filename is None:
            OSError.__init__(self, errno, strerror or os.strerror(errno))
        else:
            OSError.__init__(self, errno, strerror or os.strerror(errno), filename)

    @property
    def message(self) -> str:
        return str(self)

    def __str__(self) -> str:
        if self.errno is None:
            return str(self.args[0]) if self.args else (self.__doc__ or "").strip()
        where = f"{self.op}: " if self.op else ""
        if self.filename is not None:
            return f"{where}{os.fsdecode(self.filename)}: {self.strerror}"
        return f"{where}{self.strerror}"


class PathNotFound(StorageError, FileNotFoundError):
    """No such file or directory."""

    exit_code = 31


class PathExists(StorageError, FileExistsError):
    """The path exists already."""

    exit_code = 32


class AccessDenied(StorageError, PermissionError):
    """Permission denied."""

    exit_code = 33


class NoSpace(StorageError):
    """No space left on the device."""

    exit_code = 34


class NotADirectory(StorageError, NotADirectoryError):
    """Not a directory."""

    exit_code = 35


class IsADirectory(StorageError, IsADirectoryError):
    """Is a directory."""

    exit_code = 36


# --- catalogue, services and tasks (40-59) ---------------------------------------------

class InvalidName(InvalidInput):
    """Invalid name."""

    exit_code = 40


class InvalidSettings(InvalidInput):
    """Invalid container settings."""

    exit_code = 41


class AmbiguousReference(InvalidInput):
    """The reference matches more than one item: give more of the id."""

    exit_code = 42


class ContainerNotFound(NotFound):
    """No such container."""

    exit_code = 43


class TaskNotFound(NotFound):
    """No such task."""

    exit_code = 44


class UserNotFound(NotFound):
    """No such user."""

    exit_code = 45


class NameTaken(Conflict):
    """The name is taken."""

    exit_code = 46


class ContainerBusy(Conflict):
    """Another task is running on the container."""

    exit_code = 47


class WrongStatus(Conflict):
    """Not allowed in the current status."""

    exit_code = 48


class DeltaBaseMismatch(Conflict):
    """A delta snapshot needs a base snapshot of the same container."""

    exit_code = 49


class EntryPointRequired(InvalidInput):
    """An app that is ready needs at least one entry point."""

    exit_code = 50


class NotAnExportTask(Conflict):
    """Export packages are created only by an export task."""

    exit_code = 51


class TaskFailed(BodegaError):
    """The task failed."""

    exit_code = 52


class TaskInterrupted(TaskFailed):
    """The task was interrupted: the process running it stopped."""

    exit_code = 53


class WaitTimeout(BodegaError):
    """Timed out waiting."""

    exit_code = 54


class DatabaseLocked(BodegaError):
    """The catalogue is locked by another process."""

    exit_code = 55


class CatalogueError(BodegaError):
    """The catalogue cannot be used."""

    exit_code = 56


class Forbidden(BodegaError, PermissionError):
    """Your role does not allow this."""

    exit_code = 57


class ContainerManifestInvalid(InvalidInput):
    """The container's manifest.json is missing or invalid."""

    exit_code = 58


class ContainerExists(Conflict):
    """The container is in the catalogue already."""

    exit_code = 59


# --- users, sessions and the HTTP interfaces (95-99, 37-39) -----------------------------

class LoginFailed(BodegaError):
    """Wrong email or password, or the account is disabled."""

    exit_code = 95


class NotAuthenticated(BodegaError):
    """Not signed in: the session or API token is missing, expired, idle too long or revoked."""

    exit_code = 96


class MfaRequired(BodegaError):
    """A second factor is needed: verify a TOTP code (or enrol one, if the policy requires it)."""

    exit_code = 97


class MfaCodeInvalid(BodegaError):
    """The TOTP or recovery code is wrong, expired or already used."""

    exit_code = 98


class TooManyAttempts(BodegaError):
    """Too many failed sign-ins: wait before trying again."""

    exit_code = 99

    def __init__(self, message: str | None = None, *, retry_after: int = 60, **details: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, retry_after=retry_after, **details)


# --- many hosts: a catalogue server, an object store server, containers on other hosts --

class CatalogueUnavailable(CatalogueError):
    """The catalogue's database server cannot be reached: check BODEGA_DATABASE_URL and the server."""

    exit_code = 80


class StoreUnavailable(BodegaError):
    """The object store (or an s3:// export location) cannot be reached or keeps failing: check
    BODEGA_STORE_URL or the location, the server and the credentials, then try again."""

    exit_code = 81


class ContainerElsewhere(Conflict):
    """The container's tree lives on another host: its tasks run there (queue them with --detach
    for an agent on that host), or move it here with `bodega container recover --host`."""

    exit_code = 82


class MissingDependency(BodegaError):
    """An optional dependency is not installed."""

    exit_code = 37


class CsrfRejected(Forbidden):
    """The request's CSRF token is missing or wrong: reload the page and try again."""

    exit_code = 38


class RequestTooLarge(InvalidInput):
    """The request body is larger than the server accepts."""

    exit_code = 39


_ERRNO_CLASSES: dict[int, type[StorageError]] = {
    _errno.ENOENT: PathNotFound,
    _errno.EEXIST: PathExists,
    _errno.ENOTEMPTY: PathExists,
    _errno.EACCES: AccessDenied,
    _errno.EPERM: AccessDenied,
    _errno.ENOSPC: NoSpace,
    _errno.EDQUOT: NoSpace,
    _errno.ENOTDIR: NotADirectory,
    _errno.EISDIR: IsADirectory,
}


def storage_error(errno: int, filename: str | bytes | None = None, op: str | None = None) -> StorageError:
    """The StorageError subclass for an errno, with errno, strerror and filename set."""
    cls = _ERRNO_CLASSES.get(errno, StorageError)
    return cls(errno, os.strerror(errno), filename, op)


def os_error(exc: OSError, op: str, path: str | bytes | os.PathLike[str] | None = None) -> BodegaError:
    """The StorageError for an OSError raised by op: errno kept (EIO when it has none), path named.

    The one translation point from OSError to bodega's errors: every layer calls this.  A bodega
    error that is also an OSError (a StorageError, Forbidden...) is already translated: it is returned.
    """
    if isinstance(exc, BodegaError):
        return exc
    where = path if path is not None else exc.filename
    if where is not None and not isinstance(where, (str, bytes)):
        where = os.fspath(where)
    return storage_error(exc.errno or _errno.EIO, where, op)


def all_error_classes() -> list[type[BodegaError]]:
    """Every BodegaError subclass, the root included, depth first."""
    out: list[type[BodegaError]] = []
    stack: list[type[BodegaError]] = [BodegaError]
    while stack:
        cls = stack.pop()
        if cls not in out:
            out.append(cls)
            stack.extend(reversed(cls.__subclasses__()))
    return out
