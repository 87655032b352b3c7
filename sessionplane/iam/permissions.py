"""What may the caller do? The answers behind ``GET /sessionplane/v1/{project_id}/permissions``.

A client (the console) asks this instead of trying an operation to see whether it is refused: the
answer comes from the same ``Authorizer`` that guards the operations, for the same request
context (source IP, time, transport), so it holds for requests made like this one. It is advice,
never a grant: every operation is still authorized on its own.

Each capability names the action that guards it:

- ``list``: list sessions, statistics, history, rules and runs (``listSession``);
- ``close``: close sessions (``deleteSession``);
- ``rules``: create, change and delete close rules (``deleteSession``, as the rule routes need);
- ``audit``: read the project's audit trail (``sessionplane:audit:list``, no resource type).

On one instance, an instance action is evaluated on it. On the whole project, it is allowed when
the caller may do it on at least one of the project's instances, and the answer says on how
many of how many (the console's fleet page shows its close buttons when any instance allows it).
Nothing here is audited: asking is not an attempt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sessionplane.auth.principal import RequestMeta
from sessionplane.iam.actions import AUDIT_LIST, DELETE_SESSION, LIST_SESSION, Action
from sessionplane.iam.authorize import Authorizer
from sessionplane.inventory.records import Instance
from sessionplane.inventory.store import InventoryStore

CAPABILITIES: dict[str, Action] = {
    "list": LIST_SESSION,
    "close": DELETE_SESSION,
    "rules": DELETE_SESSION,
    "audit": AUDIT_LIST,
}
_PAGE = 500


@dataclass(frozen=True)
class Permission:
    capability: str
    action: str
    allowed: bool
    instances_allowed: int | None = None  # project scope, instance actions: on how many instances
    instances_total: int | None = None


async def on_instance(*, authorizer: Authorizer, meta: RequestMeta, instance: Instance) -> list[Permission]:
    decided: dict[str, bool] = {}  # one evaluation per action (close and rules share deleteSession)
    answers = []
    for capability, action in CAPABILITIES.items():
        if action.name not in decided:
            target = instance if action.resource_type else None
            decided[action.name] = await authorizer.allows(meta, action, target)
        answers.append(Permission(capability, action.name, decided[action.name]))
    return answers


async def on_project(*, authorizer: Authorizer, inventory: InventoryStore, meta: RequestMeta) -> list[Permission]:
    instances = await _all_instances(inventory, meta.principal.project_id)
    counted: dict[str, int] = {}
    answers = []
    for capability, action in CAPABILITIES.items():
        if action.resource_type is None:
            answers.append(Permission(capability, action.name, await authorizer.allows(meta, action, None)))
            continue
        if action.name not in counted:
            counted[action.name] = await _count_allowed(authorizer, meta, action, instances)
        allowed = counted[action.name]
        answers.append(Permission(capability, action.name, allowed > 0, allowed, len(instances)))
    return answers


async def _count_allowed(
    authorizer: Authorizer, meta: RequestMeta, action: Action, instances: Sequence[Instance]
) -> int:
    return sum([await authorizer.allows(meta, action, instance) for instance in instances])


async def _all_instances(inventory: InventoryStore, project_id: str) -> list[Instance]:
    instances: list[Instance] = []
    while True:
        page, total = await inventory.instances(project_id=project_id, offset=len(instances), limit=_PAGE)
        instances += page
        if not page or len(instances) >= total:
            return instances
