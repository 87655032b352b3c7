"""Policy evaluation: a pure function from (policies, request) to a decision and the statements behind it.

Per statement the answer is three-valued (ALLOW, DENY, NOT_APPLICABLE). Overall: any matching
Deny wins; otherwise any matching Allow allows; otherwise NOT_APPLICABLE, which is an implicit
deny. The account-admin bypass is the caller's (``authorize.py``).

Identity statements (5.0) match ``context.action`` and ``context.resource``; role statements (1.1)
match ``context.alias`` and ``context.role_resource``. Actions match case-insensitively, resources
case-sensitively, both with escaped ``*``/``?`` wildcards. For an action with no resource type
(``resource is None``) only statements without Resource, or with Resource "*", apply.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sessionplane.iam.patterns import wildcard_match
from sessionplane.iam.policy import Policy, Statement


class Decision(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True)
class RequestContext:
    action: str
    alias: str
    resource: str | None
    role_resource: str | None
    keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", {k.lower(): tuple(v) for k, v in self.keys.items()})


@dataclass(frozen=True)
class NamedPolicy:
    name: str
    policy: Policy


@dataclass(frozen=True)
class Match:
    policy_name: str
    statement_index: int
    sid: str | None
    effect: str


@dataclass(frozen=True)
class Evaluation:
    decision: Decision
    matches: tuple[Match, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW


def _action_matches(statement: Statement, action: str) -> bool:
    if statement.actions:
        return any(wildcard_match(p, action, ignore_case=True) for p in statement.actions)
    return not any(wildcard_match(p, action, ignore_case=True) for p in statement.not_actions)


def _resource_matches(statement: Statement, resource: str | None) -> bool:
    if resource is None:
        return statement.not_resources is None and (statement.resources is None or "*" in statement.resources)
    if statement.resources is not None:
        return any(wildcard_match(p, resource) for p in statement.resources)
    if statement.not_resources is not None:
        return not any(wildcard_match(p, resource) for p in statement.not_resources)
    return True


def statement_decision(statement: Statement, version: str, context: RequestContext) -> Decision:
    role = version == "1.1"
    action = context.alias if role else context.action
    resource = context.role_resource if role else context.resource
    if not (_action_matches(statement, action) and _resource_matches(statement, resource)):
        return Decision.NOT_APPLICABLE
    if not all(condition.holds(context.keys) for condition in statement.conditions):
        return Decision.NOT_APPLICABLE
    return Decision.ALLOW if statement.effect == "Allow" else Decision.DENY


def evaluate(policies: Sequence[NamedPolicy], context: RequestContext) -> Evaluation:
    matches = tuple(
        Match(named.name, index, statement.sid, statement.effect)
        for named in policies
        for index, statement in enumerate(named.policy.statements)
        if statement_decision(statement, named.policy.version, context) is not Decision.NOT_APPLICABLE
    )
    if any(m.effect == "Deny" for m in matches):
        return Evaluation(Decision.DENY, matches)
    if matches:
        return Evaluation(Decision.ALLOW, matches)
    return Evaluation(Decision.NOT_APPLICABLE, ())
