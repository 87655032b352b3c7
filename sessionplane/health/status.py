"""Pure: the status a node, a group and an instance show, from the probe's verdict on each node."""

from __future__ import annotations

from collections.abc import Iterable

from sessionplane.inventory.records import Instance, Node

NORMAL = "normal"
ABNORMAL = "abnormal"


def is_abnormal(node: Node) -> bool:
    return node.status == ABNORMAL


def group_status(nodes: Iterable[Node]) -> str:
    return ABNORMAL if any(is_abnormal(n) for n in nodes) else NORMAL


def instance_status(instance: Instance) -> str:
    """The operator's status (``frozen``...) wins; a ``normal`` instance with an abnormal node is ``abnormal``."""
    if instance.status == NORMAL and any(is_abnormal(n) for n in instance.nodes):
        return ABNORMAL
    return instance.status
