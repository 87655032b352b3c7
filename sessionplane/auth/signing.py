"""Server-side verification of Huawei's AK/SK request signatures (SDK-HMAC-SHA256), as pure functions.

Written by hand: no library implements the server side of this Huawei-specific scheme. It mirrors
what the official SDK (huaweicloudsdkcore) computes on the client:

    canonical request = METHOD \\n canonical URI \\n canonical query \\n canonical headers \\n
                        signed headers \\n payload hash
    string to sign    = "SDK-HMAC-SHA256" \\n X-Sdk-Date \\n hex(sha256(canonical request))
    signature         = hex(HMAC-SHA256(key=SK, string to sign))

- canonical URI: every path segment percent-encoded (RFC 3986 unreserved kept, upper-case hex),
  always ending in "/";
- canonical query: (name, value) pairs sorted as given, each side encoded the same way;
- canonical headers: "name:trimmed value" per signed header, each line ending in "\\n";
- payload hash: sha256 of the body (the hash of nothing for an empty body). An
  ``X-Sdk-Content-Sha256`` header counts only when it is itself signed and is ``UNSIGNED-PAYLOAD``
  (as the SDK sends for non-JSON bodies) or the body's real hash: an unsigned or unchecked hash
  header would let a captured signature carry another body.

Signatures are compared in constant time, inside a freshness window around X-Sdk-Date.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_SDK_DATE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})([0-9]{2})([0-9]{2})Z")
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")  # what quote(safe="~") leaves as it is
_UNRESERVED_PATH = re.compile(r"[A-Za-z0-9_.~/-]*")  # a path whose every segment is left as it is
_EMPTY_HASH = hashlib.sha256(b"").hexdigest()
_CONTENT_HASH_HEADER = "x-sdk-content-sha256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_AUTHORIZATION = re.compile(
    r"^SDK-HMAC-SHA256\s+Access=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-fA-F]{64})\s*$"
)


class SignatureError(Exception):
    """Why a signature was refused. Safe to show: never carries the SK or the expected signature."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason  # "malformed" | "bad_signature" | "expired"


@dataclass(frozen=True)
class AuthorizationHeader:
    access_key: str
    signed_headers: tuple[str, ...]
    signature: str


@dataclass(frozen=True)
class SignedRequest:
    method: str
    path: str  # percent-decoded, as the server routes it
    query: tuple[tuple[str, str], ...]  # decoded pairs
    headers: Mapping[str, str]  # names case-insensitive
    body: bytes


def parse_authorization(value: str) -> AuthorizationHeader:
    match = _AUTHORIZATION.match(value.strip())
    if not match:
        raise SignatureError("malformed", "the Authorization header is not an SDK-HMAC-SHA256 signature")
    access_key, signed, signature = match.groups()
    headers = tuple(signed.split(";"))
    if any(not h or h != h.lower() for h in headers):
        raise SignatureError("malformed", "SignedHeaders must be lower-case names separated by ';'")
    return AuthorizationHeader(access_key, headers, signature.lower())


def parse_sdk_date(value: str) -> datetime:
    return _sdk_date(value) if isinstance(value, str) else _sdk_date("")


# Every request signed in the same second carries the same date: parsed once. Read by its fixed
# positions: strptime alone was 2% of a small signed call's server CPU.
@functools.lru_cache(maxsize=64)
def _sdk_date(value: str) -> datetime:
    match = _SDK_DATE.fullmatch(value)
    try:
        if match is None:
            raise ValueError(value)
        return datetime(*map(int, match.groups()), tzinfo=UTC)
    except ValueError:
        raise SignatureError("malformed", "X-Sdk-Date must be YYYYMMDDTHHMMSSZ") from None


def _encode(text: str) -> str:
    return text if _UNRESERVED.fullmatch(text) else quote(text, safe="~")


def canonical_uri(path: str) -> str:
    # Our routes' paths need no encoding: one match of the whole path instead of one per segment.
    uri = path if _UNRESERVED_PATH.fullmatch(path) else "/".join(_encode(segment) for segment in path.split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(query: Sequence[tuple[str, str]]) -> str:
    return "&".join(f"{_encode(name)}={_encode(value)}" for name, value in sorted(query))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def payload_hash(request: SignedRequest, signed_headers: Sequence[str]) -> str:
    """The body's own hash, unless the client signed an ``X-Sdk-Content-Sha256`` that holds for it.

    A signed header is taken as sent when it is ``UNSIGNED-PAYLOAD`` or the body's real hash; any
    other value, or an unsigned header, is ignored, so a signature made over it fails to match.
    """
    if not request.body:
        return _EMPTY_HASH
    actual = hashlib.sha256(request.body).hexdigest()
    if _CONTENT_HASH_HEADER in signed_headers:
        claimed = (_header(request.headers, _CONTENT_HASH_HEADER) or "").strip()
        if claimed == UNSIGNED_PAYLOAD or claimed.lower() == actual:
            return claimed
    return actual


def canonical_request(request: SignedRequest, signed_headers: Sequence[str]) -> str:
    lines = []
    for name in signed_headers:
        value = _header(request.headers, name)
        if value is None:
            raise SignatureError("malformed", f"signed header {name} is missing from the request")
        lines.append(f"{name}:{value.strip()}\n")
    return "\n".join(
        [
            request.method.upper(),
            canonical_uri(request.path),
            canonical_query(request.query),
            "".join(lines),
            ";".join(signed_headers),
            payload_hash(request, signed_headers),
        ]
    )


def string_to_sign(canonical: str, sdk_date: str) -> str:
    return f"{ALGORITHM}\n{sdk_date}\n{hashlib.sha256(canonical.encode()).hexdigest()}"


def signature(secret_key: str | bytes, text: str) -> str:
    key = secret_key.encode() if isinstance(secret_key, str) else secret_key
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def verify(
    request: SignedRequest,
    authorization: AuthorizationHeader,
    secret_key: str,
    *,
    now: datetime,
    max_skew: timedelta = timedelta(minutes=15),
) -> None:
    if "x-sdk-date" not in authorization.signed_headers:
        raise SignatureError("malformed", "X-Sdk-Date must be signed")
    sdk_date = _header(request.headers, "x-sdk-date") or ""
    if abs(now - parse_sdk_date(sdk_date)) > max_skew:
        raise SignatureError("expired", "X-Sdk-Date is too far from the server's clock")
    expected = signature(secret_key, string_to_sign(canonical_request(request, authorization.signed_headers), sdk_date))
    if not hmac.compare_digest(expected, authorization.signature):
        raise SignatureError("bad_signature", "the signature does not match")


def sign_request(request: SignedRequest, access_key: str, secret_key: str, signed_headers: Sequence[str]) -> str:
    """The client side (tests, tools): the Authorization header value for ``request``."""
    names = sorted(h.lower() for h in signed_headers)
    sdk_date = _header(request.headers, "x-sdk-date") or ""
    value = signature(secret_key, string_to_sign(canonical_request(request, names), sdk_date))
    return f"{ALGORITHM} Access={access_key}, SignedHeaders={';'.join(names)}, Signature={value}"
