"""The per-repository registry: what agents exist, so they outlive the tmux server.

tmux holds the live facts on each pane; this file holds what is needed to
bring an agent back after tmux or the machine restarts (worktree, branch,
base, kind, role, Claude session id). One JSON file per repository under
the XDG state folder. Writers take an exclusive lock, read, change, and
replace the file atomically (temporary file, fsync, rename), so concurrent
spawns lose no entry and a crash never leaves half a file.
"""

from __future__ import annotations

import fcntl
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agents_tmux import paths
from agents_tmux.errors import AgentsError
from agents_tmux.launch import atomic_write

VERSION = 1
Entry = dict[str, Any]


def registry_path(repo_root: Path) -> Path:
    """The registry file of ``repo_root``."""
    return paths.repo_state_dir(repo_root) / "registry.json"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read(path: Path, repo_root: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {"version": VERSION, "repo": str(repo_root), "agents": {}}
    except OSError as exc:
        raise AgentsError(f"cannot read the agent registry {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise AgentsError(
            f"the agent registry {path} is damaged ({exc.msg} at line {exc.lineno}); "
            "it was left as it is: fix it or move it aside"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("agents"), dict):
        raise AgentsError(f"the agent registry {path} is not in the expected shape; it was left as it is: fix it or move it aside")
    return data


def load(repo_root: Path) -> dict[str, Entry]:
    """Every recorded agent of ``repo_root`` by name (removed ones included)."""
    path = registry_path(repo_root)
    return dict(_read(path, repo_root)["agents"])


def change(repo_root: Path, edit: Callable[[dict[str, Entry]], None]) -> dict[str, Entry]:
    """Apply ``edit`` to the agents table under the lock and save it atomically."""
    path = registry_path(repo_root)
    with _locked(path):
        data = _read(path, repo_root)
        edit(data["agents"])
        data["version"] = VERSION
        data["repo"] = str(repo_root)
        atomic_write(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
        return dict(data["agents"])


def record(repo_root: Path, entry: Entry) -> None:
    """Add or replace the entry named ``entry["name"]``."""
    stamped = {"created": int(time.time()), **entry}

    def edit(agents: dict[str, Entry]) -> None:
        agents[stamped["name"]] = stamped

    change(repo_root, edit)


def update(repo_root: Path, name: str, **fields: Any) -> None:
    """Set ``fields`` on an existing entry; unknown names are ignored."""

    def edit(agents: dict[str, Entry]) -> None:
        if name in agents:
            agents[name].update(fields)

    change(repo_root, edit)
