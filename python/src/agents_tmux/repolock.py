"""The repository lock: every command that decides from a repository's agents and then changes them holds it.

spawn (the cap, the name, the worktree, the record), team, rm, merge,
prune, restore and restart take it around *both* their decision and their
action, so no other command can change what they looked at in between.

- **Bounded.** Waiting for it ends after ``@agents-lock-timeout`` seconds
  (config ``defaults.lock_timeout``, default 30) with one clear line.
- **Says who.** The holder writes its pid, command and start time into the
  lock file; a command that has waited about a second says so in one line
  (stderr, or the status line when it runs from a key).
- **Re-entrant.** A command that calls another (team -> spawn) takes it
  once; the inner ``with`` is free.
- **One order.** The registry's own lock (``registry.lock``) is only ever
  taken *inside* this one, never the other way round, so the two never
  deadlock.

Standard library only until it has to wait (then it reads the timeout
from the config and tmux).
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from agents_tmux import paths
from agents_tmux.errors import AgentsError

#: Seconds to wait for the lock when nothing else says (``@agents-lock-timeout``).
DEFAULT_TIMEOUT = 30.0
#: After this long waiting, say who holds the lock.
SAY_AFTER = 1.0
_POLL = 0.05


@dataclass
class Caller:
    """Who is asking, so the holder can be named and a waiter can be told (set once by ``cli.main``)."""

    command: str = ""
    #: tmux ``-L`` name / ``-S`` path of the server, to read @agents-lock-timeout and to show messages.
    socket_name: str | None = None
    socket_path: str | None = None
    from_key: bool = False
    client: str | None = None


_caller = Caller()
#: Lock file -> (open file, depth): this process's held locks, for re-entrancy.
_held: dict[Path, tuple[IO[str], int]] = {}


def set_caller(caller: Caller) -> None:
    """Remember who runs (``cli.main`` calls this before the command)."""
    global _caller
    _caller = caller


def lock_path(repo_root: Path) -> Path:
    """The lock file of ``repo_root`` (in its state folder)."""
    return paths.repo_state_dir(repo_root) / "repo.lock"


def held(repo_root: Path) -> bool:
    """True when this process holds the lock of ``repo_root``."""
    return lock_path(repo_root) in _held


@contextmanager
def repo_lock(repo_root: Path, timeout: float | None = None, say: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the repository lock of ``repo_root`` for the block (re-entrant within this process).

    ``timeout`` overrides the configured bound; ``say`` the way a waiting
    command tells its user (default: stderr, or the status line from a key).
    """
    path = lock_path(repo_root)
    if path in _held:
        handle, depth = _held[path]
        _held[path] = (handle, depth + 1)
        try:
            yield
        finally:
            handle, depth = _held[path]
            _held[path] = (handle, depth - 1)
        return
    handle = _open(path)
    try:
        _acquire(handle, repo_root, timeout, say)
        _write_holder(handle)
        _held[path] = (handle, 1)
        try:
            yield
        finally:
            del _held[path]
            try:
                handle.seek(0)
                handle.truncate()
                handle.flush()
            except OSError:
                pass
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()


def _open(path: Path) -> IO[str]:
    """The lock file, opened for writing; a state folder that cannot be written is one clear line."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "a+", encoding="utf-8")
    except OSError as exc:
        raise AgentsError(
            f"cannot write the state folder {path.parent} ({exc.strerror or exc}): make it writable "
            f"(or point XDG_STATE_HOME at a folder that is); nothing was changed"
        ) from None


def _acquire(handle: IO[str], repo_root: Path, timeout: float | None, say: Callable[[str], None] | None) -> None:
    """Take the lock, waiting at most the bound; say once who holds it when the wait is noticeable."""
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    bound = configured_timeout(repo_root) if timeout is None else timeout
    start = time.monotonic()
    told = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        waited = time.monotonic() - start
        if waited >= bound:
            raise AgentsError(
                f"gave up after {bound:g} s waiting for another agents command in {repo_root} "
                f"({holder_text(handle)}); nothing was changed. If it is stuck, stop it; "
                "the wait is @agents-lock-timeout (config defaults.lock_timeout)"
            )
        if not told and waited >= SAY_AFTER:
            told = True
            (say or _tell)(f"waiting for another agents command in {repo_root}: {holder_text(handle)}")
        time.sleep(_POLL)


def _write_holder(handle: IO[str]) -> None:
    """Put this process's pid, command and start time into the lock file, for waiters to show."""
    info = {"pid": os.getpid(), "command": _caller.command or "agents", "since": time.time()}
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(info) + "\n")
        handle.flush()
    except OSError:
        pass


def holder(handle_or_path: IO[str] | Path) -> dict[str, Any]:
    """What the holder wrote (pid, command, since); {} when nothing readable is there."""
    try:
        if isinstance(handle_or_path, Path):
            text = handle_or_path.read_text(encoding="utf-8")
        else:
            handle_or_path.seek(0)
            text = handle_or_path.read()
        data = json.loads(text.strip().splitlines()[0]) if text.strip() else {}
    except (OSError, ValueError, IndexError):
        return {}
    return data if isinstance(data, dict) else {}


def holder_text(handle_or_path: IO[str] | Path) -> str:
    """``held by pid 123 (agents spawn, since 04:31:02)``, or a vaguer line when the holder said nothing yet."""
    info = holder(handle_or_path)
    pid = info.get("pid")
    if not isinstance(pid, int):
        return "held by another process"
    since = info.get("since")
    when = time.strftime("%H:%M:%S", time.localtime(since)) if isinstance(since, (int, float)) else "?"
    return f"held by pid {pid} ({info.get('command') or 'agents'}, since {when})"


def configured_timeout(repo_root: Path) -> float:
    """``@agents-lock-timeout``, else the config's ``defaults.lock_timeout``, else 30 s."""
    tmux_value = _tmux_option("@agents-lock-timeout")
    for candidate in (tmux_value, _config_value(repo_root)):
        try:
            value = float(candidate) if candidate not in (None, "") else None
        except (TypeError, ValueError):
            value = None
        if value is not None and value >= 0:
            return value
    return DEFAULT_TIMEOUT


def _tmux_option(name: str) -> str:
    import subprocess

    socket = ["-S", _caller.socket_path] if _caller.socket_path else (["-L", _caller.socket_name] if _caller.socket_name else [])
    if not socket and not os.environ.get("TMUX"):
        return ""
    try:
        proc = subprocess.run(["tmux", *socket, "show-options", "-gqv", name], capture_output=True, text=True,
                              timeout=3, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _config_value(repo_root: Path) -> object:
    try:
        from agents_tmux import config as config_mod

        return config_mod.load(repo_root).lock_timeout
    except (AgentsError, AttributeError):
        return None


def _tell(message: str) -> None:
    """One line to the user: the status line from a key, else stderr."""
    line = f"agents: {message}"
    if _caller.from_key:
        from agents_tmux.tmuxcmd import Socket, display_message

        try:
            display_message(Socket(name=_caller.socket_name, path=_caller.socket_path), line, _caller.client)
            return
        except Exception:  # noqa: BLE001 - telling must never break the command
            pass
    print(line, file=sys.stderr, flush=True)
