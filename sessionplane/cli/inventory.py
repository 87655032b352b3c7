"""``sessionplane project|user|instance ...``: the operator's inventory commands."""

from __future__ import annotations

import getpass
import os
import sys
from typing import Annotated
from urllib.parse import unquote, urlsplit

import typer
from rich.table import Table

from sessionplane import admin
from sessionplane.cli.context import DatabaseUrl, DataDir, console, load_settings, run
from sessionplane.inventory.records import Instance, NodeSpec
from sessionplane.services import Services

projects = typer.Typer(help="Projects (tenants).", no_args_is_help=True)
users = typer.Typer(help="Users of an account.", no_args_is_help=True)
instances = typer.Typer(help="Adopted Redis-compatible instances and their nodes.", no_args_is_help=True)

Domain = Annotated[str, typer.Option("--domain", help="Account (domain) name")]


@projects.command("add")
def project_add(
    name: str,
    domain: Domain,
    project_id: Annotated[str | None, typer.Option("--id")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a project (and its account on first use); prints the project ID."""
    project = run(
        load_settings(data_dir, database_url),
        lambda s: admin.add_project(s.inventory, domain=domain, name=name, project_id=project_id),
    )
    console.print(project.id)


@projects.command("list")
def project_list(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    table = Table("id", "name", "account")
    for p in run(load_settings(data_dir, database_url), lambda s: s.inventory.projects()):
        table.add_row(p.id, p.name, p.account_id)
    console.print(table)


def read_password(prompt: str, from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass(prompt)


@users.command("add")
def user_add(
    name: str,
    domain: Domain,
    is_admin: Annotated[bool, typer.Option("--admin", help="The account's admin: allowed everything")] = False,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a user with a password (prompted, or read from stdin; never a flag, so it stays out of ps)."""
    password = read_password(f"password for {name}: ", password_stdin)
    if len(password) < 8:
        raise typer.BadParameter("the password needs at least 8 characters")
    user = run(
        load_settings(data_dir, database_url),
        lambda s: admin.add_user(s.inventory, domain=domain, name=name, password=password, is_admin=is_admin),
    )
    console.print(user.id)


def parse_node(text: str) -> NodeSpec:
    """``host:port``, or a URL ``redis://[user[:password]@]host:port`` (``rediss://`` for TLS).

    A node without a password in its URL takes SESSIONPLANE_NODE_PASSWORD when that is set.
    """
    url = urlsplit(text if "://" in text else f"redis://{text}")
    if url.scheme not in ("redis", "rediss") or not url.hostname or not url.port:
        raise typer.BadParameter(
            f"node {text.split('@')[-1]!r}: expected host:port or redis://[user:password@]host:port"
        )
    password = unquote(url.password) if url.password else os.environ.get("SESSIONPLANE_NODE_PASSWORD")
    return NodeSpec(
        host=url.hostname,
        port=url.port,
        username=unquote(url.username) if url.username else None,
        password=password,
        tls=url.scheme == "rediss",
    )


def parse_tags(values: list[str]) -> dict[str, str]:
    tags = {}
    for value in values:
        key, sep, tag_value = value.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"tag {value!r}: expected key=value")
        tags[key] = tag_value
    return tags


@instances.command("add")
def instance_add(
    name: str,
    project: Annotated[str, typer.Option("--project", help="Project ID")],
    node: Annotated[list[str], typer.Option("--node", help="host:port or redis[s]://user:password@host:port; repeat")],
    mode: Annotated[str, typer.Option(help="Cluster, Replication or RedisCluster")] = "Cluster",
    version: Annotated[str, typer.Option(help="Datastore version")] = "7.0",
    tag: Annotated[list[str] | None, typer.Option("--tag", help="key=value; repeat")] = None,
    enterprise_project: Annotated[str, typer.Option("--enterprise-project")] = "0",
    protect_name: Annotated[list[str] | None, typer.Option("--protect-name", help="Client name never closed")] = None,
    protect_user: Annotated[list[str] | None, typer.Option("--protect-user", help="ACL user never closed")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Adopt existing Redis endpoints as one instance; prints the instance ID."""
    specs = [parse_node(n) for n in node]
    specs = [NodeSpec(**{**s.__dict__, "name": f"node_{i + 1}"}) for i, s in enumerate(specs)]
    instance = run(
        load_settings(data_dir, database_url),
        lambda s: admin.adopt_instance(
            s.inventory,
            project_id=project,
            name=name,
            nodes=specs,
            mode=mode,
            version=version,
            tags=parse_tags(tag or []),
            enterprise_project_id=enterprise_project,
            protected_names=protect_name or [],
            protected_users=protect_user or [],
        ),
    )
    console.print(instance.id)


@instances.command("list")
def instance_list(
    project: Annotated[str | None, typer.Option("--project")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    found, _total = run(
        load_settings(data_dir, database_url), lambda s: s.inventory.instances(project_id=project, limit=1000)
    )
    table = Table("id", "name", "mode", "status", "project", "nodes", "tags")
    for i in found:
        table.add_row(
            i.id,
            i.name,
            i.mode,
            i.status,
            i.project_id,
            str(len(i.nodes)),
            ", ".join(f"{k}={v}" for k, v in i.tags.items()),
        )
    console.print(table)


async def _instance(services: Services, instance_id: str) -> Instance:
    instance = await services.inventory.instance_any_project(instance_id)
    if instance is None:
        raise LookupError(f"instance {instance_id} does not exist")
    return instance


@instances.command("show")
def instance_show(instance_id: str, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    i = run(load_settings(data_dir, database_url), lambda s: _instance(s, instance_id))
    console.print(f"[bold]{i.name}[/bold] {i.id}  mode={i.mode} status={i.status} project={i.project_id}")
    console.print(
        f"enterprise project {i.enterprise_project_id}; tags {dict(i.tags)}; "
        f"protected names {list(i.protected_names)}; protected users {list(i.protected_users)}"
    )
    table = Table("node id", "name", "role", "status", "address", "user", "tls")
    for n in i.nodes:
        table.add_row(n.id, n.name, n.role, n.status, f"{n.host}:{n.port}", n.username or "", "yes" if n.tls else "")
    console.print(table)


@instances.command("set-status")
def instance_set_status(
    instance_id: str,
    status: Annotated[
        str, typer.Argument(help="normal, abnormal, frozen, ...: only normal and abnormal allow sessions")
    ],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Mark an instance (e.g. frozen for maintenance): session calls then answer DBS.200018."""
    run(load_settings(data_dir, database_url), lambda s: s.inventory.set_instance_status(instance_id, status))
    console.print(f"{instance_id}: {status}")


@instances.command("remove")
def instance_remove(instance_id: str, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Forget an instance (its nodes are not touched)."""
    run(load_settings(data_dir, database_url), lambda s: _remove(s, instance_id))
    console.print(f"removed {instance_id}")


async def _remove(services: Services, instance_id: str) -> None:
    if not await services.inventory.remove_instance(instance_id):
        raise LookupError(f"instance {instance_id} does not exist")
