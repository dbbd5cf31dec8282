"""Catalogue models, one module per entity; importing this package registers them all on Base.metadata."""
from bodega.catalogue.models.api_token import ApiToken
from bodega.catalogue.models.app_instance import AppInstance, AppStatus
from bodega.catalogue.models.app_run import AppRun
from bodega.catalogue.models.auth_session import AuthSession, MfaState
from bodega.catalogue.models.base import Base, utcnow
from bodega.catalogue.models.container import Container, ContainerStatus, ContainerTag, Platform
from bodega.catalogue.models.container_share import ContainerShare
from bodega.catalogue.models.event_log import EventLevel, EventLog, EventSource
from bodega.catalogue.models.export_package import EXPORT_TASK_TYPE, ExportFormat, ExportPackage
from bodega.catalogue.models.login_attempt import LoginAttempt
from bodega.catalogue.models.setting import Setting
from bodega.catalogue.models.snapshot import Snapshot, SnapshotTrigger, SnapshotType
from bodega.catalogue.models.task import ContainerLock, Task, TaskStatus
from bodega.catalogue.models.user import Role, User

__all__ = [
    "ApiToken", "AppInstance", "AppRun", "AppStatus", "AuthSession", "Base", "Container", "ContainerLock", "ContainerStatus",
    "ContainerShare", "ContainerTag", "EXPORT_TASK_TYPE", "EventLevel", "EventLog", "EventSource", "ExportFormat", "ExportPackage",
    "LoginAttempt", "MfaState", "Platform", "Role", "Setting", "Snapshot", "SnapshotTrigger", "SnapshotType", "Task", "TaskStatus", "User",
    "utcnow",
]
