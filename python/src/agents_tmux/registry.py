"""The per-repository registry: what agents exist, so they outlive the tmux server.

tmux holds the live facts on each pane; this file holds what is needed to
bring an agent back after tmux or the machine restarts (worktree, branch,
base, kind, role, Claude session id). One JSON file per repository under
the XDG state folder. Writers take an exclusive lock, read, change, and
replace the file atomically (temporary file, fsync, rename), so concurrent
spawns lose no entry and a crash never leaves half a file.

Entry ``status``: ``starting`` (spawn recorded it before making its worktree
and pane; ``spawner_pid`` says which process, see ``liveness``), ``active``
(restore brings it back when its pane is gone) or ``removed`` (``agents rm`` /
``agents prune`` retired it; kept as history).
Every registry lives in its own folder under ``$XDG_STATE_HOME/agents-tmux/repos/``,
so those folders are also the index of known repositories (:func:`known_repos`).

Standard library only (plus ``paths``, ``errors`` and ``atomic``, which are too):
the Claude hook handler imports it to record a changed session id.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agents_tmux import paths
from agents_tmux.atomic import LockBusy, atomic_write, locked
from agents_tmux.errors import AgentsError

VERSION = 1
Entry = dict[str, Any]


def registry_path(repo_root: Path) -> Path:
    """The registry file of ``repo_root``."""
    return paths.repo_state_dir(repo_root) / "registry.json"


STARTING = "starting"
ACTIVE = "active"
REMOVED = "removed"


def _read(path: Path, repo_root: Path, check_entries: bool = True) -> dict[str, Any]:
    """The registry file's content; with ``check_entries``, a clear error when any entry is out of shape."""
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
    for name, entry in data["agents"].items() if check_entries else ():
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


#: Entry fields that must be numbers when present (times; restore sorts by ``created``).
NUMBER_FIELDS = ("created", "restored", "restarted", "session_at")


def _entry_problem(entry: object) -> str:
    """What is wrong with one agent entry ("" when nothing)."""
    if not isinstance(entry, dict):
        return "not a table"
    for key in TEXT_FIELDS:
        if key in entry and not isinstance(entry[key], str):
            return f"{key} is not a string"
    for key in NUMBER_FIELDS:
        if key in entry and (not isinstance(entry[key], (int, float)) or isinstance(entry[key], bool)):
            return f"{key} is not a number"
    return ""


def load_each(repo_root: Path) -> tuple[dict[str, Entry], dict[str, str]]:
    """The entries of ``repo_root`` that are in shape, and what is wrong with each one that is not.

    For commands that act on each agent on its own (``restore``): one bad
    entry is reported and skipped, the others still count. A file that
    cannot be read at all is still a clear error.
    """
    data = _read(registry_path(repo_root), repo_root, check_entries=False)
    good: dict[str, Entry] = {}
    bad: dict[str, str] = {}
    for name, entry in data["agents"].items():
        problem = _entry_problem(entry)
        if problem:
            bad[name] = problem
        else:
            good[name] = entry
    for _, note in _pending_notes(repo_root):
        _apply_note(good, note)
    return good, bad


def load(repo_root: Path) -> dict[str, Entry]:
    """Every recorded agent of ``repo_root`` by name (removed ones included)."""
    path = registry_path(repo_root)
    agents = dict(_read(path, repo_root)["agents"])
    for _, note in _pending_notes(repo_root):
        _apply_note(agents, note)
    return agents


def change(repo_root: Path, edit: Callable[[dict[str, Entry]], None], timeout: float | None = None) -> dict[str, Entry]:
    """Apply ``edit`` to the agents table under the lock and save it atomically.

    Session ids the hook handler could not write at once (see
    :func:`remember_session`) are folded in first. With ``timeout``, give up
    with :class:`~agents_tmux.atomic.LockBusy` when another process holds the
    lock longer than that.
    """
    path = registry_path(repo_root)
    try:
        with locked(path.with_suffix(".lock"), timeout):
            # Entries out of shape are kept as they are (restore reports them); edits skip them.
            data = _read(path, repo_root, check_entries=False)
            notes = _pending_notes(repo_root)
            for _, note in notes:
                _apply_note(data["agents"], note)
            edit(data["agents"])
            data["version"] = VERSION
            data["repo"] = str(repo_root)
            atomic_write(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
            for note_path, _ in notes:
                try:
                    note_path.unlink()
                except OSError:
                    pass
            return dict(data["agents"])
    except OSError as exc:
        raise AgentsError(
            f"cannot write the agent registry in {path.parent} ({exc.strerror or exc}): make that folder writable "
            "(or point XDG_STATE_HOME at one that is)"
        ) from None


def record(repo_root: Path, entry: Entry) -> None:
    """Add or replace the entry named ``entry["name"]``."""
    stamped = {"created": int(time.time()), **entry}

    def edit(agents: dict[str, Entry]) -> None:
        agents[stamped["name"]] = stamped

    change(repo_root, edit)


def update(repo_root: Path, name: str, **fields: Any) -> None:
    """Set ``fields`` on an existing entry; unknown names are ignored."""

    def edit(agents: dict[str, Entry]) -> None:
        if isinstance(agents.get(name), dict):
            agents[name].update(fields)

    change(repo_root, edit)


def forget(repo_root: Path, name: str) -> None:
    """Drop the entry ``name`` altogether (a spawn that failed takes back its ``starting`` record)."""

    def edit(agents: dict[str, Entry]) -> None:
        agents.pop(name, None)

    change(repo_root, edit)


def known_repos() -> list[Path]:
    """Every repository that has a registry, in a stable order.

    A registry that cannot be read is skipped here (:func:`unreadable` lists
    those); loading it later gives the clear message.
    """
    return [repo for _, repo, _ in _scan() if repo is not None]


def unreadable() -> list[tuple[Path, str]]:
    """Registry files whose repository cannot be told (damaged, unreadable), and why."""
    return [(path, problem) for path, repo, problem in _scan() if repo is None]


def _scan() -> list[tuple[Path, Path | None, str]]:
    """(file, its repository or None, what is wrong) for every registry file."""
    found: list[tuple[Path, Path | None, str]] = []
    for path in sorted((paths.state_dir() / "repos").glob("*/registry.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            found.append((path, None, f"cannot be read ({exc.strerror or exc})"))
            continue
        except ValueError as exc:
            found.append((path, None, f"is damaged ({exc})"))
            continue
        repo = data.get("repo") if isinstance(data, dict) else None
        if isinstance(repo, str) and repo:
            found.append((path, Path(repo), ""))
        else:
            found.append((path, None, "does not say which repository it belongs to"))
    return found


def remember_session(repo_root: Path, name: str, session_id: str, transcript: str = "", wait: float | None = None) -> bool:
    """Record a new session id (and transcript) of an active agent; True if it changed.

    ``wait``: the longest the caller may wait for the registry's lock (the
    hook handler must answer at once, whatever holds it). When that is not
    enough, the id goes into a note beside the registry instead: :func:`load`
    reads it at once and the next writer folds it in, so it is never lost.
    A replaced transcript is kept in the entry's ``transcripts`` list.
    """
    changed = []
    at = time.time()

    def edit(agents: dict[str, Entry]) -> None:
        changed.append(_apply_note(agents, {"name": name, "session_id": session_id, "transcript": transcript, "at": at}))

    current = load(repo_root).get(name)
    if not isinstance(current, dict) or (current.get("session_id") == session_id and (not transcript or current.get("transcript") == transcript)):
        return False
    try:
        change(repo_root, edit, timeout=wait)
    except LockBusy:
        note = {"name": name, "session_id": session_id, "transcript": transcript, "at": at}
        atomic_write(_pending_dir(repo_root) / f"{time.time_ns():020d}-{os.getpid()}.json", json.dumps(note) + "\n")
        return True
    return any(changed)


#: The folder (beside the registry) of session ids waiting to be folded in.
PENDING_DIR = "pending-sessions"


def _pending_dir(repo_root: Path) -> Path:
    return paths.repo_state_dir(repo_root) / PENDING_DIR


def _pending_notes(repo_root: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The session notes not yet folded into the registry, oldest first."""
    folder = _pending_dir(repo_root)
    try:
        names = sorted(name for name in os.listdir(folder) if name.endswith(".json") and not name.startswith("."))
    except OSError:
        return []
    notes = []
    for name in names:
        try:
            note = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if (isinstance(note, dict) and all(isinstance(note.get(key), str) for key in ("name", "session_id", "transcript"))
                and isinstance(note.get("at"), (int, float))):
            notes.append((folder / name, note))
    return notes


def _apply_note(agents: dict[str, Entry], note: dict[str, Any]) -> bool:
    """Set a noted session id on its agent, unless the entry changed since; True if it changed."""
    entry = agents.get(note["name"])
    if not isinstance(entry, dict) or entry.get("status", ACTIVE) not in (ACTIVE, STARTING):
        return False
    # A note older than the session the entry already records (a later event won the lock) is stale.
    newest = entry.get("session_at")
    if isinstance(newest, (int, float)) and note["at"] < newest:
        return False
    new = {"session_id": note["session_id"], **({"transcript": note["transcript"]} if note["transcript"] else {})}
    if all(entry.get(key) == value for key, value in new.items()):
        return False
    old = entry.get("transcript")
    if note["transcript"] and isinstance(old, str) and old and old != note["transcript"]:
        # A new conversation (/clear, a resume that forked): the old one stays on
        # record, so `agents usage` still counts what it spent.
        earlier = entry.get("transcripts") if isinstance(entry.get("transcripts"), list) else []
        entry["transcripts"] = [*earlier, old]
    entry.update(new, session_at=note["at"])
    return True
