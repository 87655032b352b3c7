"""``sessionplane user|group|policy|ak|audit ...``: identities, policies, access keys and the audit trail."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sessionplane.audit.records import AuditEvent, AuditFilter
from sessionplane.auth.passwords import hash_password
from sessionplane.auth.principal import Principal, RequestMeta
from sessionplane.cli.context import DatabaseUrl, DataDir, console, load_settings, run
from sessionplane.cli.inventory import Domain, read_password, users
from sessionplane.iam.actions import ACTIONS
from sessionplane.iam.policy import PolicyError, parse_policy
from sessionplane.iam.records import AccessKey, Group
from sessionplane.iam.system_policies import SYSTEM_POLICIES
from sessionplane.inventory.records import Account, User
from sessionplane.services import Services

groups = typer.Typer(help="Groups of users (policies attach to users or groups).", no_args_is_help=True)
policies = typer.Typer(help="IAM policies: identity (5.0) and role (1.1) policies.", no_args_is_help=True)
access_keys = typer.Typer(help="AK/SK pairs for signed requests (the official SDK).", no_args_is_help=True)
audit = typer.Typer(help="The audit trail of closes and denied closes.", no_args_is_help=True)


async def _account(s: Services, domain: str) -> Account:
    account = await s.inventory.account_by_name(domain)
    if account is None:
        raise LookupError(f"account {domain!r} does not exist")
    return account


async def _user(s: Services, domain: str, name: str) -> User:
    account = await _account(s, domain)
    user = await s.inventory.user_by_name(account_id=account.id, name=name)
    if user is None:
        raise LookupError(f"user {name!r} does not exist in {domain!r}")
    return user


async def _group(s: Services, domain: str, name: str) -> Group:
    account = await _account(s, domain)
    group = await s.iam.group_by_name(account_id=account.id, name=name)
    if group is None:
        raise LookupError(f"group {name!r} does not exist in {domain!r}")
    return group


# -- users -------------------------------------------------------------------------------------


@users.command("list")
def user_list(domain: Domain, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    async def work(s: Services) -> list[User]:
        return await s.inventory.users(account_id=(await _account(s, domain)).id)

    table = Table("id", "name", "admin", "enabled")
    for u in run(load_settings(data_dir, database_url), work):
        table.add_row(u.id, u.name, "yes" if u.is_admin else "", "yes" if u.enabled else "DISABLED")
    console.print(table)


def _set_enabled(domain: str, name: str, enabled: bool, data_dir: Path | None, database_url: str | None) -> None:
    async def work(s: Services) -> None:
        await s.inventory.update_user((await _user(s, domain, name)).id, enabled=enabled)

    run(load_settings(data_dir, database_url), work)
    console.print(f"{name}: {'enabled' if enabled else 'disabled; its tokens and access keys stop working now'}")


@users.command("disable")
def user_disable(name: str, domain: Domain, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    _set_enabled(domain, name, False, data_dir, database_url)


@users.command("enable")
def user_enable(name: str, domain: Domain, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    _set_enabled(domain, name, True, data_dir, database_url)


@users.command("passwd")
def user_passwd(
    name: str,
    domain: Domain,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Change a password; the user's existing tokens are revoked."""
    password = read_password(f"new password for {name}: ", password_stdin)

    async def work(s: Services) -> None:
        await s.inventory.update_user((await _user(s, domain, name)).id, password_hash=hash_password(password))

    run(load_settings(data_dir, database_url), work)
    console.print(f"{name}: password changed")


@users.command("delete")
def user_delete(name: str, domain: Domain, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    async def work(s: Services) -> None:
        await s.inventory.delete_user((await _user(s, domain, name)).id)

    run(load_settings(data_dir, database_url), work)
    console.print(f"{name}: deleted")


# -- groups ------------------------------------------------------------------------------------


@groups.command("add")
def group_add(name: str, domain: Domain, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    async def work(s: Services) -> Group:
        return await s.iam.create_group(account_id=(await _account(s, domain)).id, name=name)

    console.print(run(load_settings(data_dir, database_url), work).id)


@groups.command("add-member")
def group_add_member(
    group: str, user: str, domain: Domain, data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    async def work(s: Services) -> None:
        await s.iam.add_member(group_id=(await _group(s, domain, group)).id, user_id=(await _user(s, domain, user)).id)

    run(load_settings(data_dir, database_url), work)
    console.print(f"{user} is in {group}")


# -- policies ----------------------------------------------------------------------------------


@policies.command("create")
def policy_create(
    name: str,
    file: Annotated[Path, typer.Argument(help="JSON policy document")],
    domain: Domain,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create or replace a policy from a JSON file; a malformed policy is refused with where it is wrong."""
    document = file.read_text()
    try:
        parse_policy(document)
    except PolicyError as exc:
        console.print(f"[red]policy rejected:[/red] {exc}")
        raise typer.Exit(1) from None
    if name in SYSTEM_POLICIES:
        raise typer.BadParameter(f"{name!r} is a system policy name")

    async def work(s: Services) -> None:
        await s.iam.put_policy(account_id=(await _account(s, domain)).id, name=name, document=document)

    run(load_settings(data_dir, database_url), work)
    console.print(f"policy {name} saved")


@policies.command("list")
def policy_list(domain: Domain, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    async def work(s: Services) -> tuple[list, list]:
        account = await _account(s, domain)
        return await s.iam.policies(account_id=account.id), await s.iam.attachments(account_id=account.id)

    stored, attached = run(load_settings(data_dir, database_url), work)
    table = Table("policy", "kind", "attachments (type:id@project)")
    for name in [*SYSTEM_POLICIES, *(p.name for p in stored)]:
        where = [
            f"{a.principal_type}:{a.principal_id}@{a.project_id or '*'} ({a.id})"
            for a in attached
            if a.policy_name == name
        ]
        table.add_row(name, "system" if name in SYSTEM_POLICIES else "custom", "\n".join(where))
    console.print(table)


@policies.command("delete")
def policy_delete(name: str, domain: Domain, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    async def work(s: Services) -> bool:
        return await s.iam.delete_policy(account_id=(await _account(s, domain)).id, name=name)

    if not run(load_settings(data_dir, database_url), work):
        raise typer.BadParameter(f"policy {name!r} does not exist")
    console.print(f"policy {name} deleted (and detached)")


@policies.command("attach")
def policy_attach(
    name: str,
    domain: Domain,
    user: Annotated[str | None, typer.Option("--user")] = None,
    group: Annotated[str | None, typer.Option("--group")] = None,
    project: Annotated[str | None, typer.Option("--project", help="Project ID (default: every project)")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Grant a policy to a user or a group, in one project or in all of them."""
    if (user is None) == (group is None):
        raise typer.BadParameter("give exactly one of --user or --group")

    async def work(s: Services) -> str:
        account = await _account(s, domain)
        if name not in SYSTEM_POLICIES and name not in {p.name for p in await s.iam.policies(account_id=account.id)}:
            raise LookupError(f"policy {name!r} does not exist")
        principal = await _user(s, domain, user) if user else await _group(s, domain, group or "")
        attachment = await s.iam.attach(
            account_id=account.id,
            policy_name=name,
            principal_type="user" if user else "group",
            principal_id=principal.id,
            project_id=project,
        )
        return attachment.id

    console.print(run(load_settings(data_dir, database_url), work))


@policies.command("detach")
def policy_detach(attachment_id: str, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    if not run(load_settings(data_dir, database_url), lambda s: s.iam.detach(attachment_id)):
        raise typer.BadParameter(f"attachment {attachment_id!r} does not exist")
    console.print("detached")


@policies.command("simulate")
def policy_simulate(
    domain: Domain,
    user: Annotated[str, typer.Option("--user")],
    action: Annotated[str, typer.Option("--action", help="e.g. gaussdbfornosql:instance:deleteSession")],
    instance: Annotated[str | None, typer.Option("--instance", help="Instance ID (needed for session actions)")] = None,
    project: Annotated[str | None, typer.Option("--project", help="Project ID (default: the instance's)")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Explain the decision: which statement allowed or denied the action, or that nothing allowed it."""
    if action not in ACTIONS:
        raise typer.BadParameter(f"unknown action; one of {', '.join(ACTIONS)}")

    async def work(s: Services) -> str:
        found = await s.inventory.instance_any_project(instance) if instance else None
        if instance and found is None:
            raise LookupError(f"instance {instance} does not exist")
        person = await _user(s, domain, user)
        project_id = project or (found.project_id if found else None)
        if project_id is None:
            raise LookupError("give --project or --instance")
        if person.is_admin:
            return "ALLOW: the account's admin may do everything"
        principal = Principal(
            user_id=person.id,
            user_name=person.name,
            account_id=person.account_id,
            account_name=domain,
            project_id=project_id,
            project_name="",
            is_admin=False,
            method="simulation",
        )
        result = await s.authorizer.explain(RequestMeta("simulation", principal), ACTIONS[action], found)
        lines = [f"{result.decision.value.upper().replace('NOT_APPLICABLE', 'DENY (no statement allows it)')}"]
        lines += [
            f"  {m.effect}: policy {m.policy_name!r}, Statement[{m.statement_index}]"
            + (f" (Sid {m.sid})" if m.sid else "")
            for m in result.matches
        ]
        return "\n".join(lines)

    console.print(run(load_settings(data_dir, database_url), work))


# -- access keys -------------------------------------------------------------------------------


@access_keys.command("create")
def ak_create(
    user: str, domain: Domain, description: str = "", data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    """Create an AK/SK pair. The SK is shown now and never again."""

    async def work(s: Services) -> AccessKey:
        return await s.iam.create_access_key(user_id=(await _user(s, domain, user)).id, description=description)

    key = run(load_settings(data_dir, database_url), work)
    console.print(json.dumps({"ak": key.id, "sk": key.secret}))


@access_keys.command("list")
def ak_list(user: str, domain: Domain, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    async def work(s: Services) -> list:
        return await s.iam.access_keys(user_id=(await _user(s, domain, user)).id)

    table = Table("ak", "enabled", "created", "description")
    for k in run(load_settings(data_dir, database_url), work):
        table.add_row(
            k.id, "yes" if k.enabled else "DISABLED", k.created_at.isoformat(timespec="seconds"), k.description
        )
    console.print(table)


@access_keys.command("disable")
def ak_disable(ak: str, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    if not run(load_settings(data_dir, database_url), lambda s: s.iam.set_access_key_enabled(ak, False)):
        raise typer.BadParameter("no such access key")
    console.print(f"{ak}: disabled")


@access_keys.command("delete")
def ak_delete(ak: str, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    if not run(load_settings(data_dir, database_url), lambda s: s.iam.delete_access_key(ak)):
        raise typer.BadParameter("no such access key")
    console.print(f"{ak}: deleted")


# -- audit -------------------------------------------------------------------------------------


@audit.command("list")
def audit_list(
    domain: Annotated[str | None, typer.Option("--domain", help="Account (default: every account)")] = None,
    since: Annotated[datetime | None, typer.Option(help="ISO time, UTC")] = None,
    until: Annotated[datetime | None, typer.Option(help="ISO time, UTC")] = None,
    user: Annotated[str | None, typer.Option("--user")] = None,
    actor: Annotated[
        str | None, typer.Option("--actor", help="user:<name>, rule:<id>, cli:<os user>; rule:* for all rules")
    ] = None,
    instance: Annotated[str | None, typer.Option("--instance")] = None,
    outcome: Annotated[str | None, typer.Option(help="succeeded, partial, failed, denied, pending")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 100,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    from datetime import UTC

    where = AuditFilter(
        since=since.replace(tzinfo=since.tzinfo or UTC) if since else None,
        until=until.replace(tzinfo=until.tzinfo or UTC) if until else None,
        user_name=user,
        actor=actor,
        instance_id=instance,
        outcome=outcome,
        limit=limit,
    )

    async def work(s: Services) -> list:
        account_id = (await _account(s, domain)).id if domain else None
        return await s.audit_store.events(account_id=account_id, where=where)

    events = run(load_settings(data_dir, database_url), work)
    if as_json:
        console.print_json(
            json.dumps([{**e.__dict__, "at": e.at.isoformat(), "node_results": list(e.node_results)} for e in events])
        )
        return
    table = Table("time (UTC)", "outcome", "actor", "action", "instance / node", "per node", "reconnects", "request id")
    for e in events:
        per_node = "; ".join(
            f"{r.get('node_id', '')[:8]}: " + (f"closed {r['closed']}" if "closed" in r else str(r.get("error_code")))
            for r in e.node_results
        )
        table.add_row(
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            e.outcome,
            e.actor or e.user_name or "",
            e.action.split(":")[-1],
            f"{e.instance_id or ''}\n{e.node_id or ''}".strip(),
            per_node,
            _reconnects(e),
            e.request_id,
        )
    console.print(table)


def _reconnects(event: AuditEvent) -> str:
    """Closed and came back (``closed 40, 37 came back``), once reconnect tracking has counted."""
    if event.closed is None or event.reconnected is None:
        return ""
    return f"closed {event.closed}, {event.reconnected} came back"
