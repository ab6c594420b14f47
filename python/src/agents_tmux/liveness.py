"""Could an agent on record still be running? Asked before anything of it is removed.

spawn records an agent (status ``starting``) before it makes the worktree,
with the spawning process (``spawner_pid`` plus its start time, so a reused
pid is not mistaken for it) and the tmux server (``socket``). A ``starting``
record then means one of three things:

- the spawn is still at work (its process is alive): leave it alone;
- the spawn died after the pane opened: the agent runs (a pane carries its
  name, or a pane's folder is inside its worktree): leave it alone, list it;
- the spawn died before any pane: only then is it provably dead, and
  ``agents prune`` may take back what it made (never a commit held nowhere else).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from agents_tmux.registry import Entry


def process_start(pid: int) -> str:
    """The start time of process ``pid`` (clock ticks since boot, from /proc); '' when unknown or gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return ""
    # The command name (field 2) may hold spaces and ')': split after its last ')'.
    fields = text.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else ""


def this_spawner() -> dict[str, object]:
    """The fields a ``starting`` record carries to name the process making it."""
    pid = os.getpid()
    return {"spawner_pid": pid, "spawner_started": process_start(pid)}


def spawner_alive(entry: Entry) -> bool:
    """True when the process that recorded ``entry`` still runs (same pid, same start time)."""
    pid = entry.get("spawner_pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    started = entry.get("spawner_started")
    now = process_start(pid)
    # Without /proc (not Linux) a live pid is taken at its word.
    return not (isinstance(started, str) and started and now and now != started)


@dataclass(frozen=True)
class Verdict:
    """Whether a record may be live, and why, in words for ``list`` and ``prune``."""

    live: bool
    why: str


def _panes(socket: str) -> list[tuple[str, str, str]]:
    """``(agent name, agent repo, current folder)`` of every pane of the server at ``socket``."""
    args = ["tmux", "-S", socket] if socket else ["tmux"]
    try:
        proc = subprocess.run(
            [*args, "list-panes", "-a", "-F", "#{@agent_name}\x1f#{@agent_repo}\x1f#{pane_current_path}"],
            capture_output=True, text=True, timeout=5, check=False, stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    if proc.returncode != 0:
        return []
    rows = []
    for line in proc.stdout.splitlines():
        parts = line.split("\x1f")
        if len(parts) == 3:
            rows.append((parts[0], parts[1], parts[2]))
    return rows


def _inside(folder: str, worktree: str) -> bool:
    if not folder or not worktree:
        return False
    return folder == worktree or folder.startswith(worktree.rstrip("/") + "/")


def check(entry: Entry, repo: Path, sockets: tuple[str, ...] = ()) -> Verdict:
    """Whether the agent of ``entry`` may be running: its spawn is alive, or a pane of it exists.

    The panes are looked for in the server the record names and in
    ``sockets`` (the server the caller talks to).
    """
    name = str(entry.get("name") or "")
    if spawner_alive(entry):
        return Verdict(True, f"its spawn (pid {entry.get('spawner_pid')}) is still at work")
    worktree = str(entry.get("worktree") or "")
    own_worktree = bool(worktree) and Path(worktree) != repo
    recorded = entry.get("socket")
    servers = [s for s in (*sockets, recorded if isinstance(recorded, str) else "") if s]
    for socket in dict.fromkeys(servers):
        if not os.path.exists(socket):
            continue
        for agent, agent_repo, folder in _panes(socket):
            if agent == name and agent_repo == str(repo):
                return Verdict(True, f"its pane runs in the tmux server {socket}")
            if own_worktree and _inside(folder, worktree):
                return Verdict(True, f"a pane of the tmux server {socket} works in its worktree")
    return Verdict(False, f"its spawn (pid {entry.get('spawner_pid') or '?'}) stopped part-way and no pane of it runs")
