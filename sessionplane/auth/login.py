"""Password sign-in (POST /v3/auth/tokens): check the user's password and issue a project-scoped token.

A name locked by too many wrong passwords is refused before any hashing; every wrong password
(unknown users and disabled users included, so nothing tells them apart) counts towards the lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sessionplane.auth import tokens
from sessionplane.auth.lockout import Lockouts
from sessionplane.auth.passwords import Passwords
from sessionplane.errors import AuthenticationFailed
from sessionplane.inventory.records import Account, Project, User
from sessionplane.inventory.store import InventoryStore
from sessionplane.keyring import Keyring

_WRONG = "Incorrect IAM authentication information: the username or password is wrong"
_LOCKED = "Incorrect IAM authentication information: too many wrong passwords, the user is locked for a while"


@dataclass(frozen=True)
class Login:
    token: str
    claims: tokens.TokenClaims
    user: User
    account: Account
    project: Project


async def password_login(
    *,
    inventory: InventoryStore,
    keyring: Keyring,
    passwords: Passwords,
    lockouts: Lockouts,
    domain: str,
    user_name: str,
    password: str,
    project_id: str | None,
    project_name: str | None,
    ttl: timedelta,
) -> Login:
    """Every failure reads the same to the caller, so accounts and users cannot be probed."""
    lockout = await lockouts.user_state(domain=domain, user_name=user_name)
    if lockouts.locked(lockout):
        raise AuthenticationFailed(_LOCKED)
    account = await inventory.account_by_name(domain)
    user = await inventory.user_by_name(account_id=account.id, name=user_name) if account else None
    if not await passwords.verify(user.password_hash if user else None, password) or not (user and user.enabled):
        await lockouts.user_failed(domain=domain, user_name=user_name)
        raise AuthenticationFailed(_WRONG)
    assert account is not None
    await lockouts.user_succeeded(domain=domain, user_name=user_name, state=lockout)
    if project_id:
        project = await inventory.project(project_id)
    else:
        project = await inventory.project_by_name(account_id=account.id, name=project_name or "")
    if project is None or project.account_id != account.id:
        raise AuthenticationFailed("Incorrect IAM authentication information: the scoped project does not exist")
    token, claims = tokens.issue(
        keyring,
        user_id=user.id,
        project_id=project.id,
        credential_version=user.credential_version,
        now=datetime.now(UTC),
        ttl=ttl,
    )
    return Login(token, claims, user, account, project)
