"""Schemathesis extensions for ``test_schemathesis.py``, loaded by its CLI run (``SCHEMATHESIS_HOOKS``).

- ``huawei_error_envelope``: every error answer is ``{"error_code": ..., "error_msg": ...}`` (non-empty strings).
- Path parameters are, half of the time, the real IDs the test passes in ``SESSIONPLANE_FUZZ_IDS`` (JSON), so
  that generated queries and bodies reach the session domain, not only the 403/404 of made-up IDs.
- Integer query parameters also take the values where 64-bit integers end.
- ``KNOWN_DEFECTS``: failures already filed and being fixed elsewhere are set aside, each written to the file
  named by ``SESSIONPLANE_FUZZ_KNOWN_SEEN``; the test fails when one no longer reproduces, so the entry goes.
"""

from __future__ import annotations

import json
import os

import schemathesis
from hypothesis import strategies as st

REAL_IDS: dict[str, str] = json.loads(os.environ.get("SESSIONPLANE_FUZZ_IDS", "{}"))
INT64_EDGES = (2**63 - 1, 2**63, 2**64, -(2**63) - 1)  # Schemathesis draws from all of Python's ints: rarely these

KNOWN_DEFECTS: dict[str, str] = {}  # none today; an entry names a failure and where it is being fixed


def known_defect(case, response) -> str | None:
    """The KNOWN_DEFECTS entry a failure is, if any (none are known today)."""
    return None


@schemathesis.check
def huawei_error_envelope(ctx, response, case) -> None:
    if response.status_code < 400:
        return
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"error answer {response.status_code} is not JSON: {response.content[:200]!r}") from None
    fields = ("error_code", "error_msg")
    if not isinstance(body, dict) or not all(isinstance(body.get(k), str) and body[k] for k in fields):
        raise AssertionError(f"error answer {response.status_code} is not Huawei's envelope: {body!r:.300}")


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    known = known_defect(case, response)
    if known is None:
        return True
    with open(os.environ["SESSIONPLANE_FUZZ_KNOWN_SEEN"], "a") as seen:
        seen.write(known + "\n")
    return False


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    real = {name: REAL_IDS.get(name, value) for name, value in (path_parameters or {}).items()}
    return st.sampled_from([path_parameters, real])


@schemathesis.hook
def flatmap_query(context, query):
    names = [p.name for p in context.operation.query if p.definition.get("schema", {}).get("type") == "integer"]
    if not names:
        return st.just(query)
    edges = st.tuples(st.sampled_from(names), st.sampled_from(INT64_EDGES))
    return st.one_of(st.just(query), edges.map(lambda edge: {**(query or {}), edge[0]: edge[1]}))
