"""Jump to the agent that has waited longest for you; again, to the next one waiting.

An agent needs you when it is ``waiting`` (a question, a permission) or in
``error`` (its turn failed, e.g. on an API error): both count as waiting here.
Waiting agents are ordered by how long they have waited (``@agent_state_since``,
oldest first). The jump goes to the first of them, unless the client already
shows a waiting agent: then to the one after it in that order (wrapping), so
pressing the key again and again cycles through every agent that waits.
It works across sessions (``switch-client``), then selects the window and pane.

With nobody waiting it says "no agent is waiting": on the status line from a
key (exit 0), on stderr with exit status 1 from the command line (so scripts
can test it). ``--print`` only prints the pane id it would jump to.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from agents_tmux.cli import socket_of
from agents_tmux.errors import AgentsError
from agents_tmux.tmuxcmd import display_message

if TYPE_CHECKING:
    from agents_tmux import tmuxcmd

    from agents_tmux.panes import Agent

HELP = "jump to the agent waiting longest (again: the next one waiting)"
#: States in which an agent cannot go on without you.
NEEDS_YOU = ("waiting", "error")
#: Where the last jump went (a pane id), for scripts and status formats.
LAST_JUMP_OPTION = "@agents-last-jump"
NOBODY_WAITS = "no agent is waiting"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--print", dest="print_only", action="store_true", help="only print the pane id of the agent it would jump to")
    parser.add_argument("--from-key", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", metavar="NAME", help="the tmux client to move (default: the current one)")


def waiting_order(agents: list[Agent]) -> list[Agent]:
    """The agents that need you (waiting or error), the one waiting longest first (ties: older pane first)."""

    def key(agent: Agent) -> tuple[int, int]:
        try:
            since = int(agent.state_since)
        except ValueError:
            since = 0
        try:
            number = int(agent.pane_id.lstrip("%"))
        except ValueError:
            number = 0
        return since, number

    return sorted((a for a in agents if a.state in NEEDS_YOU), key=key)


def next_target(waiting: list[Agent], current_pane: str | None) -> Agent | None:
    """The agent to jump to: after the one the client shows, else the first.

    >>> from agents_tmux.panes import Agent
    >>> def agent(pane, since):
    ...     return Agent(pane, "s", "0", "@0", pane, "waiting", since, *[""] * 9, "1")
    >>> order = [agent("%3", "10"), agent("%1", "20"), agent("%2", "30")]
    >>> [next_target(order, p).pane_id for p in (None, "%0", "%3", "%1", "%2")]
    ['%3', '%3', '%1', '%2', '%3']
    >>> next_target([], "%1") is None
    True
    """
    if not waiting:
        return None
    ids = [a.pane_id for a in waiting]
    if current_pane in ids:
        return waiting[(ids.index(current_pane) + 1) % len(waiting)]
    return waiting[0]


def focus_commands(pane: str, client: str | None) -> list[str]:
    """tmux commands (joined by ``;``) that show ``pane`` on ``client``, in any session."""
    target_client = ["-c", client] if client else []
    return [
        "switch-client", *target_client, "-t", pane, ";",
        "select-window", "-t", pane, ";",
        "select-pane", "-t", pane,
    ]


def find_client(server: tmuxcmd.Server, requested: str | None) -> tuple[str | None, str | None]:
    """``(client name, the pane it shows)``; the client tmux calls current if none was named."""
    from agents_tmux import panes

    lines = panes.run(server, "list-clients", "-F", "#{client_name}\t#{pane_id}\t#{client_activity}")
    clients = [line.split("\t") for line in lines if line.count("\t") == 2]
    if requested:
        for name, pane, _ in clients:
            if name == requested:
                return name, pane
        raise AgentsError(f"no tmux client is called {requested!r} (see: {panes.tmux_line(server.socket, 'list-clients')})")
    if not clients:
        return None, None
    if os.environ.get("TMUX_PANE"):
        # Inside tmux: the client showing this pane's session, as tmux itself picks.
        result = panes.cmd(server, "display-message", "-p", "-t", os.environ["TMUX_PANE"], "#{client_name}")
        name = result.stdout[0] if result.returncode == 0 and result.stdout else ""
        for client_name, pane, _ in clients:
            if client_name == name:
                return client_name, pane
    # Otherwise the client used most recently.
    name, pane, _ = max(clients, key=lambda c: int(c[2]) if c[2].isdigit() else 0)
    return name, pane


def run(args: argparse.Namespace) -> int:
    from agents_tmux import panes

    socket = socket_of(args)
    server = panes.connect(socket)
    client, current = find_client(server, args.client)
    waiting = waiting_order(panes.list_agents(server))
    target = next_target(waiting, current)
    if target is None:
        if args.from_key:
            display_message(socket, f"agents: {NOBODY_WAITS}", args.client)
            return 0
        raise AgentsError(NOBODY_WAITS)
    if args.print_only:
        print(target.pane_id)
        return 0
    if client is None:
        raise AgentsError(f"no tmux client is attached to jump with (agent {target.name} waits in pane {target.pane_id}; --print only prints it)")
    panes.run(server, *focus_commands(target.pane_id, client), ";", "set-option", "-gq", LAST_JUMP_OPTION, target.pane_id)
    if args.from_key:
        from agents_tmux.commands.list import format_duration

        position = f" ({waiting.index(target) + 1}/{len(waiting)})" if len(waiting) > 1 else ""
        display_message(socket, f"agents: {target.name} waiting {format_duration(target.seconds_in_state)}{position}", client)
    return 0
