"""``sessionplane sessions list|stats``: the operator's view of one instance, through the same domain as the API.

``search|summary|close`` (across nodes, instances or a project) are in ``fleet``; ``history`` in ``history``.

Closes from the CLI are audited like API closes: under the instance's account, by ``cli:<os user>``.
"""

from __future__ import annotations

import getpass
import uuid
from typing import Annotated

import typer

from sessionplane.auth.principal import Principal, RequestMeta
from sessionplane.cli.context import DatabaseUrl, DataDir, load_settings, run
from sessionplane.cli.inventory import find_instance
from sessionplane.cli.output import AsJson, print_json, print_table
from sessionplane.inventory.records import Instance
from sessionplane.services import Services
from sessionplane.sessions.selection import SESSION_FIELDS
from sessionplane.sessions.service import target_nodes

app = typer.Typer(help="Client sessions of adopted instances (operator view).", no_args_is_help=True)
InstanceOpt = Annotated[str, typer.Option("--instance", help="Instance ID")]
NodeOpt = Annotated[str | None, typer.Option("--node", help="Node ID (default: every node)")]


async def operator(services: Services, instance: Instance) -> Principal:
    """The CLI's caller, as the audit records it: the OS user, in the account that owns the instance."""
    return await operator_in(services, instance.project_id)


async def operator_in(services: Services, project_id: str) -> Principal:
    """The OS user as an administrator of ``project_id`` and of the account that owns it."""
    project = await services.inventory.project(project_id)
    account = await services.inventory.account(project.account_id) if project else None
    return Principal(
        user_id="cli",
        user_name=f"cli:{getpass.getuser()}",
        account_id=account.id if account else "",
        account_name=account.name if account else "",
        project_id=project_id,
        project_name=project.name if project else "",
        is_admin=True,
        method="cli",
    )


async def operator_meta(services: Services, instance: Instance) -> RequestMeta:
    """The operator at this terminal, for one audited change (its own request id)."""
    return RequestMeta(request_id=uuid.uuid4().hex, principal=await operator(services, instance))


@app.command("list")
def list_sessions(
    instance: InstanceOpt,
    node: NodeOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=100, help="Sessions per node, newest first")] = 50,
    addr_prefix: Annotated[
        str | None, typer.Option("--addr-prefix", help="Only sessions whose ip:port starts with this")
    ] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List the client sessions of every node of an instance (or of one node)."""

    async def work(s: Services) -> list[dict]:
        found = await find_instance(s, instance)
        pages = []
        for n in target_nodes(found, node):
            page = await s.sessions.list_node(instance=found, node=n, offset=0, limit=limit, addr_prefix=addr_prefix)
            pages.append(
                {"node_id": n.id, "node_name": n.name, "total_count": page.total_count, "sessions": page.sessions}
            )
        return pages

    pages = run(load_settings(data_dir, database_url), work)
    if as_json:
        print_json(pages)
        return
    for page in pages:
        title = f"{page['node_name']} {page['node_id']}: {page['total_count']} sessions"
        print_table(SESSION_FIELDS, [[s[f] for f in SESSION_FIELDS] for s in page["sessions"]], title=title)


@app.command("stats")
def stats(
    instance: InstanceOpt,
    node: NodeOpt = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Session statistics per node: totals, active sessions, top source IPs and DBs."""

    async def work(s: Services) -> list[dict]:
        found = await find_instance(s, instance)
        views = []
        for n in target_nodes(found, node):
            st = await s.sessions.statistics(instance=found, node=n)
            views.append(
                {
                    "node_id": n.id,
                    "node_name": n.name,
                    "total_connection_count": st.total_connection_count,
                    "active_connection_count": st.active_connection_count,
                    "top_source_ips": [{"client_ip": ip, "connection_count": c} for ip, c in st.top_source_ips],
                    "top_dbs": [{"db": db, "connection_count": c} for db, c in st.top_dbs],
                }
            )
        return views

    views = run(load_settings(data_dir, database_url), work)
    if as_json:
        print_json(views)
        return
    for v in views:
        title = (
            f"{v['node_name']} {v['node_id']}: {v['total_connection_count']} sessions, "
            f"{v['active_connection_count']} active"
        )
        ips, dbs = v["top_source_ips"], v["top_dbs"]
        rows = [
            [
                ips[i]["client_ip"] if i < len(ips) else "",
                str(ips[i]["connection_count"]) if i < len(ips) else "",
                dbs[i]["db"] if i < len(dbs) else "",
                str(dbs[i]["connection_count"]) if i < len(dbs) else "",
            ]
            for i in range(max(len(ips), len(dbs)))
        ]
        print_table(["client ip", "sessions", "db", "sessions"], rows, title=title)
