"""Password hashing with Argon2id (argon2-cffi); verification is constant-time inside the library.

``Passwords`` runs it off the event loop: an Argon2 hash takes tens of milliseconds of CPU, and
unauthenticated clients choose how many to ask for. At most ``concurrency`` run at once, in their
own threads (argon2-cffi releases the GIL while hashing); the rest wait their turn without
holding the loop.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified when a user is unknown, so that "no such user" and "wrong password" take the same time.
    Made on first use, not at import: every CLI command imports this module."""
    return _hasher.hash("sessionplane-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class Passwords:
    def __init__(self, *, concurrency: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sessionplane-argon2")

    async def verify(self, password_hash: str | None, password: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(self._pool, verify_password, password_hash, password)

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self._pool, hash_password, password)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
