"""The catalogue database: engine, SQLite pragmas, schema upgrades and session_scope().

session_scope() is the one place a session is opened, committed or rolled back (events are
numbered right before the commit: catalogue/event_sequence.py), and the one place SQLAlchemy
errors become BodegaErrors (by constraint name, see CONSTRAINT_ERRORS).

SQLite (the default) serializes writers at BEGIN.  PostgreSQL (many hosts) runs writers
concurrently at READ COMMITTED: rows a change depends on are locked where it matters (task
claims, recovery), constraints back every check, and a lock wait beyond the busy timeout is
DatabaseLocked.  A connection the server dropped (a restart) is replaced at the next
transaction; a process that must outlive an outage (an agent) waits for the server to come
back (reconnect_wait).
"""
from __future__ import annotations

import errno
import os
import re
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.orm import Session, sessionmaker

from bodega import errors
from bodega._native import fault
from bodega.catalogue import event_sequence
from bodega.catalogue.models import Base
from bodega.catalogue.schema_revision import SCHEMA_REVISION
from bodega.home import Home


NAME_LOCKS = 1  # the class of serialize()'s advisory locks (advisory_lock's use a single key: another space)
DEFAULT_BUSY_TIMEOUT = 10.0  # seconds a writer waits for another writer before DatabaseLocked

# Violations the services normally catch first with a friendlier message; these are the
# backstop when two processes race past the service's check.
CONSTRAINT_ERRORS: dict[str, type[errors.BodegaError]] = {
    "uq_containers_owner_id_name": errors.NameTaken,
    "ck_containers_name_length": errors.InvalidName,
    "uq_users_email": errors.NameTaken,
    "pk_container_locks": errors.ContainerBusy,
    "fk_tasks_container_id_containers": errors.ContainerNotFound,
    "fk_container_locks_container_id_containers": errors.ContainerBusy,
    "ck_snapshots_delta_has_base": errors.DeltaBaseMismatch,
    "fk_snapshots_base_snapshot_id_snapshots": errors.DeltaBaseMismatch,
    "ck_snapshots_base_not_self": errors.DeltaBaseMismatch,
    "ck_app_instances_ready_has_entry_point": errors.EntryPointRequired,
    "ck_export_packages_made_by_export_task": errors.NotAnExportTask,
    "fk_export_packages_task_id_tasks": errors.NotAnExportTask,
}


def database_url(home: Home) -> str:
    """$BODEGA_DATABASE_URL, else the SQLite file bodega.db in the home."""
    return os.environ.get("BODEGA_DATABASE_URL") or f"sqlite:///{home.database}"


def busy_timeout() -> float:
    """Seconds to wait for a locked catalogue: $BODEGA_BUSY_TIMEOUT, else 10."""
    raw = os.environ.get("BODEGA_BUSY_TIMEOUT")
    if not raw:
        return DEFAULT_BUSY_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise errors.InvalidInput(f"BODEGA_BUSY_TIMEOUT must be a number of seconds, not {raw!r}") from None
    if value < 0:
        raise errors.InvalidInput(f"BODEGA_BUSY_TIMEOUT must not be negative, not {raw!r}")
    return value


def _make_engine(url: str, timeout: float, foreign_keys: bool = True, **kwargs: Any) -> sa.Engine:
    """An engine; on SQLite with WAL, foreign keys, a busy timeout and bodega's own BEGINs; on
    PostgreSQL with the busy timeout as lock timeout and connections checked before use."""
    is_sqlite = url.startswith("sqlite")
    if is_sqlite:
        # Several threads of one process (a task and its heartbeat) share the pool.
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": timeout})
    elif sa.make_url(url).get_backend_name() == "postgresql":
        kwargs.setdefault("connect_args", {"connect_timeout": max(2, int(timeout)),
                                           "options": f"-c lock_timeout={int(timeout * 1000)}"})
        kwargs.setdefault("pool_pre_ping", True)  # a connection a server restart cut is replaced
    try:
        engine = sa.create_engine(url, **kwargs)
    except (ImportError, exc.NoSuchModuleError) as e:
        raise errors.MissingDependency(
            f"the catalogue at {sa.make_url(url).render_as_string(hide_password=True)} needs a driver that is not "
            f"installed ({e}): pip install 'bodega[postgresql]'") from e
    except exc.ArgumentError as e:
        raise errors.InvalidInput(f"BODEGA_DATABASE_URL is not a database URL: {e}") from e
    if not is_sqlite:
        return engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own transaction handling would BEGIN lazily, only before writes;
        # bodega issues BEGIN itself (below) so a read sees one snapshot and a write holds
        # the write lock from its first statement.
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        cur.execute("PRAGMA journal_mode = WAL")  # readers never block on writers
        cur.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        # FULL: a commit is durable when it returns (the WAL is fsynced).  NORMAL would lose the
        # last commits to a power cut while the files published after them stay (a cloned
        # container's directory with no row, a task's staging no row owns: the power-loss sweep).
        cur.execute("PRAGMA synchronous = FULL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # IMMEDIATE takes the write lock now, so two writers serialize at BEGIN (waiting up to
        # busy_timeout) instead of failing when a read transaction tries to become a write.
        write = conn.get_execution_options().get("bodega_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


class Catalogue:
    """The catalogue database of one home."""

    def __init__(self, url: str, timeout: float | None = None) -> None:
        self.url = url
        self.timeout = busy_timeout() if timeout is None else timeout
        self.engine = _make_engine(url, self.timeout)
        self.dialect = self.engine.dialect.name
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Seconds a transaction waits for an unreachable server before CatalogueUnavailable:
        # 0 for commands (say so at once), longer for agents, which outlive a restart.
        self.reconnect_wait = 0.0

    @property
    def shared(self) -> bool:
        """Whether several hosts can share this catalogue (a database server, not a file)."""
        return self.dialect != "sqlite"

    @classmethod
    def for_home(cls, home: Home, timeout: float | None = None) -> "Catalogue":
        """The catalogue of home, at $BODEGA_DATABASE_URL or home/bodega.db."""
        return cls(database_url(home), timeout)

    def close(self) -> None:
        """Closes every pooled connection."""
        self.engine.dispose()

    @contextmanager
    def session_scope(self, write: bool = True) -> Iterator[Session]:
        """A session committed on success and rolled back on error; SQLAlchemy errors become BodegaErrors.

        write=True takes the write lock at once (SQLite BEGIN IMMEDIATE); write=False reads one
        consistent snapshot and never waits for writers.
        """
        try:
            with self._sessions() as session:
                self._begin(session, write)
                try:
                    yield session
                    if write:
                        event_sequence.publish(session)
                        if fault.armed:  # a counted step (storage/faults.py): tests crash or fail it
                            fault.step("commit", self.url)
                        session.commit()
                    else:
                        session.rollback()
                except BaseException:
                    session.rollback()
                    raise
        except exc.SQLAlchemyError as e:
            raise self._translate(e) from e
        except UnicodeEncodeError as e:  # the driver cannot bind text that is not UTF-8 (services check first)
            raise errors.InvalidInput(f"{e.object[e.start:e.end]!r} is not UTF-8 text: the catalogue cannot "
                                      "hold or search it") from None
        except OverflowError as e:  # nor an integer past 64 bits
            raise errors.InvalidInput(f"a number is too large for the catalogue: {e}") from None

    def _begin(self, session: Session, write: bool) -> None:
        """Starts the session's transaction; while the server is unreachable, retries for up to
        reconnect_wait seconds (nothing was done yet, so trying again is safe)."""
        deadline = time.monotonic() + self.reconnect_wait
        pause = 0.05
        while True:
            try:
                session.connection(execution_options={"bodega_write": write})
                return
            except exc.DBAPIError as e:
                if not _unreachable(e) or time.monotonic() + pause > deadline:
                    raise
                session.rollback()
                time.sleep(pause)
                pause = min(pause * 2, 1.0)

    def serialize(self, session: Session, name: str) -> None:
        """Makes the write transactions that pass the same name run one after the other from
        here (PostgreSQL: a transaction-level advisory lock; SQLite's writers are serial anyway):
        a check that no row has a name, then its insert, cannot interleave with another's."""
        if self.dialect == "postgresql":
            session.execute(sa.select(sa.func.pg_advisory_xact_lock(NAME_LOCKS, zlib.crc32(name.encode()) - (1 << 31))))

    @contextmanager
    def advisory_lock(self, name: str, *, shared: bool, timeout: float | None) -> Iterator["LockHolder"]:
        """Holds a lock named name across every host of this catalogue (PostgreSQL), shared or
        exclusive, on a connection of its own; timeout None waits for ever.  StoreBusy-like
        waits end in DatabaseLocked.  The holder's still_held() tells whether the server
        still holds it for this process (a restart drops it)."""
        key = zlib.crc32(name.encode())  # 32 bits: pg_locks shows it as objid
        func = "pg_advisory_lock_shared" if shared else "pg_advisory_lock"
        try:
            conn = self.engine.connect()
        except exc.SQLAlchemyError as e:
            raise self._translate(e) from e
        try:
            try:
                if timeout == 0:  # try once
                    taken = conn.exec_driver_sql(f"SELECT pg_try_{func[3:]}({key})").scalar()
                else:  # lock_timeout 0 waits for ever
                    conn.exec_driver_sql(f"SET lock_timeout = {0 if timeout is None else max(1, int(timeout * 1000))}")
                    taken = conn.exec_driver_sql(f"SELECT {func}({key})") is not None
                conn.commit()
            except exc.SQLAlchemyError as e:
                raise self._translate(e) from e
            if not taken:
                raise errors.DatabaseLocked(f"the lock {name!r} is held by another process")
            yield LockHolder(conn, key)
        finally:
            try:
                conn.invalidate()  # closing the session releases the lock, whatever its state
            finally:
                conn.close()

    def _translate(self, e: exc.SQLAlchemyError) -> errors.BodegaError:
        """The BodegaError for a SQLAlchemy error (InternalError for what can only be a bug)."""
        if isinstance(e, exc.IntegrityError):
            name = _constraint_name(e)
            cls = CONSTRAINT_ERRORS.get(name or "")
            if cls is not None:
                return cls(constraint=name)
            if name is not None and name.startswith("fk_"):
                if (e.statement or "").lstrip().upper().startswith("DELETE"):
                    return errors.Conflict("it is still in use", constraint=name)
                return errors.NotFound("something it refers to no longer exists (deleted meanwhile)", constraint=name)
            return errors.InternalError(f"catalogue constraint violated: {e.orig}")
        if isinstance(e, exc.NoResultFound):
            return errors.NotFound()
        if isinstance(e, exc.DBAPIError) and _unreachable(e):
            return errors.CatalogueUnavailable(f"cannot reach the catalogue {self._where()}: "
                                               f"{str(e.orig).strip().splitlines()[0] if e.orig else e}")
        if _sqlstate(e) in ("55P03", "40P01", "40001"):  # lock timeout, deadlock, serialization failure
            return errors.DatabaseLocked(
                f"the catalogue is locked by another process (waited {self.timeout:g} s): {self._where()}")
        if isinstance(e, exc.OperationalError):
            text = str(e.orig).lower()
            if "disk is full" in text:
                return errors.NoSpace(errno.ENOSPC, f"no space left to write the catalogue {self._where()}",
                                      None, "catalogue")
            if "locked" in text or "busy" in text:
                return errors.DatabaseLocked(
                    f"the catalogue is locked by another process (waited {self.timeout:g} s): {self._where()}"
                )
            return errors.CatalogueError(f"cannot use the catalogue {self._where()}: {e.orig}")
        if isinstance(e, exc.DatabaseError):
            return errors.CatalogueError(f"cannot use the catalogue {self._where()}: {e.orig}")
        return errors.InternalError(f"catalogue: {e}")  # anything else is a bug in bodega

    def _where(self) -> str:
        """The database, for messages (the file for SQLite, the URL without password otherwise)."""
        url = sa.make_url(self.url)
        return url.database or "" if url.get_backend_name() == "sqlite" else url.render_as_string(hide_password=True)

    # --- schema ---------------------------------------------------------------------------

    def revision(self) -> str | None:
        """The schema revision the database is at, or None for an empty database."""
        with self.session_scope(write=False) as s:
            if not sa.inspect(s.connection()).has_table("alembic_version"):
                return None
            return s.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

    def ensure_schema(self) -> None:
        """Upgrades the database to this code's schema; refuses a schema newer than this code."""
        current = self.revision()
        if current == SCHEMA_REVISION:
            return
        if current is not None and current not in _known_revisions():
            raise errors.CatalogueError(
                f"the catalogue {self._where()} has schema {current}, newer than this bodega knows: upgrade bodega"
            )
        self.upgrade()

    def upgrade(self, revision: str = "head") -> None:
        """Runs the Alembic migrations up to revision, one process at a time."""
        self._migrate("upgrade", revision)

    def downgrade(self, revision: str) -> None:
        """Runs the Alembic migrations down to revision."""
        self._migrate("downgrade", revision)

    def alembic_config(self, connection: sa.Connection | None = None) -> Any:
        """An Alembic Config for the packaged migrations, bound to connection if given."""
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        if connection is not None:
            cfg.attributes["connection"] = connection
        return cfg

    def _migrate(self, direction: str, revision: str) -> None:
        from alembic import command

        # SQLite cannot switch foreign keys inside a transaction, and batch migrations copy and
        # drop tables, which with foreign keys on would cascade deletes into child tables: so
        # migrations get their own engine with foreign keys off, checked afterwards.
        is_sqlite = self.url.startswith("sqlite")
        if is_sqlite:
            Path(sa.make_url(self.url).database or ".").parent.mkdir(parents=True, exist_ok=True)
        engine = _make_engine(self.url, self.timeout, foreign_keys=False, poolclass=sa.pool.NullPool)
        try:
            with engine.connect().execution_options(bodega_write=True) as conn:
                try:
                    with conn.begin():  # BEGIN IMMEDIATE: a concurrent first open waits here
                        if conn.dialect.name == "postgresql":
                            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4242424242)")
                        getattr(command, direction)(self.alembic_config(conn), revision)
                        if is_sqlite:
                            bad = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                            if bad:
                                raise errors.CatalogueError(f"migration left broken references: {bad[:5]}")
                except exc.SQLAlchemyError as e:
                    raise self._translate(e) from e
        finally:
            engine.dispose()


class LockHolder:
    """An advisory lock held on its own connection."""

    def __init__(self, conn: sa.Connection, key: int) -> None:
        self._conn = conn
        self._key = key

    def still_held(self) -> bool:
        """Whether the server still holds the lock for us (False after the connection was cut)."""
        try:
            held = self._conn.exec_driver_sql(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
                f"AND granted AND classid = 0 AND objid = {self._key} AND objsubid = 1"
            ).scalar()
            self._conn.commit()
        except exc.SQLAlchemyError:
            return False
        return bool(held)


def _sqlstate(e: exc.SQLAlchemyError) -> str | None:
    return getattr(getattr(e, "orig", None), "sqlstate", None)


def _unreachable(e: exc.DBAPIError) -> bool:
    """Whether an error means the database server cannot be reached (or cut the connection)."""
    if e.connection_invalidated:
        return True
    state = _sqlstate(e)
    if state is not None:
        # 08: connection exceptions; 57P01-57P03: the server is shutting down or starting up.
        return state.startswith("08") or state in ("57P01", "57P02", "57P03")
    if isinstance(e, exc.OperationalError) and e.orig is not None and type(e.orig).__module__.startswith("psycopg"):
        return True  # psycopg reports a refused or lost connection without a SQLSTATE
    return False


MIGRATIONS = Path(__file__).parent / "migrations"


def _known_revisions() -> set[str]:
    """Every revision in the packaged migrations."""
    from alembic.script import ScriptDirectory

    return {s.revision for s in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}


# --- constraint names from driver errors -----------------------------------------------------

_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)$")
_SQLITE_CHECK = re.compile(r"CHECK constraint failed: (\w+)")
_STATEMENT_TABLE = re.compile(r"^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.IGNORECASE)


def _constraint_name(e: exc.IntegrityError) -> str | None:
    """The name of the violated constraint: from the driver (PostgreSQL) or from SQLite's message."""
    diag = getattr(e.orig, "diag", None)
    if diag is not None and getattr(diag, "constraint_name", None):
        return str(diag.constraint_name)
    message = str(e.orig)
    m = _SQLITE_CHECK.search(message)
    if m:
        return m.group(1)
    m = _SQLITE_UNIQUE.search(message)
    if m:
        return _unique_by_columns([c.strip() for c in m.group(1).split(",")])
    if "FOREIGN KEY constraint failed" in message:
        return _foreign_key_of_statement(e.statement or "")
    return None


def _unique_by_columns(qualified: list[str]) -> str | None:
    """SQLite names the columns of a failed UNIQUE, not the constraint: find it by them."""
    table_name = qualified[0].split(".")[0]
    columns = {q.split(".", 1)[1] for q in qualified}
    table = Base.metadata.tables.get(table_name)
    if table is None:
        return None
    for c in table.constraints:
        if isinstance(c, (sa.UniqueConstraint, sa.PrimaryKeyConstraint)) and {col.name for col in c.columns} == columns:
            return str(c.name)
    for ix in table.indexes:
        if ix.unique and {col.name for col in ix.columns} == columns:
            return str(ix.name)
    return None


def _foreign_key_of_statement(statement: str) -> str | None:
    """SQLite names no foreign key: infer it from the statement when only one could fail."""
    m = _STATEMENT_TABLE.match(statement)
    if not m:
        # Failed at commit, not at a statement: only a key checked at commit fails there.
        deferred = {str(c.name) for t in Base.metadata.tables.values() for c in t.foreign_key_constraints
                    if (c.initially or "").upper() == "DEFERRED"}
        return deferred.pop() if len(deferred) == 1 else None
    verb, table_name = m.group(1).upper(), m.group(2)
    if verb.startswith("DELETE"):
        # Deleting a parent fails only through a referencing key without an ON DELETE action.
        candidates = [
            fk.constraint for t in Base.metadata.tables.values() for fk in t.foreign_keys
            if fk.column.table.name == table_name and (fk.ondelete or "NO ACTION").upper() in ("RESTRICT", "NO ACTION")
        ]
    else:
        table = Base.metadata.tables.get(table_name)
        candidates = list(table.foreign_key_constraints) if table is not None else []
    names = {str(c.name) for c in candidates if c is not None}
    if len(names) > 1:
        # Several keys could have failed.  The one with a domain meaning is taken: the others
        # point at containers and users, which cannot vanish under a task that holds its lock.
        names = (names & set(CONSTRAINT_ERRORS)) or names
    if len(names) == 1:
        return names.pop()
    return f"fk_{table_name}" if names else None
