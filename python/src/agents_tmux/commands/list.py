"""List every agent in this tmux server: name, state, branch, pane, tokens, estimated cost, context use.

With --json, one JSON array of objects (every pane fact, for scripts).
With --all, parked agents (`agents park`) too: they have no pane, and are
listed from the registry even when no tmux server runs.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from agents_tmux.cli import hint, socket_of
from agents_tmux.columns import display_width, pad

if TYPE_CHECKING:
    import libtmux

    from agents_tmux.panes import Agent

HELP = "list the agents of this tmux server"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--all", "-a", action="store_true", help="also the parked agents of every known repository")


def format_duration(seconds: int) -> str:
    """``42s``, ``5m``, ``3h``, ``2d``: how long, at a glance.

    >>> format_duration(42), format_duration(300), format_duration(7200)
    ('42s', '5m', '2h')
    """
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def usage_cells(agent: Agent) -> tuple[str, str, str]:
    """Tokens, estimated cost and context use of an agent, "-" before its first turn.

    >>> from agents_tmux.panes import Agent
    >>> usage_cells(Agent(*[""] * 17, tokens="32500", cost="0.4213", context_pct="16"))
    ('32.5k', '$0.42', '16%')
    """
    from agents_tmux.usage import human_cost, human_tokens

    tokens = human_tokens(int(agent.tokens)) if agent.tokens.isdigit() else "-"
    try:
        cost = human_cost(float(agent.cost)) if agent.cost else "-"
    except ValueError:
        cost = "-"
    return tokens, cost, f"{agent.context_pct}%" if agent.context_pct.isdigit() else "-"


def run(args: argparse.Namespace) -> int:
    from agents_tmux import panes
    from agents_tmux.errors import AgentsError

    server: libtmux.Server | None
    try:
        server = panes.connect(socket_of(args))
    except AgentsError:
        if not args.all:
            raise
        # The parked agents live in the registry: they are listed with no tmux server at all.
        server = None
    agents = panes.list_agents(server) if server is not None else []
    if args.all:
        from agents_tmux.parking import parked_agents

        agents += parked_agents()
    starting = _starting_records(server, agents)
    if args.json:
        facts = [json_facts(agent.as_dict()) for agent in agents]
        # Spawns on record with no pane here (yet): scripts see every agent, as the table does.
        facts += [{**json_facts(agent.as_dict()), "live": live, "why": why} for agent, live, why in starting]
        print(json.dumps(facts, indent=2))
        return 0
    unfinished = [
        f"{agent.name}: {'still starting' if live else 'not running'}: on record as starting, {why} "
        f"(worktree {agent.worktree}; see {hint('prune')})"
        for agent, live, why in starting
    ]
    if not agents:
        print("no agents (start one with prefix + A, or: agents spawn \"TASK\")")
        for line in unfinished:
            print(line)
        return 0
    # The pull request column only once some agent has one (agents pr).
    with_pr = any(agent.pr for agent in agents)
    rows = [("NAME", "STATE", "FOR", "KIND", "BRANCH", "PANE", *(("PR",) if with_pr else ()), "TOKENS", "COST", "CTX", "WORKTREE")]
    for agent in agents:
        rows.append((
            agent.name, "setup failed" if agent.setup == "failed" else agent.state or "?", format_duration(agent.seconds_in_state), agent.kind,
            agent.branch or "-", f"{agent.session}:{agent.window_index} {agent.pane_id}" if agent.pane_id else "-",
            *((agent.pr or "-",) if with_pr else ()), *usage_cells(agent), agent.worktree,
        ))
    widths = [max(display_width(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(pad(cell, width) for cell, width in zip(row, widths)) + "  " + row[-1])
    for line in unfinished:
        print(line)
    return 0


#: Facts that are numbers (tmux hands every value over as text).
NUMERIC_FACTS = ("state_since", "window_index", "pane_pid", "exit_status", "port")


def json_facts(facts: dict[str, object]) -> dict[str, object]:
    """An agent's facts for --json: numbers as numbers (null when unknown).

    >>> json_facts({"name": "a", "state_since": "1700000000", "pane_pid": "", "window_index": "2"})["pane_pid"]
    >>> json_facts({"state_since": "1700000000", "window_index": "2"})["window_index"]
    2
    """
    out = dict(facts)
    for key in NUMERIC_FACTS:
        if key in out:
            value = out[key]
            out[key] = int(value) if isinstance(value, str) and value.lstrip("-").isdigit() else (value if isinstance(value, int) else None)
    return out


def _starting_records(server: libtmux.Server | None, agents: list[Any]) -> list[tuple[Agent, bool, str]]:
    """Agents of this folder's repository on record as ``starting`` with no pane here.

    Each as a pane-less :class:`~agents_tmux.panes.Agent` row (state
    ``starting``), whether it still looks alive, and why. Such a record is a
    spawn at work, or one that was killed part-way; it is never removed
    silently (``agents prune`` says what it would do). With no server
    (``list --all`` with no tmux running) only the record's own server is looked in.
    """
    from agents_tmux import lifecycle, liveness, panes, registry
    from agents_tmux.errors import AgentsError
    from agents_tmux.restore import server_socket

    try:
        repo = lifecycle.repo_of(None)
        entries = registry.load(repo) if repo is not None else {}
    except AgentsError:
        return []
    here = {agent.name for agent in agents if agent.repo == str(repo)}
    found = []
    for name, entry in sorted(entries.items()):
        if isinstance(entry, dict) and entry.get("status") == registry.STARTING and name not in here and repo is not None:
            verdict = liveness.check(entry, repo, (server_socket(server),) if server is not None else ())
            facts = {key: str(entry.get(key) or "") for key in
                     ("kind", "branch", "base", "worktree", "role", "task", "session_id", "transcript")}
            row = panes.Agent(
                pane_id="", session="", window_index="", window_id="", pane_pid="", name=name, state=registry.STARTING,
                state_since=str(entry.get("created") or ""), repo=str(repo), **facts,
            )
            found.append((row, verdict.live, verdict.why))
    return found
