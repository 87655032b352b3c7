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
    counted = await _count_instances(authorizer=authorizer, inventory=inventory, meta=meta)
    answers = []
    for capability, action in CAPABILITIES.items():
        if action.resource_type is None:
            answers.append(Permission(capability, action.name, await authorizer.allows(meta, action, None)))
        else:
            allowed, total = counted[action.name]
            answers.append(Permission(capability, action.name, allowed > 0, allowed, total))
    return answers


async def _count_instances(
    *, authorizer: Authorizer, inventory: InventoryStore, meta: RequestMeta
) -> dict[str, tuple[int, int]]:
    """Per instance action: (instances that allow it, instances). The account's admin is allowed
    everything (the authorizer's rule), so for it the instances are only counted, not read."""
    actions = {action for action in CAPABILITIES.values() if action.resource_type is not None}
    project_id = meta.principal.project_id
    if meta.principal.is_admin:
        total = (await inventory.instances(project_id=project_id, limit=1))[1]
        return {action.name: (total, total) for action in actions}
    instances = await inventory.instances_without_nodes(project_id=project_id)
    return {
        action.name: (sum(await authorizer.allowed_on(meta, action, instances)), len(instances)) for action in actions
    }
