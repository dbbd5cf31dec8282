"""Listing containers for a command that starts, lists and ends: `bodega container list`.

`bodega.open(home).containers.list()` loads SQLAlchemy's ORM and every service, and opening
a home may recover what a crash left.  When the home needs nothing done at open
(services/direct_read.py), the same list is read straight from the catalogue file under the
same visibility rules; otherwise, or on any doubt, the home is opened the ordinary way.
tests/services/test_container_listing.py holds both paths equal.
"""
from __future__ import annotations

import os

from bodega.catalogue.sqlite_reader import SqliteReader, UserRow
from bodega.catalogue.values import ContainerStatus
from bodega.home import Home
from bodega.services.container_info import ContainerInfo
from bodega.services.direct_read import read_directly as read_catalogue
from bodega.services.text_input import require_text


def list_containers(home: str | os.PathLike[str] | None = None, *, tag: str | None = None,
                    status: ContainerStatus | str | None = None, all_users: bool = False) -> list[ContainerInfo]:
    """The local user's containers as `bodega.open(home).containers.list(...)` gives them."""
    if tag is not None:
        require_text(tag, "tag")
    found = read_directly(Home.at(home), tag=tag, status=status, all_users=all_users)
    if found is not None:
        return found
    from bodega.services import open as open_home

    with open_home(home) as b:
        return b.containers.list(tag=tag, status=status, all_users=all_users)


def read_directly(home: Home, *, tag: str | None, status: ContainerStatus | str | None,
                  all_users: bool) -> list[ContainerInfo] | None:
    """The list read from the catalogue file, or None when only opening the home can give it."""
    wanted = None if status is None else ContainerStatus(status)

    def listing(reader: SqliteReader, me: UserRow) -> list[ContainerInfo]:
        return [ContainerInfo(*row) for row in reader.containers(me, everyone=all_users, tag=tag, status=wanted)]

    return read_catalogue(home, listing)
