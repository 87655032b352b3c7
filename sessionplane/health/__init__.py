"""Node health (extensions section 5): a PING per node every ``probe_interval_seconds``.

    probe.py      one round: PING every node with a timeout (bounded concurrency), update the registry
    registry.py   consecutive failures per node -> normal / abnormal (and the figures /metrics shows)
    store.py      the node's ``status`` column, written when the probe's verdict differs from it
    status.py     pure: node and instance status as the API shows it

The verdict lives in the store's node row, so every request that looks a node up (and every
replica) sees it without another lookup; ``sessions.service`` refuses an abnormal node at once.
"""
