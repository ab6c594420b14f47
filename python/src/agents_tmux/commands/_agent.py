"""What the commands acting on one named agent share: their common options, finding the agent, checking a --base.

Not a subcommand (the ``agents`` command line lists its modules by name).
Imports stay lazy, as in the commands themselves: building the parser must
not load tmux or git code.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
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


def add_names_argument(parser: argparse.ArgumentParser, help_text: str) -> None:
    """NAME..., one or more agents (see :func:`each_name`)."""
    parser.add_argument("names", nargs="+", metavar="NAME", help=help_text)


def each_name(args: argparse.Namespace, one: Callable[[argparse.Namespace], int]) -> int:
    """Run ``one`` for every agent named in ``args.names`` (as ``args.name``), as ``agents rm`` does with several.

    One name: its refusal is the command's error. Several: each is done in
    turn and reports its own line, refusals on stderr; the exit status is 1 if
    any was refused. The agent of the pane this runs in (its shell after it
    exited) goes last: acting on it may end this very command.
    """
    import os
    import sys

    from agents_tmux.errors import AgentsError

    names = list(dict.fromkeys(args.names))
    if len(names) == 1:
        args.name = names[0]
        return one(args)
    own = _own_agent_name()
    names.sort(key=lambda name: name in (own, os.environ.get("TMUX_PANE")))
    refused = 0
    for name in names:
        args.name = name
        try:
            one(args)
        except AgentsError as exc:
            refused += 1
            print(f"agents {args.command}: {exc}", file=sys.stderr, flush=True)
    return 1 if refused else 0


def _own_agent_name() -> str:
    """The agent whose pane this command runs in ('' outside one)."""
    import os
    import subprocess

    from agents_tmux.tmuxcmd import tmux_binary

    pane = os.environ.get("TMUX_PANE")
    if not pane:
        return ""
    result = subprocess.run([tmux_binary(), "display-message", "-p", "-t", pane, "#{@agent_name}"],
                            capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
    return result.stdout.strip() if result.returncode == 0 else ""
