"""Store journals: a journal is abandoned exactly when no process holds it."""
from __future__ import annotations

import signal

from bodega.storage.journal import Journals
from subprocesses import python_child


def test_a_journal_held_by_its_task_is_not_abandoned_and_one_left_behind_is(tmp_path):
    journals = Journals(tmp_path)
    held = journals.begin("task-1", {"op": "create", "snapshot": "s1"})
    assert list(journals.abandoned()) == []  # another descriptor, even in this process, sees the lock
    held.close(done=False)  # as a process that stopped would leave it
    (found,) = list(journals.abandoned())
    assert found.doc == {"op": "create", "snapshot": "s1"} and found.path.name == "task-1.json"
    assert list(journals.abandoned()) == []  # found holds it now
    found.close(done=True)
    assert list(journals.abandoned()) == [] and not found.path.exists()


def test_a_torn_journal_comes_back_empty(tmp_path):
    journals = Journals(tmp_path)
    journals.begin("task-2", {"op": "forget"}).close(done=False)
    (tmp_path / "journal" / "task-2.json").write_bytes(b'{"op": "forg')
    (found,) = list(journals.abandoned())
    assert found.doc == {}
    found.close(done=True)


HOLD = r"""
import signal, sys
from pathlib import Path
from bodega.storage.journal import Journals
held = Journals(Path(sys.argv[1])).begin("task-3", {"op": "create", "snapshot": "s3"})  # held until killed
print("held", flush=True)
signal.pause()  # until killed
"""


def test_the_lock_goes_with_the_process(tmp_path):
    child = python_child(tmp_path, HOLD, str(tmp_path))
    assert child.stdout.readline().strip() == "held"
    journals = Journals(tmp_path)
    assert list(journals.abandoned()) == []
    child.send_signal(signal.SIGKILL)
    child.wait()
    (found,) = list(journals.abandoned())
    assert found.doc["snapshot"] == "s3"
    found.close(done=True)
