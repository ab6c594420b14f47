"""One TCP port per live agent, so agents' dev servers never collide.

Ports are handed out from the configured range (``defaults.ports``, e.g.
``"41000-41999"``) and recorded in one table for the whole machine
(``$XDG_STATE_HOME/agents-tmux/ports.json``): agents of two repositories
run on the same host, so they must not share a port either. Taking and
freeing a port happen under the table's lock; a port whose agent is no
longer active in its registry (removed, parked, the registry gone) is
taken back, but only once its claim is older than :data:`GRACE` seconds,
so an agent being spawned right now (not on record yet) keeps it.
A port something else on the machine listens on is skipped.

Standard library only.
"""

from __future__ import annotations

import _socket  # socket's own C module: socket.py's import costs ~5 ms on each spawn
import json
import re
import time
from pathlib import Path
from typing import Any

from agents_tmux import paths, registry
from agents_tmux.atomic import atomic_write, locked
from agents_tmux.errors import AgentsError

#: Seconds a fresh claim is kept even though its agent is not on record yet.
GRACE = 300


def parse_range(text: str) -> tuple[int, int] | None:
    """``"41000-41999"`` as ``(41000, 41999)``; None for "" (ports are off); ValueError when malformed.

    >>> parse_range("41000-41999"), parse_range(""), parse_range(" 8000 - 8009 ")
    ((41000, 41999), None, (8000, 8009))
    """
    if not text.strip():
        return None
    match = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", text)
    if not match:
        raise ValueError(f'expected a range like "41000-41999" (or "" for no ports), got {text!r}')
    low, high = int(match.group(1)), int(match.group(2))
    if not 1024 <= low <= high <= 65535:
        raise ValueError(f"expected 1024 <= first <= last <= 65535, got {text!r}")
    return low, high


def table_path() -> Path:
    return paths.state_dir() / "ports.json"


def _read() -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(table_path().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}  # a damaged table only costs reuse checks: it is rewritten whole
    if not isinstance(data, dict):
        return {}
    return {port: claim for port, claim in data.items() if isinstance(claim, dict) and port.isdigit()}


def _write(table: dict[str, dict[str, Any]]) -> None:
    atomic_write(table_path(), json.dumps(table, indent=2, sort_keys=True) + "\n")


def _still_claimed(claim: dict[str, Any], now: float) -> bool:
    """True while the agent holding the claim is active in its registry (or was claimed just now)."""
    if now - float(claim.get("since") or 0) < GRACE:
        return True
    repo, name = claim.get("repo"), claim.get("name")
    if not isinstance(repo, str) or not isinstance(name, str):
        return False
    try:
        entry = registry.load(Path(repo)).get(name)
    except AgentsError:
        return True  # cannot tell: keep it rather than hand one port to two agents
    return isinstance(entry, dict) and entry.get("status", registry.ACTIVE) == registry.ACTIVE


def _free_on_host(port: int) -> bool:
    """True when nothing listens on ``port`` here (binding it for a moment works)."""
    probe = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    try:
        probe.bind(("127.0.0.1", port))
    except OSError:
        return False
    finally:
        probe.close()
    return True


def acquire(repo: Path, name: str, span: tuple[int, int], preferred: int = 0) -> int:
    """The port of agent ``name`` of ``repo``: the one it holds, else ``preferred`` if free, else the lowest free one."""
    low, high = span
    with locked(table_path().with_suffix(".lock")):
        table = _read()
        now = time.time()
        for port, claim in table.items():
            if claim.get("repo") == str(repo) and claim.get("name") == name and low <= int(port) <= high:
                return int(port)
        taken = {int(port) for port, claim in table.items() if _still_claimed(claim, now)}
        table = {port: claim for port, claim in table.items() if int(port) in taken}
        candidates = ([preferred] if low <= preferred <= high else []) + list(range(low, high + 1))
        for port in candidates:
            if port not in taken and _free_on_host(port):
                table[str(port)] = {"repo": str(repo), "name": name, "since": now}
                _write(table)
                return port
    raise AgentsError(f"every port from {low} to {high} is taken by a live agent or another program: widen defaults.ports")


def release(repo: Path, name: str) -> None:
    """Give back the port of agent ``name`` of ``repo`` (nothing when it holds none)."""
    path = table_path()
    if not path.exists():
        return
    with locked(path.with_suffix(".lock")):
        table = _read()
        kept = {port: claim for port, claim in table.items()
                if not (claim.get("repo") == str(repo) and claim.get("name") == name)}
        if kept != table:
            _write(kept)


def held(repo: Path, name: str) -> int:
    """The port agent ``name`` of ``repo`` holds (0 when none)."""
    for port, claim in _read().items():
        if claim.get("repo") == str(repo) and claim.get("name") == name:
            return int(port)
    return 0


def for_agent(ports_setting: str, repo: Path, name: str, preferred: int = 0) -> int:
    """The port of a live agent under the ``defaults.ports`` setting (0 when ports are off)."""
    try:
        span = parse_range(ports_setting)
    except ValueError:
        span = None  # the config loader has reported it already
    return acquire(repo, name, span, preferred) if span else 0
