"""What every CLI command shares: settings from flags/env/file, the services, and running a coroutine."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from sessionplane.errors import SessionplaneError
from sessionplane.services import Services
from sessionplane.settings import Settings

T = TypeVar("T")
console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # an error is one line, however narrow the terminal

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Store and keyring directory (env SESSIONPLANE_DATA_DIR)")
]
DatabaseUrl = Annotated[
    str | None, typer.Option("--database-url", help="SQLAlchemy async URL (env SESSIONPLANE_DATABASE_URL)")
]


def load_settings(data_dir: Path | None = None, database_url: str | None = None, **overrides: Any) -> Settings:
    explicit = {
        k: v for k, v in {"data_dir": data_dir, "database_url": database_url, **overrides}.items() if v is not None
    }
    return Settings(**explicit)


def run(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    """Build the services, migrate the store, run ``work``, close everything; domain errors exit 1 cleanly.

    Operator errors (unknown names, an unusable data directory, an unreachable node) are one line on
    stderr, never a traceback; a bug still shows its traceback.
    """

    async def main() -> T:
        services = Services.build(settings)
        await services.start()
        try:
            return await work(services)
        finally:
            await services.close()

    try:
        return asyncio.run(main())
    except (SessionplaneError, LookupError, ValueError, OSError) as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from None
