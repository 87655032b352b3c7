"""Generated IDs follow Huawei's shape: 32 lowercase hex characters, plus a type suffix."""

from __future__ import annotations

import secrets


def project_id() -> str:
    return secrets.token_hex(16)


def instance_id() -> str:
    return secrets.token_hex(16) + "in12"


def node_id() -> str:
    return secrets.token_hex(16) + "no12"


def plain_id() -> str:
    """For users, groups, policies, access-key records and audit events."""
    return secrets.token_hex(16)
