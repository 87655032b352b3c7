"""What sessionplane's own ACL user needs on a node (README, "Give sessionplane its own ACL user").

One list for the demo's nodes, the bench's and the tests': the README states the same.
``+client|info`` is optional (the handshake goes on without it, knowing our connections by ID alone).
"""

from __future__ import annotations

OWN_USER_RULES = (
    "+client|list",
    "+client|kill",
    "+client|setname",
    "+client|id",
    "+client|info",
    "+ping",
    "+hello",
    "+auth",
)
