"""Files that matter, written so that a reader sees the old or the new content, never half.

Standard library only: the hook handler imports it (through the registry)
when Claude starts a new session.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _new_temporary(path: Path) -> tuple[int, str]:
    """A new file beside ``path`` (mode 600, never an existing one): its descriptor and name.

    What ``tempfile.mkstemp`` does, without importing tempfile (and shutil
    and random with it) in the hook handler and on every spawn.
    """
    for _ in range(100):
        tmp = os.path.join(path.parent, f".{path.name}.{os.urandom(6).hex()}")
        try:
            return os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path``: a temporary file beside it, fsync, rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _new_temporary(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        # The rename itself survives a crash only once the folder is synced.
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def write_if_changed(path: Path, text: str) -> Path:
    """Write ``text`` atomically unless ``path`` already holds exactly that; return ``path``.

    For generated files read by other programs (Claude's settings, tmux
    configs): rewriting an unchanged file would only race with its readers.
    """
    try:
        if path.read_text(encoding="utf-8") == text:
            return path
    except OSError:
        pass
    atomic_write(path, text)
    return path


class LockBusy(Exception):
    """Another process held a lock for longer than the caller could wait."""


def flock_within(fd: int, seconds: float, pause: float = 0.02) -> bool:
    """Take an exclusive ``flock`` on ``fd``, trying every ``pause`` seconds for ``seconds``.

    False when another process still holds it then (one try is always made).
    """
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)


@contextmanager
def locked(lock_path: Path, timeout: float | None = None) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created if missing) for the block.

    With ``timeout`` (seconds), give up with :class:`LockBusy` when the
    lock is still held by another process after that long.
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as lock:
        if timeout is None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        elif not flock_within(lock.fileno(), timeout):
            raise LockBusy(f"{lock_path} is held by another process")
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
