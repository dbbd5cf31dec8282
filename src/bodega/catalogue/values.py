"""The enumerations the catalogue stores by value.

They need no SQLAlchemy, so that light readers (catalogue/sqlite_reader.py) share them with
the models, which re-export them.
"""
from __future__ import annotations

import enum


class ContainerStatus(str, enum.Enum):
    """A container's lifecycle status."""

    CREATING = "creating"
    READY = "ready"
    RUNNING = "running"
    ERROR = "error"
    ARCHIVED = "archived"


class Platform(str, enum.Enum):
    """The OS and CPU a container's apps are built for."""

    WINDOWS_X64 = "windows-x64"
    WINDOWS_ARM64 = "windows-arm64"
    LINUX_X64 = "linux-x64"


class TaskStatus(str, enum.Enum):
    """A task's lifecycle: queued, running, then one of the three ends."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """True for succeeded, failed and cancelled."""
        return self not in (TaskStatus.QUEUED, TaskStatus.RUNNING)


class Role(str, enum.Enum):
    """What a user may do: viewers read, operators operate containers, owners also manage users."""

    OWNER = "owner"
    OPERATOR = "operator"
    VIEWER = "viewer"
