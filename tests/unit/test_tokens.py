"""Fernet tokens under the keyring: rotation keeps old tokens valid until their key is dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sessionplane.auth import tokens
from sessionplane.keyring import Keyring

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def issue(keyring: Keyring, now: datetime = NOW) -> tuple[str, tokens.TokenClaims]:
    return tokens.issue(keyring, user_id="u", project_id="p", credential_version=3, now=now, ttl=timedelta(hours=24))


def test_round_trip_and_expiry():
    keyring = Keyring([Keyring.new_master_key()])
    token, claims = issue(keyring)
    assert tokens.decode(keyring, token, now=NOW + timedelta(hours=23)) == claims
    with pytest.raises(tokens.TokenExpired) as expired:
        tokens.decode(keyring, token, now=NOW + timedelta(hours=24))
    assert expired.value.expires_at == NOW + timedelta(hours=24)


def test_rotation():
    old_key, new_key = Keyring.new_master_key(), Keyring.new_master_key()
    old, rotated = Keyring([old_key]), Keyring([new_key, old_key])
    token, claims = issue(old)
    assert tokens.decode(rotated, token, now=NOW) == claims
    fresh, _ = issue(rotated)
    with pytest.raises(tokens.TokenInvalid):
        tokens.decode(old, fresh, now=NOW)
    with pytest.raises(tokens.TokenInvalid):
        tokens.decode(Keyring([new_key]), token, now=NOW)


@pytest.mark.parametrize("garbage", ["", "abc", "gAAAAA" + "A" * 100])
def test_garbage_is_invalid(garbage):
    with pytest.raises(tokens.TokenInvalid):
        tokens.decode(Keyring([Keyring.new_master_key()]), garbage, now=NOW)


def test_secrets_round_trip_and_rotate():
    old_key, new_key = Keyring.new_master_key(), Keyring.new_master_key()
    old, rotated = Keyring([old_key]), Keyring([new_key, old_key])
    ciphertext = old.encrypt("n0de-password")
    assert "n0de-password" not in ciphertext
    moved = rotated.reencrypt(ciphertext)
    assert Keyring([new_key]).decrypt(moved) == "n0de-password"


class _Rotating(Keyring):
    """A keyring whose keys the test replaces, as a keyring file replaced on disk is followed."""

    def replace(self, keys: list[bytes]) -> None:
        self._use(keys)


def test_decoder_remembers_verified_tokens_but_checks_expiry_every_time(monkeypatch):
    keyring = Keyring([Keyring.new_master_key()])
    token, claims = issue(keyring)
    decoder = tokens.TokenDecoder(keyring)
    assert decoder.decode(token, now=NOW) == claims
    monkeypatch.setattr(tokens, "_decrypt", lambda *_: pytest.fail("a remembered token was verified again"))
    assert decoder.decode(token, now=NOW + timedelta(hours=23)) == claims
    with pytest.raises(tokens.TokenExpired):
        decoder.decode(token, now=NOW + timedelta(hours=24))


def test_decoder_forgets_tokens_whose_key_was_retired():
    old_key, new_key = Keyring.new_master_key(), Keyring.new_master_key()
    keyring = _Rotating([old_key])
    token, claims = issue(keyring)
    decoder = tokens.TokenDecoder(keyring)
    assert decoder.decode(token, now=NOW) == claims
    keyring.replace([new_key, old_key])  # rotated: the old key still verifies
    assert decoder.decode(token, now=NOW) == claims
    keyring.replace([new_key])  # retired
    with pytest.raises(tokens.TokenInvalid):
        decoder.decode(token, now=NOW)


def test_decoder_never_remembers_a_bad_token_and_stays_bounded():
    keyring = Keyring([Keyring.new_master_key()])
    decoder = tokens.TokenDecoder(keyring, size=3)
    issued = [issue(keyring, NOW + timedelta(seconds=i))[0] for i in range(5)]
    for token in issued:
        decoder.decode(token, now=NOW)
    assert len(decoder._verified) == 3
    tampered = issued[0][:-2] + ("AA" if issued[0][-2:] != "AA" else "BB")
    for _ in range(2):
        with pytest.raises(tokens.TokenInvalid):
            decoder.decode(tampered, now=NOW)
    assert len(decoder._verified) == 3
