"""``sessionplane project|user|instance ...``: the operator's inventory commands."""

from __future__ import annotations

import dataclasses
import getpass
import sys
from enum import StrEnum
from typing import Annotated, Any

import typer

from sessionplane import admin
from sessionplane.cli.context import DatabaseUrl, DataDir, console, load_settings, run
from sessionplane.cli.node_credentials import (
    NodeUser,
    PasswordFile,
    PasswordPrompt,
    PasswordStdin,
    node_password,
    parse_node,
)
from sessionplane.cli.output import AsJson, print_json, print_table
from sessionplane.inventory.records import CredentialUpdate, Instance, Node
from sessionplane.services import Services
from sessionplane.sessions.fanout import bounded
from sessionplane.sessions.service import target_nodes

projects = typer.Typer(help="Projects (tenants).", no_args_is_help=True)
users = typer.Typer(help="Users of an account.", no_args_is_help=True)
instances = typer.Typer(help="Adopted Redis-compatible instances and their nodes.", no_args_is_help=True)

Domain = Annotated[str, typer.Option("--domain", help="Account (domain) name")]
InstanceId = Annotated[str, typer.Argument(help="Instance ID")]
# What an instance is registered with, by ``instance add`` and ``instance adopt`` alike.
Tags = Annotated[list[str] | None, typer.Option("--tag", help="key=value; repeat")]
EnterpriseProject = Annotated[
    str, typer.Option("--enterprise-project", help="Enterprise project ID (g:EnterpriseProjectId); 0 = the default one")
]
ProtectedNames = Annotated[list[str] | None, typer.Option("--protect-name", help="Client name never closed")]
ProtectedUsers = Annotated[list[str] | None, typer.Option("--protect-user", help="ACL user never closed")]


class InstanceStatus(StrEnum):
    """What an operator may set; only normal and abnormal instances allow session calls (as Huawei's console)."""

    NORMAL = "normal"
    ABNORMAL = "abnormal"
    FROZEN = "frozen"
    CREATING = "creating"
    DATA_DISK_FULL = "data_disk_full"


# -- projects ----------------------------------------------------------------------------------


@projects.command("add")
def project_add(
    name: Annotated[str, typer.Argument(help="Project name, e.g. a region such as ap-southeast-1")],
    domain: Domain,
    project_id: Annotated[str | None, typer.Option("--id", help="Project ID to use (default: a new one)")] = None,
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
def project_list(as_json: AsJson = False, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """List every project with its account."""
    found = run(load_settings(data_dir, database_url), lambda s: s.inventory.projects())
    if as_json:
        print_json([{"id": p.id, "name": p.name, "account_id": p.account_id} for p in found])
        return
    print_table(["id", "name", "account"], [[p.id, p.name, p.account_id] for p in found])


# -- users (creation; the rest of the user commands are in identity.py) --------------------------


def read_password(prompt: str, from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return getpass.getpass(prompt)


@users.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="User name")],
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


# -- instances ---------------------------------------------------------------------------------


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
    name: Annotated[str, typer.Argument(help="Instance name")],
    project: Annotated[str, typer.Option("--project", help="Project ID")],
    node: Annotated[
        list[str],
        typer.Option("--node", help="host:port or redis[s]://[user@]host:port (rediss: TLS); repeat for each node"),
    ],
    node_user: NodeUser = None,
    password_stdin: PasswordStdin = False,
    password_file: PasswordFile = None,
    password_prompt: PasswordPrompt = False,
    mode: Annotated[str, typer.Option(help="Cluster, Replication or RedisCluster")] = "Cluster",
    version: Annotated[str, typer.Option(help="Datastore version")] = "7.0",
    tag: Tags = None,
    enterprise_project: EnterpriseProject = "0",
    protect_name: ProtectedNames = None,
    protect_user: ProtectedUsers = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Adopt existing Redis endpoints as one instance; prints the instance ID.

    A node without a password in its URL takes the one from --node-password-stdin, --node-password-file,
    --node-password-prompt, or else SESSIONPLANE_NODE_PASSWORD.
    """
    password = node_password(from_stdin=password_stdin, file=password_file, prompt=password_prompt)
    specs = [parse_node(n, username=node_user, password=password) for n in node]
    specs = [dataclasses.replace(spec, name=f"node_{i + 1}") for i, spec in enumerate(specs)]
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


def node_view(n: Node) -> dict[str, Any]:
    """A node as the operator sees it: the password only as whether there is one."""
    return {
        "id": n.id,
        "name": n.name,
        "role": n.role,
        "status": n.status,
        "host": n.host,
        "port": n.port,
        "user": n.username,
        "password": n.password is not None,
        "tls": n.tls,
    }


def instance_view(i: Instance) -> dict[str, Any]:
    return {
        "id": i.id,
        "name": i.name,
        "mode": i.mode,
        "status": i.status,
        "project_id": i.project_id,
        "enterprise_project_id": i.enterprise_project_id,
        "datastore": {"type": i.datastore_type, "version": i.datastore_version},
        "tags": dict(i.tags),
        "protected_names": list(i.protected_names),
        "protected_users": list(i.protected_users),
        "nodes": [node_view(n) for n in i.nodes],
    }


@instances.command("list")
def instance_list(
    project: Annotated[str | None, typer.Option("--project", help="Only this project's instances")] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List adopted instances, newest first."""
    found, _total = run(
        load_settings(data_dir, database_url), lambda s: s.inventory.instances(project_id=project, limit=1000)
    )
    if as_json:
        print_json([instance_view(i) for i in found])
        return
    rows = [
        [
            i.id,
            i.name,
            i.mode,
            i.status,
            i.project_id,
            str(len(i.nodes)),
            "\n".join(f"{k}={v}" for k, v in i.tags.items()),
        ]
        for i in found
    ]
    print_table(["id", "name", "mode", "status", "project", "nodes", "tags"], rows)


async def find_instance(services: Services, instance_id: str) -> Instance:
    instance = await services.inventory.instance_any_project(instance_id)
    if instance is None:
        raise LookupError(f"instance {instance_id} does not exist")
    return instance


@instances.command("show")
def instance_show(
    instance_id: InstanceId, as_json: AsJson = False, data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    """Show an instance and its nodes (never their passwords)."""
    i = run(load_settings(data_dir, database_url), lambda s: find_instance(s, instance_id))
    if as_json:
        print_json(instance_view(i))
        return
    console.print(f"{i.name} {i.id}  mode={i.mode} status={i.status} project={i.project_id}", markup=False)
    console.print(
        f"enterprise project {i.enterprise_project_id}; tags {dict(i.tags)}; "
        f"protected names {list(i.protected_names)}; protected users {list(i.protected_users)}",
        markup=False,
    )
    rows = [
        [
            n.id,
            n.name,
            n.role,
            n.status,
            f"{n.host}:{n.port}",
            n.username or "",
            "set" if n.password else "",
            _yes(n.tls),
        ]
        for n in i.nodes
    ]
    print_table(["node id", "name", "role", "status", "address", "user", "password", "tls"], rows)


def _yes(flag: bool) -> str:
    return "yes" if flag else ""


@instances.command("set-status")
def instance_set_status(
    instance_id: InstanceId,
    status: Annotated[
        InstanceStatus, typer.Argument(help="normal or abnormal allow session calls; the others refuse them")
    ],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Mark an instance (e.g. frozen for maintenance): session calls then answer DBS.200018."""
    run(load_settings(data_dir, database_url), lambda s: s.inventory.set_instance_status(instance_id, status.value))
    console.print(f"{instance_id}: {status.value}")


@instances.command("set-credentials")
def instance_set_credentials(
    instance_id: InstanceId,
    node: Annotated[str | None, typer.Option("--node", help="Node ID (default: every node of the instance)")] = None,
    node_user: Annotated[
        str | None, typer.Option("--node-user", help="ACL user to connect as; an empty string: the default user")
    ] = None,
    password_stdin: PasswordStdin = False,
    password_file: PasswordFile = None,
    password_prompt: PasswordPrompt = False,
    no_password: Annotated[bool, typer.Option("--no-node-password", help="Connect without a password")] = False,
    tls: Annotated[bool | None, typer.Option("--tls/--no-tls", help="Connect with TLS, or without")] = None,
    verify: Annotated[
        bool, typer.Option("--verify/--no-verify", help="Check that every node accepts the new credentials first")
    ] = True,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Change the user, password or TLS that sessionplane connects to nodes with, without removing the instance.

    What is not given stays as it is. The password is stored encrypted; a running server uses the new
    credentials from its next request on.
    """
    password = node_password(from_stdin=password_stdin, file=password_file, prompt=password_prompt)
    if no_password and password is not None:
        raise typer.BadParameter("--no-node-password and a node password exclude each other")
    update = CredentialUpdate(username=node_user, password="" if no_password else password, tls=tls)
    if update.empty:
        raise typer.BadParameter("nothing to change: give --node-user, a node password option, or --tls/--no-tls")

    async def work(s: Services) -> list[str]:
        instance = await find_instance(s, instance_id)
        if verify:
            await _check_nodes_accept(s, [_with_update(n, update) for n in target_nodes(instance, node)])
        return await s.inventory.set_node_credentials(instance_id, update, node_id=node)

    for changed in run(load_settings(data_dir, database_url), work):
        console.print(f"{changed}: credentials updated")


def _with_update(node: Node, update: CredentialUpdate) -> Node:
    return dataclasses.replace(
        node,
        username=node.username if update.username is None else update.username or None,
        password=node.password if update.password is None else update.password or None,
        tls=node.tls if update.tls is None else update.tls,
    )


async def _check_nodes_accept(services: Services, nodes: list[Node]) -> None:
    """CLIENT LIST with the new credentials on every node: what sessionplane itself will need to do."""
    results = await bounded((services.nodes.client_list(n) for n in nodes), limit=services.settings.fanout_concurrency)
    for result in results:
        if isinstance(result, BaseException):
            raise result


@instances.command("remove")
def instance_remove(instance_id: InstanceId, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Forget an instance (its nodes are not touched)."""
    run(load_settings(data_dir, database_url), lambda s: _remove(s, instance_id))
    console.print(f"removed {instance_id}")


async def _remove(services: Services, instance_id: str) -> None:
    if not await services.inventory.remove_instance(instance_id):
        raise LookupError(f"instance {instance_id} does not exist")
