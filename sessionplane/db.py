"""The database seam: one async engine, sessions, and Alembic migrations run in-process.

SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) works by URL. Every store
(inventory, IAM, audit) takes a ``Database``; the audit's writes, which a close waits for, take
``Database.write`` (on SQLite, one hop to a writer thread). A SQLite file is created 0600 (in a
0700 directory) before SQLite opens it: SQLite gives its -wal and -shm files the database file's mode.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Executable, create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from sessionplane.private_files import SQLITE_SUFFIXES, private_dir, private_file, tighten
from sessionplane.revision import StoreRevision, TrackedSession

MIGRATIONS = Path(__file__).parent / "migrations"
# PostgreSQL advisory lock keys of our own (history/leases.py's sampler rounds hold 0x5E551012).
_MIGRATION_LOCK = 0x5E55_1011
HISTORY_MAINTENANCE_LOCK = 0x5E55_1013  # the history roll-up and retention (services.py)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the CLI write while the server reads; foreign keys make cascades real.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        path = sqlite_file(url)
        if path is not None:
            _prepare_private_sqlite(path)
        self.engine: AsyncEngine = create_async_engine(url, pool_pre_ping=not url.startswith("sqlite"))
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        # Writes to tracked tables move the store revision that in-process caches follow (revision.py).
        self.revision = StoreRevision(self.engine)
        self.sessions = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=TrackedSession, info={"revision": self.revision}
        )
        self._writer = _SqliteWriter(url) if path is not None else None

    async def write(self, statement: Executable, parameters: Mapping[str, Any]) -> int:
        """One Core statement in a transaction of its own, committed; the rows it matched.

        Like any statement on a connection, it does not move the store revision (revision.py): it is for
        untracked tables (the audit trail). On a SQLite file it runs on ``_SqliteWriter``'s thread.
        """
        if self._writer is not None:
            return await self._writer.write(statement, parameters)
        async with self.engine.begin() as connection:
            return (await connection.execute(statement, parameters)).rowcount

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    async def insert(self, row: object, duplicate_message: str) -> None:
        """Add one row in its own transaction; a unique-key clash becomes ``ValueError(duplicate_message)``."""
        try:
            async with self.transaction() as session:
                session.add(row)
        except IntegrityError as exc:
            raise ValueError(duplicate_message) from exc

    @asynccontextmanager
    async def exclusively(self, key: int) -> AsyncIterator[bool]:
        """Whether this process may do a piece of store-wide work now (True/False), held for the block.

        On PostgreSQL one replica at a time: a session advisory lock, tried without waiting (another
        replica doing the work makes it done); SQLite serves one process: always True.
        """
        if self.engine.dialect.name != "postgresql":
            yield True
            return
        async with self.engine.connect() as connection:
            ours = bool(await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}))
            try:
                yield ours
            finally:
                if ours:
                    try:
                        await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                    except Exception:
                        await connection.invalidate()  # never back to the pool still holding the lock
                        raise

    async def migrate(self) -> None:
        """Upgrade the schema to the newest Alembic revision (idempotent)."""
        async with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Replicas starting together: one migrates, the others wait here and find the schema current.
                await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            await connection.run_sync(_upgrade)

    async def dispose(self) -> None:
        await self.revision.close()
        if self._writer is not None:
            await self._writer.close()
        await self.engine.dispose()


class _SqliteWriter:
    """Writes to a SQLite file in one hop to a thread of their own, each statement and its commit there.

    Through aiosqlite a write is five hops between the event loop and its thread (cursor, execute, cursor
    close, commit, the pool's reset), and each waits for a busy loop: a close's audit record then took
    5 ms where the write itself takes 1 (strace of a close of 5,000 IDs). The same statements, through
    SQLAlchemy's synchronous pysqlite engine on the same file, with the same pragmas. One thread: SQLite
    takes one writer at a time anyway, and writes keep their order. Opened at the first write (a CLI
    command that only reads starts no thread), and again after ``close``, as an engine reopens its pool.
    """

    def __init__(self, url: str) -> None:
        self._url = make_url(url).set(drivername="sqlite")
        self._opened: tuple[Engine, ThreadPoolExecutor] | None = None

    async def write(self, statement: Executable, parameters: Mapping[str, Any]) -> int:
        if self._opened is None:
            engine = create_engine(self._url)
            event.listen(engine, "connect", _sqlite_pragmas)
            self._opened = engine, ThreadPoolExecutor(max_workers=1, thread_name_prefix="sessionplane-sqlite-writer")
        engine, thread = self._opened
        return await asyncio.get_running_loop().run_in_executor(thread, _write, engine, statement, parameters)

    async def close(self) -> None:
        if self._opened is None:
            return
        (engine, thread), self._opened = self._opened, None
        # On the writer's thread, after the writes queued before it; then the thread ends.
        await asyncio.get_running_loop().run_in_executor(thread, engine.dispose)
        thread.shutdown(wait=False)


def _write(engine: Engine, statement: Executable, parameters: Mapping[str, Any]) -> int:
    with engine.begin() as connection:
        return connection.execute(statement, parameters).rowcount


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _prepare_private_sqlite(path: Path) -> None:
    names = {path.name + suffix for suffix in SQLITE_SUFFIXES}
    private_dir(path.parent, also_ours=names)
    private_file(path)
    for suffix in SQLITE_SUFFIXES[1:]:  # left by an older version, or a crash
        tighten(path.with_name(path.name + suffix))


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
