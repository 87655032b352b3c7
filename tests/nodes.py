"""The kinds of node the session endpoints' tests run on, and how a module opts in to all of them.

Node credentials and the server binary change only what the node adapter does (AUTH at connect,
which commands the node lets it run, how the node formats CLIENT LIST), so the modules that drive
the adapter through every endpoint run on every profile (``pytestmark = ON_EVERY_NODE_PROFILE``):
listing and statistics, the three closes, a replica's link. The rest of the suite (IAM, tokens,
errors, audit, OpenAPI) does not depend on node credentials and runs once, on plain Redis nodes.
"""

from __future__ import annotations

import pytest

from sessionplane.demo.servers import AclUser
from sessionplane.nodes.grants import OWN_USER_RULES

NODE_PASSWORD = "n0de-Default-pa55"

# Exactly the rights the README tells operators to give sessionplane's ACL user.
OPERATOR = AclUser(
    name="sessionplane-ops",
    password="0ps-n0de-pa55",
    rules=OWN_USER_RULES,
)

# profile -> LocalCluster options
NODE_PROFILES: dict[str, dict[str, object]] = {
    "redis": {},
    "redis-requirepass": {"password": NODE_PASSWORD},
    "redis-acl-user": {"password": NODE_PASSWORD, "acl_user": OPERATOR},
    "valkey": {"kind": "valkey"},
}

ON_EVERY_NODE_PROFILE = pytest.mark.parametrize("node_profile", list(NODE_PROFILES), indirect=True)
