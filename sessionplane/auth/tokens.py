"""X-Auth-Token tokens: Fernet tokens (as OpenStack Keystone issues them) under the keyring.

A token is encrypted and authenticated, so every replica holding the keyring verifies it without
a shared cache, and rotation is the keyring's. The payload carries the user's credential version:
changing the password or disabling the user bumps it in the store, which revokes older tokens at
once (checked by the authenticator, not here).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from cryptography.fernet import InvalidToken

from sessionplane.keyring import Keyring

_PURPOSE = "tokens"


class TokenInvalid(Exception):
    """Malformed, tampered, or signed by a key no longer in the keyring."""


class TokenExpired(Exception):
    def __init__(self, expires_at: datetime) -> None:
        super().__init__(expires_at.isoformat())
        self.expires_at = expires_at


@dataclass(frozen=True)
class TokenClaims:
    user_id: str
    project_id: str
    credential_version: int
    issued_at: float  # unix seconds
    expires_at: float

    @property
    def expires(self) -> datetime:
        return datetime.fromtimestamp(self.expires_at, UTC)

    @property
    def issued(self) -> datetime:
        return datetime.fromtimestamp(self.issued_at, UTC)


def issue(
    keyring: Keyring, *, user_id: str, project_id: str, credential_version: int, now: datetime, ttl: timedelta
) -> tuple[str, TokenClaims]:
    claims = TokenClaims(user_id, project_id, credential_version, now.timestamp(), (now + ttl).timestamp())
    payload = json.dumps(asdict(claims), separators=(",", ":")).encode()
    return keyring.fernet(_PURPOSE).encrypt_at_time(payload, int(now.timestamp())).decode(), claims


def decode(keyring: Keyring, token: str, *, now: datetime) -> TokenClaims:
    try:
        payload = keyring.fernet(_PURPOSE).decrypt(token.encode())
        claims = TokenClaims(**json.loads(payload))
    except (InvalidToken, ValueError, TypeError) as exc:
        raise TokenInvalid() from exc
    if now.timestamp() >= claims.expires_at:
        raise TokenExpired(claims.expires)
    return claims
