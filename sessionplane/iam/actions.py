"""The IAM action registry: every API operation's action, access level, resource type and alias.

Routes name their action from here, so the guarded operation and its action stand side by side.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Action:
    name: str  # identity-policy action
    alias: str  # role-policy action
    level: str
    resource_type: str | None  # None: only Resource "*" statements apply

    @property
    def is_write(self) -> bool:
        return self.level == "Write"


DELETE_SESSION = Action("gaussdbfornosql:instance:deleteSession", "nosql:session:delete", "Write", "instance")
LIST_SESSION = Action("gaussdbfornosql:instance:listSession", "nosql:session:list", "List", "instance")
LIST_INSTANCES = Action("gaussdbfornosql:instance:list", "nosql:instance:list", "Read", None)
# sessionplane's own: the audit trail is not a GeminiDB resource, so no nosql:* role policy grants it.
AUDIT_LIST = Action("sessionplane:audit:list", "sessionplane:audit:list", "List", None)

ACTIONS = {a.name: a for a in (DELETE_SESSION, LIST_SESSION, LIST_INSTANCES, AUDIT_LIST)}
