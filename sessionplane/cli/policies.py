"""``sessionplane policy ...``: IAM policies, where they are attached, and what they decide.

``policy simulate`` exits 0 when the action is allowed and 3 when it is denied (1 is an error, 2 a
usage error), so scripts can test a decision: ``if sessionplane policy simulate ...; then``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sessionplane.auth.principal import Principal, RequestMeta
from sessionplane.cli.context import DatabaseUrl, DataDir, console, err_console, load_settings, run
from sessionplane.cli.identity import find_account, find_group, find_user
from sessionplane.cli.inventory import Domain
from sessionplane.cli.output import AsJson, print_json, print_table
from sessionplane.iam.actions import ACTIONS, Action
from sessionplane.iam.evaluate import Decision
from sessionplane.iam.policy import PolicyError, parse_policy
from sessionplane.iam.records import Attachment
from sessionplane.iam.system_policies import SYSTEM_POLICIES
from sessionplane.services import Services

policies = typer.Typer(help="IAM policies: identity (5.0) and role (1.1) policies.", no_args_is_help=True)

DENIED_EXIT_CODE = 3
PolicyName = Annotated[
    str, typer.Argument(help="Policy name (a custom one, or a system one such as 'NoSQL FullAccess')")
]
UserOpt = Annotated[str | None, typer.Option("--user", help="User name (give --user or --group)")]
GroupOpt = Annotated[str | None, typer.Option("--group", help="Group name (give --user or --group)")]
ProjectOpt = Annotated[str | None, typer.Option("--project", help="Project ID (default: every project)")]


@policies.command("create")
def policy_create(
    name: Annotated[str, typer.Argument(help="Policy name")],
    file: Annotated[Path, typer.Argument(help="JSON policy document", exists=True, dir_okay=False, readable=True)],
    domain: Domain,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create or replace a policy from a JSON file; a malformed policy is refused with where it is wrong."""
    if name in SYSTEM_POLICIES:
        raise typer.BadParameter(f"{name!r} is a system policy name")
    try:
        document = file.read_text()
        parse_policy(document)
    except (OSError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(f"{file} cannot be read: {exc}", param_hint="FILE") from None
    except PolicyError as exc:
        err_console.print(f"policy rejected: {exc}", markup=False)
        raise typer.Exit(1) from None

    async def work(s: Services) -> None:
        await s.iam.put_policy(account_id=(await find_account(s, domain)).id, name=name, document=document)

    run(load_settings(data_dir, database_url), work)
    console.print(f"policy {name} saved", markup=False)


@policies.command("list")
def policy_list(
    domain: Domain, as_json: AsJson = False, data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    """List the system and custom policies and where each is attached."""

    async def work(s: Services) -> tuple[list, list[Attachment]]:
        account = await find_account(s, domain)
        return await s.iam.policies(account_id=account.id), await s.iam.attachments(account_id=account.id)

    stored, attached = run(load_settings(data_dir, database_url), work)
    views = [
        {
            "name": name,
            "kind": "system" if name in SYSTEM_POLICIES else "custom",
            "attachments": [
                {"principal_type": a.principal_type, "principal_id": a.principal_id, "project_id": a.project_id}
                for a in attached
                if a.policy_name == name
            ],
        }
        for name in [*SYSTEM_POLICIES, *(p.name for p in stored)]
    ]
    if as_json:
        print_json(views)
        return
    rows = [
        [
            v["name"],
            v["kind"],
            "\n".join(f"{a['principal_type']}:{a['principal_id']}@{a['project_id'] or '*'}" for a in v["attachments"]),
        ]
        for v in views
    ]
    print_table(["policy", "kind", "attached to (type:id@project)"], rows)


@policies.command("delete")
def policy_delete(
    name: Annotated[str, typer.Argument(help="Custom policy name")],
    domain: Domain,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Delete a custom policy (and detach it everywhere)."""

    async def work(s: Services) -> bool:
        return await s.iam.delete_policy(account_id=(await find_account(s, domain)).id, name=name)

    if not run(load_settings(data_dir, database_url), work):
        raise typer.BadParameter(f"policy {name!r} does not exist")
    console.print(f"policy {name} deleted (and detached)", markup=False)


async def _grantee(s: Services, domain: str, user: str | None, group: str | None) -> tuple[str, str]:
    if (user is None) == (group is None):
        raise typer.BadParameter("give exactly one of --user or --group")
    if user is not None:
        return "user", (await find_user(s, domain, user)).id
    return "group", (await find_group(s, domain, group or "")).id


@policies.command("attach")
def policy_attach(
    name: PolicyName,
    domain: Domain,
    user: UserOpt = None,
    group: GroupOpt = None,
    project: ProjectOpt = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Grant a policy to a user or a group, in one project or in all of them."""

    async def work(s: Services) -> None:
        account = await find_account(s, domain)
        if name not in SYSTEM_POLICIES and name not in {p.name for p in await s.iam.policies(account_id=account.id)}:
            raise LookupError(f"policy {name!r} does not exist")
        principal_type, principal_id = await _grantee(s, domain, user, group)
        await s.iam.attach(
            account_id=account.id,
            policy_name=name,
            principal_type=principal_type,
            principal_id=principal_id,
            project_id=project,
        )

    run(load_settings(data_dir, database_url), work)
    console.print(f"attached {name} to {_whom(user, group, project)}", markup=False)


@policies.command("detach")
def policy_detach(
    name: PolicyName,
    domain: Domain,
    user: UserOpt = None,
    group: GroupOpt = None,
    project: ProjectOpt = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Take back a policy granted with ``policy attach`` (the same options name the same grant)."""

    async def work(s: Services) -> None:
        account = await find_account(s, domain)
        principal_type, principal_id = await _grantee(s, domain, user, group)
        for a in await s.iam.attachments(account_id=account.id):
            grant = (a.policy_name, a.principal_type, a.principal_id, a.project_id)
            if grant == (name, principal_type, principal_id, project):
                await s.iam.detach(a.id)
                return
        raise LookupError(f"policy {name!r} is not attached to {_whom(user, group, project)}")

    run(load_settings(data_dir, database_url), work)
    console.print(f"detached {name} from {_whom(user, group, project)}", markup=False)


def _whom(user: str | None, group: str | None, project: str | None) -> str:
    grantee = f"user {user}" if user is not None else f"group {group}"
    return f"{grantee} in {f'project {project}' if project else 'every project'}"


def _action(text: str) -> Action:
    """An action by its identity-policy name or its role-policy alias, in any case (as policies match them)."""
    for action in ACTIONS.values():
        if text.lower() in (action.name.lower(), action.alias.lower()):
            return action
    known = ", ".join(f"{a.name} ({a.alias})" for a in ACTIONS.values())
    raise typer.BadParameter(f"unknown action {text!r}; one of {known}", param_hint="--action")


@policies.command("simulate")
def policy_simulate(
    domain: Domain,
    user: Annotated[str, typer.Option("--user", help="User name")],
    action: Annotated[
        str,
        typer.Option(
            "--action", help="e.g. gaussdbfornosql:instance:deleteSession, or its role alias nosql:session:delete"
        ),
    ],
    instance: Annotated[str | None, typer.Option("--instance", help="Instance ID (needed for session actions)")] = None,
    project: Annotated[str | None, typer.Option("--project", help="Project ID (default: the instance's)")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Explain the decision: which statement allowed or denied the action, or that nothing allowed it.

    Exits 0 on ALLOW and 3 on DENY.
    """
    chosen = _action(action)

    async def work(s: Services) -> tuple[bool, str]:
        found = await s.inventory.instance_any_project(instance) if instance else None
        if instance and found is None:
            raise LookupError(f"instance {instance} does not exist")
        person = await find_user(s, domain, user)
        project_id = project or (found.project_id if found else None)
        if project_id is None:
            raise LookupError("give --project or --instance")
        if person.is_admin:
            return True, "ALLOW: the account's admin may do everything"
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
        result = await s.authorizer.explain(RequestMeta("simulation", principal), chosen, found)
        verdict = {Decision.ALLOW: "ALLOW", Decision.DENY: "DENY"}.get(result.decision, "DENY (no statement allows it)")
        lines = [verdict] + [
            f"  {m.effect}: policy {m.policy_name!r}, Statement[{m.statement_index}]"
            + (f" (Sid {m.sid})" if m.sid else "")
            for m in result.matches
        ]
        return result.allowed, "\n".join(lines)

    allowed, explanation = run(load_settings(data_dir, database_url), work)
    console.print(explanation, markup=False, highlight=False)
    if not allowed:
        raise typer.Exit(DENIED_EXIT_CODE)
