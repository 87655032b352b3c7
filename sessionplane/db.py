"""The database seam: one async engine, sessions, and Alembic migrations run in-process.

SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) works by URL. Every store
(inventory, IAM, audit) takes a ``Database``. A SQLite file is created 0600 (in a 0700 directory)
before SQLite opens it: SQLite gives its -wal and -shm files the database file's mode.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
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
        await self.engine.dispose()


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
