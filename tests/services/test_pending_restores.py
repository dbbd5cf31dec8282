"""The markers of restores in progress: a marker that cannot be written leaves nothing."""
from __future__ import annotations

import uuid

import pytest

from bodega import errors
from bodega.services.pending_restores import PendingRestores
from bodega.storage import faults


@pytest.mark.parametrize("plan", ["ENOSPC@rename:1", "ENOSPC@write:1", "EIO@sync:1"])
def test_a_marker_that_fails_leaves_no_temporary_file(tmp_path, plan):
    """Found by the error sweep (ENOSPC at the marker's rename left tmp/restores/ID.tmp for ever)."""
    markers = PendingRestores(tmp_path / "restores")
    container, task = uuid.uuid4(), uuid.uuid4()
    with faults.stepping(plan), pytest.raises(errors.BodegaError):
        markers.mark(container, task)
    assert sorted(p.name for p in (tmp_path / "restores").iterdir()) == []
    markers.mark(container, task)
    assert markers.all() == [(container, str(task))]
