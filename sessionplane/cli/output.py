"""How listings print: a table that never cuts a value, or JSON (``--json``) for scripts.

rich shrinks a table that is wider than the terminal (80 columns when piped) by cutting cells with
an ellipsis, and an ID cut short is worse than none. So a table is printed only when every cell fits
whole; otherwise each row is printed as ``field: value`` lines (as psql's expanded mode does).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from sessionplane.cli.context import console

_UNBOUNDED = 1_000_000  # measure the table's natural width, not the width it would be squeezed into
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts) instead of a table")]


def print_json(data: Any) -> None:
    """Plain JSON on stdout: no colour codes and no wrapping, whatever the terminal."""
    print(json.dumps(data, indent=2, default=str))


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, title: str | None = None, target: Console = console
) -> None:
    """On stdout, or on ``target`` (stderr where stdout carries JSON)."""
    console = target
    if not rows:
        console.print(f"{title + ': ' if title else ''}(none)", soft_wrap=True, markup=False, highlight=False)
        return
    table = Table(*headers, title=title)
    for column in table.columns:
        column.no_wrap = True
    for row in rows:
        table.add_row(*(Text(value) for value in row))  # plain text: a client name is not markup
    if Measurement.get(console, console.options.update_width(_UNBOUNDED), table).maximum <= console.width:
        console.print(table)
        return
    if title:
        console.print(title, soft_wrap=True, markup=False, highlight=False)
    width = max(len(h) for h in headers)
    for row in rows:
        console.print(soft_wrap=True)
        for header, value in zip(headers, row, strict=True):
            lines = value.splitlines() or [""]
            console.print(f"{header:>{width}}: {lines[0]}", soft_wrap=True, markup=False, highlight=False)
            for line in lines[1:]:
                console.print(f"{'':>{width}}  {line}", soft_wrap=True, markup=False, highlight=False)
