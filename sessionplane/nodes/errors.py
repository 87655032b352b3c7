"""The one place where redis-py's exceptions become domain errors.

redis-py's tree (``AuthenticationError`` is a ``ConnectionError``; ``TimeoutError``;
``ResponseError`` for an error reply) maps to: the node cannot be used at all ->
``NodeUnavailable``; the node answered with an error -> the operation's own failure
(``QuerySessionFailed`` for listing, ``KillSessionFailed`` for closing). The cause is chained for
logs; the message names the node, never its credentials.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from redis import exceptions as redis_errors

from sessionplane.errors import KillSessionFailed, NodeUnavailable, QuerySessionFailed
from sessionplane.inventory.records import Node

Operation = Literal["query", "kill"]


@contextmanager
def mapped_errors(node: Node, operation: Operation) -> Iterator[None]:
    try:
        yield
    except redis_errors.AuthenticationError as exc:
        raise NodeUnavailable(f"Node {node.id} refused sessionplane's credentials.") from exc
    except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as exc:
        raise NodeUnavailable(f"Node {node.id} cannot be reached.") from exc
    except redis_errors.RedisError as exc:
        failure = QuerySessionFailed if operation == "query" else KillSessionFailed
        raise failure(f"{failure.default_message} Node {node.id} answered: {_first_line(exc)}") from exc


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]
