import errno

import pytest

from bodega import errors
from bodega.storage.new_file import new_file


def test_the_file_is_created_owner_only_and_filled(tmp_path):
    dest = tmp_path / "f"
    with new_file(dest, "restore") as f:
        f.write(b"x" * 100_000)
        mode = f.stat().mode & 0o777
    assert mode == 0o600
    assert dest.read_bytes() == b"x" * 100_000


def test_an_existing_file_is_refused_and_kept(tmp_path):
    dest = tmp_path / "f"
    dest.write_bytes(b"mine")
    with pytest.raises(errors.StorageError) as info:
        with new_file(dest, "restore"):
            pass
    assert info.value.errno == errno.EEXIST and info.value.filename == str(dest)
    assert dest.read_bytes() == b"mine"


def test_a_link_in_the_way_is_not_followed(tmp_path):
    target = tmp_path / "target"
    target.write_bytes(b"keep")
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(errors.StorageError):
        with new_file(tmp_path / "link", "restore"):
            pass
    assert target.read_bytes() == b"keep"


def test_a_failing_body_removes_the_file_and_names_it(tmp_path):
    dest = tmp_path / "f"
    with pytest.raises(errors.StorageError) as info:
        with new_file(dest, "restore") as f:
            f.write(b"half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(dest)
    assert not dest.exists()


def test_a_bodega_error_in_the_body_passes_through_and_removes_the_file(tmp_path):
    dest = tmp_path / "f"
    with pytest.raises(errors.Cancelled):
        with new_file(dest, "restore"):
            raise errors.Cancelled("stop")
    assert not dest.exists()
