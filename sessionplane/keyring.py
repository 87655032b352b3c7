"""Master keys, newest first, from which every secret-handling key is derived.

One file holds the master keys (one URL-safe base64 32-byte key per line, newest first, mode 0600).
From each master key HKDF derives a Fernet key per purpose, so rotating is one operation:
prepend a key (``sessionplane keys rotate``); tokens and ciphertexts made with older keys stay
readable until their key is dropped from the file.

- ``purpose="secrets"``: node credentials and AK secret keys at rest.
- ``purpose="tokens"``: X-Auth-Token tokens (Fernet tokens, as OpenStack Keystone issues them:
  authenticated and encrypted, verifiable by every replica holding the keyring, no shared cache).
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["InvalidToken", "Keyring"]


def _derive(master: bytes, purpose: str) -> Fernet:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"sessionplane:{purpose}".encode())
    return Fernet(base64.urlsafe_b64encode(hkdf.derive(master)))


class Keyring:
    def __init__(self, master_keys: Sequence[bytes]) -> None:
        if not master_keys:
            raise ValueError("a keyring needs at least one master key")
        self._masters = tuple(master_keys)
        self._by_purpose: dict[str, MultiFernet] = {}

    def fernet(self, purpose: str) -> MultiFernet:
        if purpose not in self._by_purpose:
            self._by_purpose[purpose] = MultiFernet([_derive(m, purpose) for m in self._masters])
        return self._by_purpose[purpose]

    def encrypt(self, plaintext: str) -> str:
        return self.fernet("secrets").encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        return self.fernet("secrets").decrypt(ciphertext.encode()).decode()

    def reencrypt(self, ciphertext: str) -> str:
        """Re-encrypt under the newest key (after a rotation)."""
        return self.fernet("secrets").rotate(ciphertext.encode()).decode()

    @staticmethod
    def new_master_key() -> bytes:
        return secrets.token_bytes(32)

    @classmethod
    def from_lines(cls, text: str) -> Keyring:
        keys = [base64.urlsafe_b64decode(line.strip()) for line in text.splitlines() if line.strip()]
        return cls(keys)

    @classmethod
    def load_or_create(cls, path: Path) -> Keyring:
        if not path.exists():
            write_keyring_file(path, [cls.new_master_key()])
        return cls.from_lines(path.read_text())

    @classmethod
    def rotate_file(cls, path: Path, keep: int = 3) -> Keyring:
        """Prepend a new master key, keeping at most ``keep`` keys."""
        current = cls.load_or_create(path)._masters
        keys = [cls.new_master_key(), *current][:keep]
        write_keyring_file(path, keys)
        return cls(keys)


def write_keyring_file(path: Path, keys: Sequence[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("".join(base64.urlsafe_b64encode(k).decode() + "\n" for k in keys))
