"""Progress for fan-outs: nothing for a quick one, a spinner with the elapsed time once it takes a while.

Always on stderr (stdout stays a table or JSON a script can read) and transient: it is erased when
the work ends. rich draws nothing when stderr is not a terminal, so logs and pipes stay clean.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from sessionplane.cli.context import err_console

SHOW_AFTER_SECONDS = 1.0  # a fan-out that answers within this never flickers a spinner


class SlowStatus:
    def __init__(self, message: str, *, console: Console) -> None:
        self._progress = Progress(
            SpinnerColumn(), TextColumn(message), TimeElapsedColumn(), console=console, transient=True
        )
        self._progress.add_task(message, total=None)
        self.shown = False

    def show(self) -> None:
        self._progress.start()
        self.shown = True

    def hide(self) -> None:
        if self.shown:
            self._progress.stop()


@contextlib.asynccontextmanager
async def slow_status(
    message: str, *, after: float = SHOW_AFTER_SECONDS, console: Console = err_console
) -> AsyncIterator[SlowStatus]:
    """Show ``message`` with a spinner if the block is still running ``after`` seconds from now."""
    status = SlowStatus(message, console=console)

    async def show_later() -> None:
        await asyncio.sleep(after)
        status.show()

    timer = asyncio.create_task(show_later())
    try:
        yield status
    finally:
        timer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await timer
        status.hide()
