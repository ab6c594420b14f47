"""Type a message into one agent, as if you had typed it, and submit it.

TEXT is sent exactly as given (or read from stdin with `-`): multi-line
text arrives as one prompt, and nothing in it is read by tmux or a shell.
An agent that has exited is not sent anything (its pane is a shell then).
"""

from __future__ import annotations

import argparse

from agents_tmux.cli import command_hint, socket_of
from agents_tmux.errors import AgentsError

HELP = "type TEXT (or stdin with -) into an agent and press Enter"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the agent (its name or pane id)")
    parser.add_argument("text", help="the message; - reads it from stdin")


def run(args: argparse.Namespace) -> int:
    from agents_tmux import deliver, panes

    socket = socket_of(args)
    server = panes.connect(socket)
    text = deliver.read_text(args.text)
    try:
        agent = panes.find_agent(server, args.name)
    except AgentsError:
        # Not running here: maybe in another tmux server (your own tmux, the `up` one); say so and where.
        from agents_tmux import lifecycle

        try:
            ref = lifecycle.resolve(server, args.name)
        except AgentsError:
            ref = None
        if ref is not None:
            lifecycle.refuse_if_elsewhere(server, ref, "send", args.text)
        raise
    if agent.state == "exited":
        raise AgentsError(f"{agent.name} has exited and its pane is a shell now: restart it first ({command_hint(args, 'restart', agent.name)})")
    deliver.send_text(socket, agent.pane_id, text)
    return 0
