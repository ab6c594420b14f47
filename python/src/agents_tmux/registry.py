"""The per-repository registry: what agents exist, so they outlive the tmux server.

tmux holds the live facts on each pane; this file holds what is needed to
bring an agent back after tmux or the machine restarts (worktree, branch,
base, kind, role, Claude session id). One JSON file per repository under
the XDG state folder. Writers take an exclusive lock, read, change, and
replace the file atomically (temporary file, fsync, rename), so concurrent
spawns lose no entry and a crash never leaves half a file.

Entry ``status``: ``active`` (restore brings it back when its pane is gone)
or ``removed`` (``agents rm`` / ``agents prune`` retired it; kept as history).
Every registry lives in its own folder under ``$XDG_STATE_HOME/agents-tmux/repos/``,
so those folders are also the index of known repositories (:func:`known_repos`).

Standard library only (plus ``paths``, ``errors`` and ``atomic``, which are too):
the Claude hook handler imports it to record a changed session id.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agents_tmux import paths
from agents_tmux.atomic import atomic_write, locked
from agents_tmux.errors import AgentsError

VERSION = 1
Entry = dict[str, Any]


def registry_path(repo_root: Path) -> Path:
    """The registry file of ``repo_root``."""
    return paths.repo_state_dir(repo_root) / "registry.json"


ACTIVE = "active"
REMOVED = "removed"


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
            f"the agent registry {path} is damaged ({exc.msg}: line {exc.lineno}, column {exc.colno}); "
            "it was left as it is: fix it or move it aside"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("agents"), dict):
        raise AgentsError(f"the agent registry {path} is not in the expected shape; it was left as it is: fix it or move it aside")
    for name, entry in data["agents"].items():
        problem = _entry_problem(entry)
        if problem:
            raise AgentsError(
                f"the agent registry {path} is not in the expected shape (entry {name!r}: {problem}); "
                "it was left as it is: fix it or move it aside"
            )
    return data


#: Entry fields that must be text when present (commands build paths and git arguments from them).
TEXT_FIELDS = ("name", "task", "kind", "role", "branch", "base", "base_commit", "worktree", "session_id",
               "transcript", "system_prompt", "status", "socket", "pr_url")


def _entry_problem(entry: object) -> str:
    """What is wrong with one agent entry ("" when nothing)."""
    if not isinstance(entry, dict):
        return "not a table"
    for key in TEXT_FIELDS:
        if key in entry and not isinstance(entry[key], str):
            return f"{key} is not a string"
    return ""


def load(repo_root: Path) -> dict[str, Entry]:
    """Every recorded agent of ``repo_root`` by name (removed ones included)."""
    path = registry_path(repo_root)
    return dict(_read(path, repo_root)["agents"])


def change(repo_root: Path, edit: Callable[[dict[str, Entry]], None]) -> dict[str, Entry]:
    """Apply ``edit`` to the agents table under the lock and save it atomically."""
    path = registry_path(repo_root)
    with locked(path.with_suffix(".lock")):
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


def known_repos() -> list[Path]:
    """Every repository that has a registry, in a stable order.

    A registry that cannot be read is skipped here; loading it later gives
    the clear message.
    """
    roots: list[Path] = []
    for path in sorted((paths.state_dir() / "repos").glob("*/registry.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            repo = data.get("repo") if isinstance(data, dict) else None
        except (OSError, ValueError):
            repo = None
        if isinstance(repo, str) and repo:
            roots.append(Path(repo))
    return roots


def remember_session(repo_root: Path, name: str, session_id: str, transcript: str = "") -> bool:
    """Record a new Claude session id (and transcript) of an active agent; True if it changed."""
    changed = []

    def edit(agents: dict[str, Entry]) -> None:
        entry = agents.get(name)
        if not isinstance(entry, dict) or entry.get("status", ACTIVE) != ACTIVE:
            return
        new = {"session_id": session_id, **({"transcript": transcript} if transcript else {})}
        if any(entry.get(key) != value for key, value in new.items()):
            entry.update(new)
            changed.append(True)

    current = load(repo_root).get(name)
    if not isinstance(current, dict) or (current.get("session_id") == session_id and (not transcript or current.get("transcript") == transcript)):
        return False
    change(repo_root, edit)
    return bool(changed)
