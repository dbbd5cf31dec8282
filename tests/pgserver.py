"""A private PostgreSQL cluster on loopback for tests: initdb in a temporary directory, run as
an unprivileged user (PostgreSQL refuses root), one database per test made from a template.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ports import free_port

USER = "bodega"  # the cluster's superuser (trust authentication on loopback only)
TEMPLATE = "bodega_template"  # migrated once: each test's database is a copy of it


def _binaries() -> Path | None:
    """The directory holding initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/<v>/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return versions[-1].parent if versions else None


def missing() -> str | None:
    """Why no cluster can be started here, or None."""
    if _binaries() is None:
        return "PostgreSQL is not installed (initdb not found; Debian: apt-get install postgresql)"
    if os.geteuid() == 0 and _run_as() is None:
        return "running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as"
    return None


def _run_as() -> str | None:
    """The user a root test run starts PostgreSQL as."""
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    return None


@dataclass
class Cluster:
    """A running cluster: data directory, port and the user it runs as."""

    data: Path
    port: int
    user: str | None  # None: the current user

    def _cmd(self, *argv: str) -> list[str]:
        return ["runuser", "-u", self.user, "--", *argv] if self.user else list(argv)

    def pg_ctl(self, *args: str) -> None:
        """Runs pg_ctl on this cluster (start, stop, restart)."""
        subprocess.run(self._cmd(str(_binaries() / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", *args),
                       check=True, capture_output=True)

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of a database of this cluster."""
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> None:
        """Runs one statement outside a transaction (CREATE/DROP DATABASE)."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=USER, dbname=database,
                             autocommit=True) as conn:
            conn.execute(statement)

    def new_database(self) -> str:
        """A fresh database with the catalogue's schema (a copy of the template); its URL."""
        name = "t_" + uuid.uuid4().hex[:16]
        self.sql(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE}')
        return self.url(name)

    def empty_database(self) -> str:
        """A fresh database without any table; its URL."""
        name = "t_" + uuid.uuid4().hex[:16]
        self.sql(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def drop(self, url: str) -> None:
        """Drops a test's database, closing whatever connections it still has."""
        name = url.rsplit("/", 1)[1]
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def restart(self) -> None:
        """Stops the cluster (every connection is cut) and starts it again."""
        self.pg_ctl("restart", "-m", "fast")

    def stop_server(self) -> None:
        """Stops the server (every connection is cut); start_server() brings it back."""
        self.pg_ctl("stop", "-m", "fast")

    def start_server(self) -> None:
        """Starts the server again after stop_server()."""
        self.pg_ctl("start", "-l", str(self.data.parent / "log"))

    def stop(self) -> None:
        """Stops the cluster and removes its data."""
        try:
            self.pg_ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(self.data.parent, ignore_errors=True)


def start() -> Cluster:
    """initdb in a temporary directory and start the cluster on a free loopback port."""
    user = _run_as() if os.geteuid() == 0 else None
    top = Path(tempfile.mkdtemp(prefix="bodega-pg-"))
    data = top / "data"
    if user:
        info = pwd.getpwnam(user)
        os.chown(top, info.pw_uid, info.pw_gid)
    cluster = Cluster(data, free_port(), user)
    subprocess.run(cluster._cmd(str(_binaries() / "initdb"), "-D", str(data), "-U", USER, "-A", "trust",
                                "-E", "UTF8", "--no-sync"), check=True, capture_output=True)
    # A throwaway cluster: durability traded for speed; enough connections for many agents.
    with open(data / "postgresql.conf", "a") as f:
        f.write(f"listen_addresses = '127.0.0.1'\nport = {cluster.port}\nunix_socket_directories = '{top}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 300\n")
    cluster.pg_ctl("start", "-l", str(top / "log"))
    deadline = time.monotonic() + 30
    while True:
        try:
            cluster.sql("SELECT 1")
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    return cluster


def make_template(cluster: Cluster) -> None:
    """Creates the template database with the catalogue's schema (bodega's own migrations)."""
    from bodega.catalogue.db import Catalogue

    cluster.sql(f"CREATE DATABASE {TEMPLATE} TEMPLATE template0")
    catalogue = Catalogue(cluster.url(TEMPLATE))
    try:
        catalogue.ensure_schema()
    finally:
        catalogue.close()
