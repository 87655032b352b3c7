"""The one place where a node's failures become domain errors.

    the node refused our handshake (credentials, ACL)   -> NodeUnavailable  (DBS.200018)
    TLS verification failed                            -> NodeUnavailable
    connect/read failed, connection closed             -> NodeUnavailable
    the peer does not speak RESP                       -> NodeUnavailable
    the node deadline expired                          -> NodeUnavailable, saying so
    the node answered a command with an error reply    -> QuerySessionFailed (listing, DBS.301076)
                                                          KillSessionFailed  (closing, DBS.301077)

The cause is chained for logs; messages name the node, never its credentials.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from sessionplane.errors import KillSessionFailed, NodeUnavailable, QuerySessionFailed
from sessionplane.nodes.wire import HandshakeRefused, ProtocolError, ReplyError

Operation = Literal["query", "kill", "probe"]


class CommandFailed(Exception):
    """An error reply to one of our commands (raised by the adapter, mapped below)."""

    def __init__(self, reply: ReplyError) -> None:
        super().__init__(first_line(str(reply)))


@contextmanager
def mapped_errors(node_id: str, operation: Operation, deadline: float) -> Iterator[None]:
    try:
        yield
    except HandshakeRefused as exc:
        raise NodeUnavailable(f"Node {node_id} refused sessionplane's connection: {exc}") from exc
    except TimeoutError as exc:
        raise NodeUnavailable(f"Node {node_id} did not answer within the {deadline:g} s node deadline.") from exc
    except ssl.SSLError as exc:
        raise NodeUnavailable(f"Node {node_id}: TLS verification failed ({exc.reason or 'handshake'}).") from exc
    except (OSError, EOFError) as exc:
        raise NodeUnavailable(f"Node {node_id} cannot be reached.") from exc
    except ProtocolError as exc:
        raise NodeUnavailable(f"Node {node_id} does not answer as a Redis server.") from exc
    except CommandFailed as exc:
        failure = KillSessionFailed if operation == "kill" else QuerySessionFailed
        raise failure(f"{failure.default_message} Node {node_id} answered: {exc}") from exc


def first_line(text: str) -> str:
    return (text.splitlines() or ["error"])[0][:200]
