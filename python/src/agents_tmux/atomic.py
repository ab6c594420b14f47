"""Files that matter, written so that a reader sees the old or the new content, never half.

Standard library only: the hook handler imports it (through the registry)
when Claude starts a new session.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path``: a temporary file beside it, fsync, rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
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


@contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created if missing) for the block."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
