"""AK/SK-signed requests for tests: the headers a client sends, signed as the official SDK signs them."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import httpx

from sessionplane.auth.signing import SignedRequest, sign_request


def signed_headers(method: str, url: str, ak: str, sk: str, *, project_id: str, body: bytes = b"") -> dict[str, str]:
    parts = urlsplit(url)
    headers = {
        "Content-Type": "application/json",
        "Host": parts.netloc,
        "X-Project-Id": project_id,
        "X-Sdk-Date": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
    }
    request = SignedRequest(
        method,
        parts.path,
        tuple(parse_qsl(parts.query, keep_blank_values=True)),
        {k.lower(): v for k, v in headers.items()},
        body,
    )
    headers["Authorization"] = sign_request(request, ak, sk, [k.lower() for k in headers])
    del headers["Host"]  # httpx sends the same value itself
    return headers


def signed_get(url: str, ak: str, sk: str, *, project_id: str) -> httpx.Response:
    return httpx.get(url, headers=signed_headers("GET", url, ak, sk, project_id=project_id), timeout=60)
