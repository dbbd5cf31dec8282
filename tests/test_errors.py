"""The error tree: one exit code per class, in range, each with a message."""
from __future__ import annotations

import errno
import os
from collections import Counter

import pytest

from bodega import errors

# Ranges by layer (HELPER_COMMON / docs): native and storage, catalogue/services/tasks, manifests/diff,
# snapshots/store, exports, users and sessions.
RANGES = [range(1, 40), range(40, 60), range(60, 70), range(70, 90), range(90, 100)]


def test_exit_codes_are_unique():
    codes = Counter(cls.exit_code for cls in errors.all_error_classes())
    assert [code for code, n in codes.items() if n > 1] == []


def test_exit_codes_are_in_the_error_range():
    for cls in errors.all_error_classes():
        assert 1 <= cls.exit_code <= 99, cls
        assert any(cls.exit_code in r for r in RANGES), cls


def test_every_class_has_a_message():
    for cls in errors.all_error_classes():
        assert (cls.__doc__ or "").strip(), cls
        assert str(cls()) if not issubclass(cls, errors.StorageError) else str(cls(None, None))


def test_the_catalogue_classes_use_40_to_59():
    catalogue = [errors.InvalidName, errors.InvalidSettings, errors.AmbiguousReference, errors.ContainerNotFound,
                 errors.TaskNotFound, errors.UserNotFound, errors.NameTaken, errors.ContainerBusy, errors.WrongStatus,
                 errors.DeltaBaseMismatch, errors.EntryPointRequired, errors.NotAnExportTask, errors.TaskFailed,
                 errors.TaskInterrupted, errors.WaitTimeout, errors.DatabaseLocked, errors.CatalogueError,
                 errors.Forbidden, errors.ContainerManifestInvalid, errors.ContainerExists]
    assert sorted(c.exit_code for c in catalogue) == list(range(40, 60))


def test_the_package_classes_use_90_to_93():
    package = [errors.PackageInvalid, errors.PackageDamaged, errors.DeltaBaseMissing, errors.UnsavedChanges]
    assert sorted(c.exit_code for c in package) == list(range(90, 94))
    assert isinstance(errors.PackageDamaged(member="root/a"), errors.IntegrityError)


def test_catalogue_errors_are_caught_by_their_family_and_builtin():
    assert isinstance(errors.ContainerNotFound(), LookupError)
    assert isinstance(errors.InvalidName(), ValueError)
    assert isinstance(errors.Forbidden(), PermissionError)
    assert isinstance(errors.NameTaken(), errors.Conflict)



def test_os_error_keeps_errno_and_names_path_and_op():
    e = errors.os_error(FileNotFoundError(errno.ENOENT, "nope", "/x/y"), "open manifest")
    assert isinstance(e, errors.PathNotFound) and isinstance(e, FileNotFoundError)
    assert e.errno == errno.ENOENT and e.filename == "/x/y"
    assert str(e) == f"open manifest: /x/y: {e.strerror}"


def test_os_error_without_errno_is_eio_not_success():
    e = errors.os_error(OSError("weird"), "write", b"/a")
    assert e.errno == errno.EIO and "Success" not in str(e)


@pytest.mark.parametrize("code, cls, exit_code", [
    (errno.ENOENT, errors.PathNotFound, 31), (errno.EEXIST, errors.PathExists, 32),
    (errno.ENOTEMPTY, errors.PathExists, 32), (errno.EACCES, errors.AccessDenied, 33),
    (errno.EPERM, errors.AccessDenied, 33), (errno.ENOSPC, errors.NoSpace, 34), (errno.EDQUOT, errors.NoSpace, 34),
    (errno.ENOTDIR, errors.NotADirectory, 35), (errno.EISDIR, errors.IsADirectory, 36),
    (errno.EIO, errors.StorageError, 30), (errno.ELOOP, errors.StorageError, 30),
])
def test_os_error_gives_the_class_of_its_errno(code, cls, exit_code):
    """One class per errno, the documented exit code (docs/errors.md), errno kept, op and path named."""
    e = errors.os_error(OSError(code, "whatever the OS said"), "do", "/p")
    assert type(e) is cls and e.exit_code == exit_code
    assert e.errno == code and e.filename == "/p" and str(e) == f"do: /p: {os.strerror(code)}"


def test_os_error_given_path_wins_and_bodega_errors_pass_through():
    e = errors.os_error(OSError(errno.ENOSPC, "full"), "write pack", "/store/p")
    assert isinstance(e, errors.NoSpace) and e.filename == "/store/p"
    assert errors.os_error(e, "other") is e
    forbidden = errors.Forbidden("not yours")  # a PermissionError too: not made an AccessDenied
    assert errors.os_error(forbidden, "other") is forbidden


def test_the_users_and_sessions_classes_use_95_to_99_and_37_to_39():
    auth = [errors.LoginFailed, errors.NotAuthenticated, errors.MfaRequired, errors.MfaCodeInvalid,
            errors.TooManyAttempts, errors.MissingDependency, errors.CsrfRejected, errors.RequestTooLarge]
    assert sorted(c.exit_code for c in auth) == [37, 38, 39, 95, 96, 97, 98, 99]
    assert isinstance(errors.CsrfRejected(), errors.Forbidden)
    assert errors.TooManyAttempts(retry_after=7).retry_after == 7
