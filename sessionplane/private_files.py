"""Where secrets live on disk: private directories (0700), private files (0600), atomic rewrites.

The data directory holds the SQLite store and the keyring. Both are created private whatever the
umask. A directory that already exists with looser modes is tightened when it holds nothing but
sessionplane's own files (a data directory made by an older sessionplane: upgrading fixes it), and
refused otherwise: a directory shared with other files (``/etc``, ``/tmp``, a home directory) is
not ours to chmod, and the operator must choose (``chmod 700`` it, or pick a directory of its own).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from collections.abc import Collection
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
TEMP_PREFIX = ".sessionplane-"  # temporary and lock files we leave in a private directory
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")
KNOWN_NAMES = frozenset({"keyring", *(f"sessionplane.db{s}" for s in SQLITE_SUFFIXES)})


class UnsafePath(ValueError):
    """A directory or file meant for secrets is open to others and cannot (safely) be made private."""


def private_dir(path: Path, *, also_ours: Collection[str] = ()) -> None:
    """Create ``path`` (0700), or make an existing one private (see the module docstring)."""
    if not path.exists():
        path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        path.chmod(PRIVATE_DIR)  # mkdir's mode is filtered by the umask; say exactly what we mean
        return
    info = path.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafePath(f"{path} is not a directory")
    if not info.st_mode & 0o077:
        return
    mode = oct(stat.S_IMODE(info.st_mode))[2:]
    if info.st_uid != os.geteuid():
        raise UnsafePath(
            f"{path} (mode {mode}) is readable by others and belongs to another user; "
            f"sessionplane keeps secrets there: make it private (chmod 700 {path}) or choose another directory"
        )
    strangers = sorted(name for name in os.listdir(path) if not _ours(name, also_ours))
    if strangers:
        raise UnsafePath(
            f"{path} (mode {mode}) is readable by others and holds files that are not sessionplane's "
            f"({', '.join(strangers[:3])}{', ...' if len(strangers) > 3 else ''}); sessionplane keeps secrets "
            f"there: make it private (chmod 700 {path}) or choose a directory of its own"
        )
    _chmod(path, PRIVATE_DIR, was=mode)


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it is missing, or take group and other access away from it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        tighten(path)
    else:
        os.fchmod(fd, PRIVATE_FILE)  # exactly 0600, whatever the umask took away
        os.close(fd)


def tighten(path: Path) -> None:
    """Take group and other access away from an existing file (a missing one is left missing)."""
    with contextlib.suppress(FileNotFoundError):
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            _chmod(path, mode & PRIVATE_FILE, was=oct(mode)[2:])


def write_atomically(path: Path, data: bytes, *, replace: bool = True) -> None:
    """Write ``path`` (0600) so that a crash leaves either the old content or the new one, never a mix.

    A temporary file in the same directory is written and fsynced, then renamed over ``path`` (or, with
    ``replace=False``, linked to it: ``FileExistsError`` if someone else created it first), then the
    directory is fsynced so that the rename itself is durable.
    """
    fd, temporary = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    _fsync_dir(path.parent)


def _chmod(path: Path, mode: int, *, was: str) -> None:
    try:
        path.chmod(mode)
    except OSError as exc:  # e.g. a secret mounted read-only with a loose mode
        raise UnsafePath(
            f"{path} (mode {was}) is readable by others and cannot be made private ({exc.strerror}): "
            f"give it mode {oct(mode)[2:]}"
        ) from None
    log.warning("made %s private (mode %s -> %s)", path, was, oct(mode)[2:])


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _ours(name: str, also_ours: Collection[str]) -> bool:
    return name in KNOWN_NAMES or name in also_ours or name.startswith(TEMP_PREFIX)
