"""The open-file limit of the serving process: every node connection is a file descriptor.

Many systems start processes with a soft limit of 1,024 descriptors and a far higher hard limit.
A fan-out over 256 nodes with pools of 4, plus HTTP clients and the store's connections, can pass
1,024; the serving process raises its soft limit to the hard one at start (as Go's runtime does),
which needs no privilege. The limit is exported on /metrics (``process_max_fds``).
"""

from __future__ import annotations

import logging
import resource

log = logging.getLogger(__name__)


def raise_open_file_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; the soft limit in force afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:  # a sandbox may refuse: keep what we have, and say so
            log.warning("open-file limit stays at %d: %s", soft, exc)
    log.info("open-file limit: %d", soft)
    return soft
