"""``sessionplane instance adopt|refresh``: register a whole deployment from one seed, and follow it later.

Node credentials never travel in argv: ``--password-stdin``, ``--ask-password`` (a prompt), or
SESSIONPLANE_NODE_PASSWORD; a Sentinel's own password comes from SESSIONPLANE_SENTINEL_PASSWORD.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.table import Table

from sessionplane.cli.context import DatabaseUrl, DataDir, console, err_console, load_settings, run
from sessionplane.cli.inventory import (
    EnterpriseProject,
    ProtectedNames,
    ProtectedUsers,
    Tags,
    parse_tags,
    read_password,
)
from sessionplane.errors import SessionplaneError
from sessionplane.inventory.records import Instance, Node
from sessionplane.inventory.topology import Credentials, RefreshReport, parse_seed
from sessionplane.services import Services


def register(instances: typer.Typer) -> None:
    """Add ``adopt`` and ``refresh`` to the ``instance`` command group."""
    instances.command("adopt")(adopt)
    instances.command("refresh")(refresh)


def adopt(
    seed: Annotated[
        str,
        typer.Option(
            "--seed",
            help="redis://host:port (a cluster node, a primary or a replica; rediss:// for TLS) "
            "or redis+sentinel://host:port/<primary name>; no password in it",
        ),
    ],
    project: Annotated[str, typer.Option("--project", help="Project ID")],
    name: Annotated[str | None, typer.Option("--name", help="Instance name (default: from the seed)")] = None,
    username: Annotated[str | None, typer.Option("--username", help="ACL user for every node")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the nodes' password from stdin")
    ] = False,
    ask_password: Annotated[bool, typer.Option("--ask-password", help="Prompt for the nodes' password")] = False,
    tag: Tags = None,
    enterprise_project: EnterpriseProject = "0",
    protect_name: ProtectedNames = None,
    protect_user: ProtectedUsers = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Discover a Redis Cluster, a primary with replicas, or a Sentinel's primary, and adopt it as one instance.

    Prints the instance ID (stdout) and its nodes (stderr).
    """
    try:
        parsed = parse_seed(seed)
    except SessionplaneError as exc:
        raise typer.BadParameter(exc.message, param_hint="--seed") from None
    credentials = Credentials(
        username=username,
        password=_node_password(password_stdin, ask_password),
        sentinel_password=os.environ.get("SESSIONPLANE_SENTINEL_PASSWORD") or None,
    )

    async def work(s: Services) -> Instance:
        return await s.discovery.adopt(
            project_id=project,
            seed=parsed,
            credentials=credentials,
            name=name,
            tags=parse_tags(tag or []),
            enterprise_project_id=enterprise_project,
            protected_names=protect_name or [],
            protected_users=protect_user or [],
        )

    instance = run(load_settings(data_dir, database_url), work)
    console.print(instance.id)
    err_console.print(_nodes_table(f"{instance.name}: {instance.mode}, {len(instance.nodes)} nodes", instance.nodes))


def refresh(
    instance_id: Annotated[str, typer.Argument(help="The discovered instance to look at again")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Look at a discovered instance again: add new nodes, remove gone ones, follow failovers."""
    report: RefreshReport = run(load_settings(data_dir, database_url), lambda s: s.discovery.refresh(instance_id))
    for node in report.added:
        console.print(f"added    {node.id} {node.host}:{node.port} {node.role}")
    for node in report.removed:
        console.print(f"removed  {node.id} {node.host}:{node.port} (was {node.role})")
    for before, after in report.changed:
        console.print(f"changed  {after.id} {after.host}:{after.port} {_describe_change(before, after)}")
    if not (report.added or report.removed or report.changed):
        console.print(f"{instance_id}: no change ({len(report.instance.nodes)} nodes)")


def _node_password(from_stdin: bool, prompt: bool) -> str | None:
    if from_stdin and prompt:
        raise typer.BadParameter("give at most one of --password-stdin and --ask-password")
    if from_stdin or prompt:
        return read_password("password for the nodes: ", from_stdin)
    return os.environ.get("SESSIONPLANE_NODE_PASSWORD") or None


def _describe_change(before: Node, after: Node) -> str:
    parts = [
        f"{field} {getattr(before, field)} -> {getattr(after, field)}"
        for field in ("role", "status", "host", "port", "group_id")
        if getattr(before, field) != getattr(after, field)
    ]
    return ", ".join(parts)


def _nodes_table(title: str, nodes: tuple[Node, ...]) -> Table:
    table = Table("node id", "group", "role", "status", "address", title=title)
    for n in nodes:
        table.add_row(n.id, n.group_id, n.role, n.status, f"{n.host}:{n.port}")
    return table
