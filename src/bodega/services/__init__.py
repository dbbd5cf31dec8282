"""The typed Python API: `bodega.open(home)` gives a Bodega with one service per entity.

    import bodega
    with bodega.open() as b:
        dev = b.containers.create("dev", tags=["work"])
        task = b.containers.clone("dev", "dev2", detach=True)   # for `bodega agent`
        b.tasks.wait(task.id)
        for event in b.events.follow(): ...

The CLI, the HTTP API and the panel all call these services and hold no logic of their own.
The services load when a home opens, not when this package is imported: a light module of
it (services/container_listing.py) serves a command without them.
"""
from __future__ import annotations

import importlib
import os
from types import TracebackType
from typing import TYPE_CHECKING

from bodega.home import Home

if TYPE_CHECKING:
    from bodega.catalogue.db import Catalogue
    from bodega.storage.tuning import Tuning
    from bodega.services.users import UserInfo

SERVICE_MODULES = ("bodega.catalogue.db", "bodega.services.apps", "bodega.services.containers",
                   "bodega.services.events", "bodega.services.exports", "bodega.services.imports",
                   "bodega.services.mfa", "bodega.services.sessions", "bodega.services.settings",
                   "bodega.services.shares", "bodega.services.snapshots", "bodega.services.tasks",
                   "bodega.services.tokens", "bodega.services.users")


class Bodega:
    """An open bodega home, acting as one user."""

    def __init__(self, home: Home, catalogue: Catalogue, user: str | UserInfo | None = None, *,
                 owns_catalogue: bool = True, host: str | None = None) -> None:
        from bodega.services.apps import AppService
        from bodega.services.containers import ContainerService
        from bodega.services.events import EventService
        from bodega.services.exports import ExportService
        from bodega.services.imports import ImportService
        from bodega.services.mfa import MfaService
        from bodega.services.sessions import SessionService
        from bodega.services.settings import SettingService
        from bodega.services.shares import ShareService
        from bodega.services.snapshots import SnapshotService
        from bodega.services.tasks import TaskService
        from bodega.services.tokens import TokenService
        from bodega.services.users import UserService

        self.home = home
        self.catalogue = catalogue
        self.host = host or home.host_id()  # this home among the hosts sharing the catalogue
        self._owns_catalogue = owns_catalogue
        self._tuning: Tuning | None = None
        self.events = EventService(self)
        self.settings = SettingService(self)
        self.users = UserService(self, user)
        self.mfa = MfaService(self)
        self.sessions = SessionService(self)
        self.tokens = TokenService(self)
        self.shares = ShareService(self)
        self.tasks = TaskService(self)
        self.containers = ContainerService(self)
        self.apps = AppService(self)
        self.snapshots = SnapshotService(self)
        self.exports = ExportService(self)
        self.imports = ImportService(self)

    @property
    def user(self) -> UserInfo:
        """The acting user."""
        return self.users.current

    @property
    def tuning(self) -> Tuning:
        """The tunables commands run with: set by hand (`tune.*` settings) over tuned (tuning.json);
        None where neither (the engine's built-in default).  Read once, on first use."""
        if self._tuning is None:
            from bodega.storage import tuning

            self._tuning = self.settings.tuning().over(tuning.load(self.home.root))
        return self._tuning

    def acting_as(self, user: UserInfo) -> "Bodega":
        """The same home and catalogue, acting as another user (closing it leaves the catalogue open)."""
        # The host is passed on, not read again: the API makes one of these per request.
        return Bodega(self.home, self.catalogue, user, owns_catalogue=False, host=self.host)

    def close(self) -> None:
        """Releases the catalogue's connections (unless this Bodega borrowed them: acting_as)."""
        if self._owns_catalogue:
            self.catalogue.close()

    def __enter__(self) -> "Bodega":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def open(home: str | os.PathLike[str] | None = None, *, user: str | None = None) -> Bodega:  # noqa: A001
    """Opens a bodega home (default $BODEGA_HOME or the user data dir), creating it on first use.

    The catalogue is upgraded to this code's schema, tasks left running by a process that
    died are marked interrupted, and the acting user is `user` (an email) or the local OS user.
    """
    # The services load before the catalogue opens, as when this package imported them: loaded
    # later, 8 processes racing on one home hit DatabaseLocked (tests/services/test_concurrency.py).
    for module in SERVICE_MODULES:
        importlib.import_module(module)
    from bodega.catalogue.db import Catalogue

    where = Home.at(home)
    where.create()
    catalogue = Catalogue.for_home(where)
    try:
        catalogue.ensure_schema()
        bodega = Bodega(where, catalogue, user)
        bodega.tasks.recover()  # an interrupted install is rolled back to its pre-install snapshot here
        bodega.apps.recover()  # runs whose bodega died: closed as crashes
        bodega.snapshots.recover()  # restores a crash interrupted; store files no row publishes
    except BaseException:
        catalogue.close()
        raise
    return bodega
