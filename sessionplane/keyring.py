"""Master keys, newest first, from which every secret-handling key is derived.

One file holds the master keys (one URL-safe base64 32-byte key per line, newest first, mode 0600).
From each master key HKDF derives a Fernet key per purpose, so rotating is one operation:
prepend a key (``sessionplane keys rotate``); tokens and ciphertexts made with older keys stay
readable until their key is dropped from the file.

- ``purpose="secrets"``: node credentials and AK secret keys at rest.
- ``purpose="tokens"``: X-Auth-Token tokens (Fernet tokens, as OpenStack Keystone issues them:
  authenticated and encrypted, verifiable by every replica holding the keyring, no shared cache).

The file is only ever replaced whole (written aside, fsynced, renamed), so a crash during a rotation
leaves the old keyring or the new one. A keyring loaded from a file follows it: a running server sees
a rotation made by ``keys rotate`` in another process (checked at most once a second, and at once
when a ciphertext does not decrypt), so secrets re-encrypted under the new key stay readable.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import logging
import os
import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sessionplane.private_files import TEMP_PREFIX, private_dir, private_file, tighten, write_atomically

__all__ = ["InvalidToken", "Keyring"]

log = logging.getLogger(__name__)
_RECHECK_SECONDS = 1.0
_Stamp = tuple[int, int, int]  # inode, size, mtime: a replaced file has a new inode


def _derive(master: bytes, purpose: str) -> Fernet:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"sessionplane:{purpose}".encode())
    return Fernet(base64.urlsafe_b64encode(hkdf.derive(master)))


class Keyring:
    def __init__(self, master_keys: Sequence[bytes], *, source: Path | None = None) -> None:
        if not master_keys:
            raise ValueError("a keyring needs at least one master key")
        self._source = source
        self._stamp = _stamp(source) if source else None
        self._checked = time.monotonic()
        self._use(master_keys)

    def _use(self, master_keys: Sequence[bytes]) -> None:
        self._masters = tuple(master_keys)
        self._by_purpose: dict[str, MultiFernet] = {}

    def fernet(self, purpose: str) -> MultiFernet:
        self._follow_file()
        if purpose not in self._by_purpose:
            self._by_purpose[purpose] = MultiFernet([_derive(m, purpose) for m in self._masters])
        return self._by_purpose[purpose]

    def encrypt(self, plaintext: str) -> str:
        return self.fernet("secrets").encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self.fernet("secrets").decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            if not self._follow_file(now=True):
                raise
            return self.fernet("secrets").decrypt(ciphertext.encode()).decode()

    def reencrypt(self, ciphertext: str) -> str:
        """Re-encrypt under the newest key (after a rotation)."""
        return self.fernet("secrets").rotate(ciphertext.encode()).decode()

    def _follow_file(self, *, now: bool = False) -> bool:
        """Reload the keys when the file was replaced since we read it; True when they changed."""
        if self._source is None or (not now and time.monotonic() - self._checked < _RECHECK_SECONDS):
            return False
        self._checked = time.monotonic()
        try:
            stamp = _stamp(self._source)
            if stamp == self._stamp:
                return False
            keys = _parse(self._source.read_text())
        except (OSError, ValueError) as exc:
            log.error("keyring %s cannot be read again (%s); keeping the keys loaded before", self._source, exc)
            return False
        self._stamp = stamp
        self._use(keys)
        return True

    @staticmethod
    def new_master_key() -> bytes:
        return secrets.token_bytes(32)

    @classmethod
    def from_lines(cls, text: str) -> Keyring:
        return cls(_parse(text))

    @classmethod
    def load_or_create(cls, path: Path) -> Keyring:
        private_dir(path.parent, also_ours={path.name})
        if not path.exists():
            # Linked into place, never replaced: two processes starting at once agree on one key.
            with contextlib.suppress(FileExistsError):
                write_atomically(path, _lines([cls.new_master_key()]), replace=False)
        tighten(path)
        return cls(_parse(path.read_text()), source=path)

    @classmethod
    def rotate_file(cls, path: Path, keep: int = 3) -> Keyring:
        """Prepend a new master key, keeping at most ``keep`` keys; the file is replaced atomically."""
        with _locked(path):
            current = cls.load_or_create(path)._masters
            keys = [cls.new_master_key(), *current][:keep]
            write_atomically(path, _lines(keys))
        return cls(keys, source=path)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise rotations (read, prepend, write): two at once would otherwise drop one's new key."""
    private_dir(path.parent, also_ours={path.name})
    lock = path.parent / f"{TEMP_PREFIX}{path.name}.lock"
    private_file(lock)
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _lines(keys: Sequence[bytes]) -> bytes:
    return "".join(base64.urlsafe_b64encode(k).decode() + "\n" for k in keys).encode()


def _parse(text: str) -> list[bytes]:
    keys = [base64.urlsafe_b64decode(line.strip()) for line in text.splitlines() if line.strip()]
    if not keys or any(len(k) != 32 for k in keys):
        raise ValueError("the keyring file is damaged: expected one base64 32-byte key per line")
    return keys


def _stamp(path: Path) -> _Stamp:
    info = path.stat()
    return info.st_ino, info.st_size, info.st_mtime_ns
