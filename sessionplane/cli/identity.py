"""``sessionplane user|group|ak ...``: users of an account, groups and access keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from sessionplane.auth.passwords import hash_password
from sessionplane.cli.context import DatabaseUrl, DataDir, console, load_settings, run
from sessionplane.cli.inventory import Domain, read_password, users
from sessionplane.cli.output import AsJson, print_json, print_table
from sessionplane.iam.records import AccessKey, Group
from sessionplane.inventory.records import Account, User
from sessionplane.services import Services

groups = typer.Typer(help="Groups of users (policies attach to users or groups).", no_args_is_help=True)
access_keys = typer.Typer(help="AK/SK pairs for signed requests (the official SDK).", no_args_is_help=True)

UserName = Annotated[str, typer.Argument(help="User name")]
GroupName = Annotated[str, typer.Argument(help="Group name")]
AccessKeyId = Annotated[str, typer.Argument(help="Access key ID (AK)")]


async def find_account(s: Services, domain: str) -> Account:
    account = await s.inventory.account_by_name(domain)
    if account is None:
        raise LookupError(f"account {domain!r} does not exist")
    return account


async def find_user(s: Services, domain: str, name: str) -> User:
    account = await find_account(s, domain)
    user = await s.inventory.user_by_name(account_id=account.id, name=name)
    if user is None:
        raise LookupError(f"user {name!r} does not exist in {domain!r}")
    return user


async def find_group(s: Services, domain: str, name: str) -> Group:
    account = await find_account(s, domain)
    group = await s.iam.group_by_name(account_id=account.id, name=name)
    if group is None:
        raise LookupError(f"group {name!r} does not exist in {domain!r}")
    return group


# -- users -------------------------------------------------------------------------------------


@users.command("list")
def user_list(
    domain: Domain, as_json: AsJson = False, data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    """List the users of an account."""

    async def work(s: Services) -> list[User]:
        return await s.inventory.users(account_id=(await find_account(s, domain)).id)

    found = run(load_settings(data_dir, database_url), work)
    if as_json:
        print_json([{"id": u.id, "name": u.name, "admin": u.is_admin, "enabled": u.enabled} for u in found])
        return
    rows = [[u.id, u.name, "yes" if u.is_admin else "", "yes" if u.enabled else "DISABLED"] for u in found]
    print_table(["id", "name", "admin", "enabled"], rows)


def _set_enabled(domain: str, name: str, enabled: bool, data_dir: Path | None, database_url: str | None) -> None:
    async def work(s: Services) -> None:
        await s.inventory.update_user((await find_user(s, domain, name)).id, enabled=enabled)

    run(load_settings(data_dir, database_url), work)
    console.print(f"{name}: {'enabled' if enabled else 'disabled; its tokens and access keys stop working now'}")


@users.command("disable")
def user_disable(name: UserName, domain: Domain, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Disable a user: its tokens and access keys stop working at once."""
    _set_enabled(domain, name, False, data_dir, database_url)


@users.command("enable")
def user_enable(name: UserName, domain: Domain, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Enable a disabled user again (it signs in anew: its old tokens stay revoked)."""
    _set_enabled(domain, name, True, data_dir, database_url)


@users.command("passwd")
def user_passwd(
    name: UserName,
    domain: Domain,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Change a password; the user's existing tokens are revoked."""
    password = read_password(f"new password for {name}: ", password_stdin)
    if len(password) < 8:
        raise typer.BadParameter("the password needs at least 8 characters")

    async def work(s: Services) -> None:
        await s.inventory.update_user((await find_user(s, domain, name)).id, password_hash=hash_password(password))

    run(load_settings(data_dir, database_url), work)
    console.print(f"{name}: password changed")


@users.command("delete")
def user_delete(name: UserName, domain: Domain, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Delete a user, with its access keys and policy attachments."""

    async def work(s: Services) -> None:
        await s.inventory.delete_user((await find_user(s, domain, name)).id)

    run(load_settings(data_dir, database_url), work)
    console.print(f"{name}: deleted")


# -- groups ------------------------------------------------------------------------------------


@groups.command("add")
def group_add(name: GroupName, domain: Domain, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Create a group; prints its ID."""

    async def work(s: Services) -> Group:
        return await s.iam.create_group(account_id=(await find_account(s, domain)).id, name=name)

    console.print(run(load_settings(data_dir, database_url), work).id)


@groups.command("add-member")
def group_add_member(
    group: GroupName,
    user: UserName,
    domain: Domain,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Put a user in a group: the group's policies apply to it."""

    async def work(s: Services) -> None:
        member = await find_user(s, domain, user)
        await s.iam.add_member(group_id=(await find_group(s, domain, group)).id, user_id=member.id)

    run(load_settings(data_dir, database_url), work)
    console.print(f"{user} is in {group}")


# -- access keys -------------------------------------------------------------------------------


@access_keys.command("create")
def ak_create(
    user: UserName,
    domain: Domain,
    description: Annotated[str, typer.Option(help="What the key is for")] = "",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an AK/SK pair. The SK is shown now and never again."""

    async def work(s: Services) -> AccessKey:
        return await s.iam.create_access_key(user_id=(await find_user(s, domain, user)).id, description=description)

    key = run(load_settings(data_dir, database_url), work)
    print(json.dumps({"ak": key.id, "sk": key.secret}))


@access_keys.command("list")
def ak_list(
    user: UserName, domain: Domain, as_json: AsJson = False, data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    """List a user's access keys (never their SKs)."""

    async def work(s: Services) -> list[AccessKey]:
        return await s.iam.access_keys(user_id=(await find_user(s, domain, user)).id)

    found = run(load_settings(data_dir, database_url), work)
    if as_json:
        print_json(
            [
                {"ak": k.id, "enabled": k.enabled, "created": k.created_at.isoformat(), "description": k.description}
                for k in found
            ]
        )
        return
    rows = [
        [k.id, "yes" if k.enabled else "DISABLED", k.created_at.isoformat(timespec="seconds"), k.description]
        for k in found
    ]
    print_table(["ak", "enabled", "created", "description"], rows)


@access_keys.command("disable")
def ak_disable(ak: AccessKeyId, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Disable an access key: requests signed with it are refused from now on."""
    if not run(load_settings(data_dir, database_url), lambda s: s.iam.set_access_key_enabled(ak, False)):
        raise typer.BadParameter("no such access key")
    console.print(f"{ak}: disabled")


@access_keys.command("delete")
def ak_delete(ak: AccessKeyId, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Delete an access key."""
    if not run(load_settings(data_dir, database_url), lambda s: s.iam.delete_access_key(ak)):
        raise typer.BadParameter("no such access key")
    console.print(f"{ak}: deleted")
