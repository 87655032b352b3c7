"""Authentication: turn a request's credentials into a ``Principal``, or refuse with APIG.0301/0307.

Two ways in (spec section 5): an X-Auth-Token, or an AK/SK signature (SDK-HMAC-SHA256). No HTTP
framework here: the edge hands over a ``RequestView``.

Credentials that parse are checked against the store through in-process caches: the request reads
the store revision once (``StoreRevision.begin_request``) and a change made anywhere since the
previous request (a disabled user, a new password, a deleted key) is seen at once. Requests
without usable credentials cost no store access at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sessionplane.auth import signing, tokens
from sessionplane.auth.lockout import Lockouts
from sessionplane.auth.principal import Principal
from sessionplane.errors import AuthenticationFailed, TokenRevoked
from sessionplane.iam.store import IamStore
from sessionplane.inventory.records import Account, Project, User
from sessionplane.inventory.store import InventoryStore
from sessionplane.keyring import Keyring
from sessionplane.revision import StoreRevision

_PREFIX = "Incorrect IAM authentication information: "


@dataclass(frozen=True)
class RequestView:
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: Mapping[str, str]  # case-insensitive mapping
    body: bytes
    path_project_id: str | None
    client_ip: str | None
    secure: bool


def signs_body(headers: Mapping[str, str]) -> bool:
    """Whether the request authenticates by an AK/SK signature, which covers the body (a token does not)."""
    return headers.get("authorization", "").startswith("SDK-HMAC-SHA256")


class Authenticator:
    def __init__(
        self,
        *,
        inventory: InventoryStore,
        iam: IamStore,
        keyring: Keyring,
        lockouts: Lockouts,
        revision: StoreRevision,
        max_skew: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._inventory = inventory
        self._iam = iam
        self._tokens = tokens.TokenDecoder(keyring)
        self._lockouts = lockouts
        self._revision = revision
        self._max_skew = max_skew
        self._clock = clock

    async def authenticate(self, request: RequestView) -> Principal:
        if signs_body(request.headers):
            return await self._by_signature(request, request.headers.get("authorization", ""))
        token = request.headers.get("x-auth-token")
        if token:
            return await self._by_token(request, token)
        raise AuthenticationFailed(_PREFIX + "x-auth-token not found")

    async def _by_token(self, request: RequestView, token: str) -> Principal:
        try:
            claims = self._tokens.decode(token, now=self._clock())
        except tokens.TokenExpired as exc:
            raise AuthenticationFailed(_PREFIX + f"token expires, expires_at: {_iso(exc.expires_at)}") from None
        except tokens.TokenInvalid:
            raise AuthenticationFailed(_PREFIX + "decrypt token fail") from None
        await self._revision.begin_request()
        found = await self._inventory.identity(user_id=claims.user_id, project_id=claims.project_id)
        if found is None or not found[0].enabled or found[0].credential_version != claims.credential_version:
            raise TokenRevoked("The token must be updated.")
        return _principal(*found, request, method="token")

    async def _by_signature(self, request: RequestView, authorization: str) -> Principal:
        try:
            header = signing.parse_authorization(authorization)
        except signing.SignatureError:
            raise AuthenticationFailed(_PREFIX + "verify aksk signature fail") from None
        await self._revision.begin_request()
        key = await self._iam.access_key(header.access_key)
        if key is None or key.secret is None:
            # Unknown keys have nothing to brute-force: no failure is recorded for them.
            raise AuthenticationFailed(_PREFIX + "verify aksk signature fail")
        lockout = await self._lockouts.access_key_state(key.id)
        if self._lockouts.locked(lockout):
            raise AuthenticationFailed(_PREFIX + "AK access failed to reach the limit, forbidden")
        signed = signing.SignedRequest(request.method, request.path, request.query, request.headers, request.body)
        try:
            signing.verify(signed, header, key.secret, now=self._clock(), max_skew=self._max_skew)
        except signing.SignatureError as exc:
            await self._lockouts.access_key_failed(key.id)
            reason = "signature expired" if exc.reason == "expired" else "verify aksk signature fail"
            raise AuthenticationFailed(_PREFIX + reason) from None
        await self._lockouts.access_key_succeeded(key.id, state=lockout)
        project_id = request.headers.get("x-project-id") or request.path_project_id or ""
        found = await self._inventory.identity(user_id=key.user_id, project_id=project_id)
        if found is None:
            raise AuthenticationFailed(_PREFIX + "X-Project-Id does not name a project of this account")
        if not key.enabled or not found[0].enabled:
            # Said only to whoever proved they hold the secret key.
            raise AuthenticationFailed(_PREFIX + "the access key or its user is disabled")
        return _principal(*found, request, method="aksk", access_key_id=key.id)


def _principal(
    user: User,
    account: Account,
    project: Project,
    request: RequestView,
    *,
    method: str,
    access_key_id: str | None = None,
) -> Principal:
    return Principal(
        user_id=user.id,
        user_name=user.name,
        account_id=account.id,
        account_name=account.name,
        project_id=project.id,
        project_name=project.name,
        is_admin=user.is_admin,
        method=method,
        source_ip=request.client_ip,
        secure_transport=request.secure,
        access_key_id=access_key_id,
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
