"""Who may read /metrics: off by default on non-loopback binds, unless a bearer token is configured."""

from __future__ import annotations

import hmac
import ipaddress
from typing import Literal

from sessionplane.settings import Settings

MetricsAccess = Literal["open", "token", "off"]


def metrics_access(settings: Settings) -> MetricsAccess:
    if settings.metrics_enabled is False:
        return "off"
    if settings.metrics_bearer_token is not None:
        return "token"
    if settings.metrics_enabled or is_loopback(settings.host):
        return "open"
    return "off"


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def bearer_matches(authorization: str | None, token: str) -> bool:
    """``Authorization: Bearer <token>``, compared in constant time."""
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())
