"""What the commands acting on one named agent share: their common options, finding the agent, checking a --base.

Not a subcommand (the ``agents`` command line lists its modules by name).
Imports stay lazy, as in the commands themselves: building the parser must
not load tmux or git code.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agents_tmux import tmuxcmd
    from agents_tmux.lifecycle import AgentRef


def add_repo_and_key_arguments(parser: argparse.ArgumentParser) -> None:
    """--repo to pick the agent's repository, and the hidden options a key binding passes."""
    parser.add_argument("--repo", "-C", metavar="DIR", help="the agent's repository (default: found from the name)")
    parser.add_argument("--from-key", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", help=argparse.SUPPRESS)


def find_agent(args: argparse.Namespace) -> tuple[tmuxcmd.Server | None, AgentRef]:
    """The tmux server (None when none runs) and the agent ``args.name`` names, live or only recorded."""
    from agents_tmux import lifecycle
    from agents_tmux.cli import socket_of

    server = lifecycle.connect_if_running(socket_of(args))
    return server, lifecycle.resolve(server, args.name, args.repo)


def check_base(base: str | None, wanted: str) -> None:
    """Refuse a --base that is blank or would read as an option to git; ``wanted`` says what it should name."""
    from agents_tmux.errors import AgentsError

    if base is not None and (not base.strip() or base.startswith("-")):
        raise AgentsError(f"--base is empty or starts with '-': name {wanted}")


def say(args: argparse.Namespace, message: str) -> None:
    """Report ``message``: on the status line when run from a key binding, else on stdout."""
    from agents_tmux.cli import socket_of
    from agents_tmux.tmuxcmd import display_message

    if getattr(args, "from_key", False):
        display_message(socket_of(args), f"agents: {message}", args.client)
    else:
        print(message, flush=True)
