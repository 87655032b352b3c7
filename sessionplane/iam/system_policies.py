"""Built-in system policies (role policies, 1.1), attachable by name like account policies."""

from __future__ import annotations

from sessionplane.iam.evaluate import NamedPolicy
from sessionplane.iam.policy import parse_policy

FULL_ACCESS = NamedPolicy(
    "NoSQL FullAccess",
    parse_policy({"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["nosql:*:*"]}]}),
)
READ_ONLY = NamedPolicy(
    "NoSQL ReadOnlyAccess",
    parse_policy({"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["nosql:*:list", "nosql:*:get"]}]}),
)
SYSTEM_POLICIES = {p.name: p for p in (FULL_ACCESS, READ_ONLY)}
