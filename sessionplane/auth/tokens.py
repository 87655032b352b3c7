"""X-Auth-Token tokens: Fernet tokens (as OpenStack Keystone issues them) under the keyring.

A token is encrypted and authenticated, so every replica holding the keyring verifies it without
a shared cache, and rotation is the keyring's. The payload carries the user's credential version:
changing the password or disabling the user bumps it in the store, which revokes older tokens at
once (checked by the authenticator, not here).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from cryptography.fernet import InvalidToken, MultiFernet

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
    return _checked(_decrypt(keyring.fernet(_PURPOSE), token), now)


def _decrypt(fernet: MultiFernet, token: str) -> TokenClaims:
    try:
        return TokenClaims(**json.loads(fernet.decrypt(token.encode())))
    except (InvalidToken, ValueError, TypeError) as exc:
        raise TokenInvalid() from exc


def _checked(claims: TokenClaims, now: datetime) -> TokenClaims:
    if now.timestamp() >= claims.expires_at:
        raise TokenExpired(claims.expires)
    return claims


class TokenDecoder:
    """``decode`` that remembers the tokens it verified, as every request of a client repeats its token.

    Verifying a Fernet token (HMAC, AES, JSON) was about 6% of a small call's server CPU; a
    dictionary lookup is not. Entries are keyed by the token's SHA-256 (no lookup compares a secret), tied to
    the keys that verified them (a rotation that retires a key drops its tokens), and bounded in
    number. Expiry is checked on every use; revocation is the authenticator's, on every request.
    Tokens that fail verification are never remembered.
    """

    def __init__(self, keyring: Keyring, *, size: int = 4096) -> None:
        self._keyring = keyring
        self._size = size
        self._fernet: MultiFernet | None = None
        self._verified: dict[bytes, TokenClaims] = {}

    def decode(self, token: str, *, now: datetime) -> TokenClaims:
        fernet = self._keyring.fernet(_PURPOSE)
        if fernet is not self._fernet:  # the keys changed: what they verified is no longer known
            self._fernet, self._verified = fernet, {}
        digest = hashlib.sha256(token.encode()).digest()
        claims = self._verified.get(digest)
        if claims is None:
            claims = _decrypt(fernet, token)
            if len(self._verified) >= self._size:
                del self._verified[next(iter(self._verified))]  # the oldest entry
            self._verified[digest] = claims
        return _checked(claims, now)
