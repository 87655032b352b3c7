"""An unknown user name costs the same Argon2 verification as a known one with a wrong password."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from sessionplane.auth import passwords


class RecordingHasher(PasswordHasher):
    """The real Argon2 hasher, remembering the hashes it verified."""

    def __init__(self) -> None:
        super().__init__()
        self.verified: list[str] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # argon2 names it so
        self.verified.append(str(hash))
        return super().verify(hash, password)


@pytest.fixture
def verified_hashes(monkeypatch):
    hasher = RecordingHasher()
    monkeypatch.setattr(passwords, "_hasher", hasher)
    return hasher.verified


def test_an_unknown_user_still_runs_a_full_verification(verified_hashes):
    assert passwords.verify_password(None, "guess") is False
    assert len(verified_hashes) == 1
    assert verified_hashes[0].startswith("$argon2id$")  # a real hash with the hasher's cost, not a shortcut


def test_the_dummy_hash_has_the_cost_of_a_real_one(verified_hashes):
    known = passwords.hash_password("right")
    assert passwords.verify_password(known, "wrong") is False
    passwords.verify_password(None, "wrong")
    known_params, dummy_params = (h.split("$")[3] for h in verified_hashes)
    assert known_params == dummy_params  # same memory, time and parallelism parameters


def test_the_right_password_of_the_dummy_never_signs_in(verified_hashes):
    assert passwords.verify_password(None, "sessionplane-timing-equaliser") is False
