"""Session history (extensions section 3): sample every node's CLIENT LIST, keep counts, answer series and growth.

sampler.py      one round: CLIENT LIST per node (bounded concurrency) -> summary -> store
summary.py      pure: an indexed CLIENT LIST -> total, active, idle-over and top-k groups per dimension
protection.py   which lines are not client sessions (api.md section 3), through sessions.selection
assignment.py   which nodes this replica samples (the seam for leases between replicas)
tables.py       raw samples and 5-minute roll-ups; store.py reads and writes them
maintenance.py  roll-up and retention
series.py       pure: stored cells -> bucketed series with gaps, growth ranking
timespec.py     pure: "-1h", ISO times, "15m" windows
service.py      the queries behind GET .../session-history and .../session-growth
"""
