"""The close body's session IDs: one joined match for the usual list, the same answers as a per-value check."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from sessionplane.api.bodies import _session_ids
from sessionplane.api.schemas import MAX_CLIENT_ID
from sessionplane.errors import InvalidSessionId

_ONE = re.compile(r"[0-9]{1,20}")


def one_by_one(values: list[str | int]) -> tuple[int, ...] | str:
    """The reference: every value checked on its own; the first bad one named."""
    ids = []
    for value in values:
        if not _ONE.fullmatch(str(value)):
            return str(value)[:40]
        if int(str(value)) <= MAX_CLIENT_ID:
            ids.append(int(str(value)))
    return tuple(dict.fromkeys(ids))


values = st.one_of(
    st.integers(min_value=-5, max_value=2**64 + 5),
    st.text(alphabet="0123456789 ,-+x\n", max_size=22),
    st.sampled_from(["18446744073709551615", "9223372036854775808", "00012", "1,2", "1 2", ""]),
)


@given(st.lists(values, min_size=1, max_size=30))
@example(["00012", "7", "12"])  # a leading zero: not a JSON number, so read one by one
@example([12, "7", 2**64])  # JSON integers among the strings
def test_joined_check_agrees_with_one_by_one(items):
    expected = one_by_one(items)
    if isinstance(expected, str):
        with pytest.raises(InvalidSessionId) as refused:
            _session_ids(items)
        assert repr(expected) in refused.value.message
    else:
        assert _session_ids(items) == expected
