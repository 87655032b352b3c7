"""``sessionplane sessions list|stats|close``: the operator's view, through the same domain functions as the API.

Closes from the CLI are audited like API closes, attributed to ``cli:<os user>``.
"""

from __future__ import annotations

import getpass
import uuid
from typing import Annotated

import typer
from rich.table import Table

from sessionplane.auth.principal import Principal, RequestMeta
from sessionplane.cli.context import DatabaseUrl, DataDir, console, load_settings, run
from sessionplane.cli.inventory import _instance
from sessionplane.inventory.records import Instance
from sessionplane.services import Services
from sessionplane.sessions.selection import SESSION_FIELDS
from sessionplane.sessions.selector import Selector, parse_criteria
from sessionplane.sessions.service import target_nodes

app = typer.Typer(help="Client sessions of adopted instances (operator view).", no_args_is_help=True)
InstanceOpt = Annotated[str, typer.Option("--instance", help="Instance ID")]
NodeOpt = Annotated[str | None, typer.Option("--node", help="Node ID (default: every node)")]


def _operator(instance: Instance) -> RequestMeta:
    principal = Principal(
        user_id="cli",
        user_name=f"cli:{getpass.getuser()}",
        account_id="",
        account_name="",
        project_id=instance.project_id,
        project_name="",
        is_admin=True,
        method="cli",
    )
    return RequestMeta(request_id=uuid.uuid4().hex, principal=principal)


@app.command("list")
def list_sessions(
    instance: InstanceOpt,
    node: NodeOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 50,
    addr_prefix: Annotated[str | None, typer.Option("--addr-prefix")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    async def work(s: Services) -> None:
        found = await _instance(s, instance)
        for n in target_nodes(found, node):
            page = await s.sessions.list_node(instance=found, node=n, offset=0, limit=limit, addr_prefix=addr_prefix)
            table = Table(*SESSION_FIELDS, title=f"{n.name} {n.id}: {page.total_count} sessions")
            for session in page.sessions:
                table.add_row(*(session[f] for f in SESSION_FIELDS))
            console.print(table)

    run(load_settings(data_dir, database_url), work)


@app.command("stats")
def stats(
    instance: InstanceOpt, node: NodeOpt = None, data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    async def work(s: Services) -> None:
        found = await _instance(s, instance)
        for n in target_nodes(found, node):
            st = await s.sessions.statistics(instance=found, node=n)
            console.print(
                f"[bold]{n.name}[/bold] {n.id}: {st.total_connection_count} sessions, "
                f"{st.active_connection_count} active"
            )
            table = Table("client ip", "sessions", "db", "sessions")
            rows = max(len(st.top_source_ips), len(st.top_dbs))
            for i in range(rows):
                ip = st.top_source_ips[i] if i < len(st.top_source_ips) else ("", "")
                db = st.top_dbs[i] if i < len(st.top_dbs) else ("", "")
                table.add_row(ip[0], str(ip[1]), db[0], str(db[1]))
            console.print(table)

    run(load_settings(data_dir, database_url), work)


@app.command("close")
def close(
    instance: InstanceOpt,
    node: NodeOpt = None,
    session_id: Annotated[list[int] | None, typer.Option("--id", help="Session ID to close; repeat")] = None,
    min_idle: Annotated[
        int | None, typer.Option("--min-idle", min=0, help="Only sessions idle this many seconds")
    ] = None,
    addr_prefix: Annotated[str | None, typer.Option("--addr-prefix")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Close sessions: the given IDs on --node, or every client session (of --node, or of every node)."""
    if session_id and node is None:
        raise typer.BadParameter("--id needs --node")

    async def work(s: Services) -> None:
        found = await _instance(s, instance)
        selector = Selector(
            session_ids=tuple(session_id) if session_id else None,
            match=parse_criteria({"min_idle_seconds": min_idle, "addr_prefix": addr_prefix}),
        )
        for n in target_nodes(found, node):
            closed = await s.sessions.close_node(meta=_operator(found), instance=found, node=n, selector=selector)
            console.print(f"{n.name} {n.id}: closed {closed}")

    run(load_settings(data_dir, database_url), work)
