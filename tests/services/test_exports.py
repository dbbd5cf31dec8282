"""Seed rule 5: an export package is made only by an export task, and its status is the task's."""
from __future__ import annotations

import uuid

import pytest

from bodega import errors
from bodega.catalogue.models import ExportFormat, ExportPackage, TaskStatus
from bodega.services.tasks import TaskKind


def export_kind(b, fail: bool = False) -> None:
    """An export task that records its package, then succeeds or fails (the real exporter comes later)."""

    def run(ctx):
        package = b.exports.record_package(ctx.task_id, format="zip", location=str(b.home.exports / "dev.zip"))
        ctx.result["package_id"] = str(package.id)
        assert b.exports.list()[0].status == TaskStatus.RUNNING  # follows the running task
        if fail:
            raise errors.NoSpace(28, None, str(b.home.exports / "dev.zip"))

    b.tasks.register(TaskKind("export", run))


def submit_export(b, container_id):
    def prepare(s, task):
        task.container_id = container_id

    return b.tasks.submit("export", {}, "export dev", prepare=prepare)


def test_the_package_follows_its_export_task_to_success(b):
    c = b.containers.create("dev")
    export_kind(b)
    task = submit_export(b, c.id)
    [package] = b.exports.list()
    assert (package.status, package.task_id, package.container_id, package.format) == (
        TaskStatus.SUCCEEDED, task.id, c.id, ExportFormat.ZIP)


def test_the_package_follows_its_export_task_to_failure(b):
    c = b.containers.create("dev")
    export_kind(b, fail=True)
    with pytest.raises(errors.NoSpace):
        submit_export(b, c.id)
    [package] = b.exports.list()
    assert package.status == TaskStatus.FAILED


def test_another_kind_of_task_cannot_make_a_package(b):
    c = b.containers.create("dev")
    create_task = b.tasks.list(type="container.create")[0]
    with pytest.raises(errors.NotAnExportTask):
        b.exports.record_package(create_task.id, format="zip", location="/x.zip")
    with pytest.raises(errors.TaskNotFound):
        b.exports.record_package(uuid.uuid4(), format="zip", location="/x.zip")
    assert b.exports.list(container_id=c.id) == []


def test_a_finished_export_task_cannot_make_a_package(b):
    c = b.containers.create("dev")
    b.tasks.register(TaskKind("export", lambda ctx: None))
    task = submit_export(b, c.id)
    with pytest.raises(errors.WrongStatus):
        b.exports.record_package(task.id, format="7z", location="/x.7z")


def test_the_database_refuses_a_package_not_made_by_an_export_task(b):
    b.containers.create("dev")
    create_task = b.tasks.list(type="container.create")[0]
    for task_type in ("export", "container.create"):
        with pytest.raises(errors.NotAnExportTask), b.catalogue.session_scope() as s:
            s.add(ExportPackage(id=uuid.uuid4(), task_id=create_task.id, task_type=task_type, format=ExportFormat.ZIP,
                                location="/x.zip", status=TaskStatus.SUCCEEDED))
