"""Type a message into every running agent (or those in one state) and submit it.

Sent like `agents send`: exactly as given, multi-line text as one prompt.
Exited agents are skipped (their panes are shells). Prints who got it.
"""

from __future__ import annotations

import argparse

from agents_tmux.cli import socket_of
from agents_tmux.errors import AgentsError

HELP = "type TEXT (or stdin with -) into every running agent"
STATES = ("starting", "working", "waiting", "error", "idle")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", help="the message; - reads it from stdin")
    parser.add_argument("--state", "-s", action="append", choices=STATES, metavar="STATE",
                        help=f"only agents in this state (repeatable: {', '.join(STATES)})")
    parser.add_argument("--repo", "-C", metavar="DIR", help="only the agents of this repository")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from agents_tmux import deliver, lifecycle, panes

    socket = socket_of(args)
    server = panes.connect(socket)
    text = deliver.read_text(args.text)
    repo = lifecycle.repo_of(args.repo) if args.repo else None
    targets = [
        agent for agent in panes.list_agents(server)
        if agent.state != "exited"
        and (not args.state or agent.state in args.state)
        and (repo is None or Path(agent.repo) == repo)
    ]
    if not targets:
        raise AgentsError("no running agent to send it to" + (f" in state {', '.join(args.state)}" if args.state else ""))
    failed = []
    for agent in targets:
        try:
            deliver.send_text(socket, agent.pane_id, text)
        except AgentsError as exc:
            failed.append(f"{agent.name} ({exc})")
    sent = [a.name for a in targets if not any(f.startswith(a.name + " ") for f in failed)]
    if sent:
        print("sent to " + ", ".join(sent))
    if failed:
        raise AgentsError("could not send to " + "; ".join(failed))
    return 0
