"""Throw-away databases for tests: the PostgreSQL server at 127.0.0.1:5432 (trust auth), created and dropped here."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

PG_ADMIN = os.environ.get("SESSIONPLANE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def create_postgres_database(prefix: str = "sessionplane_test") -> str:
    """A new empty PostgreSQL database: its SQLAlchemy URL (``drop_postgres_database`` removes it)."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"


@contextmanager
def postgres_database() -> Iterator[str]:
    """An empty PostgreSQL database: its SQLAlchemy URL, dropped on exit."""
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


def drop_postgres_database(url: str) -> None:
    """Drop the database of ``url`` (from ``postgres_database``), its connections with it; gone already is fine."""
    name = url.rsplit("/", 1)[1]
    asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _pg(statement: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()
