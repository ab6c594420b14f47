"""Start an exited agent again in its own pane, resuming its conversation.

The pane an agent exited in stays as a shell in the worktree; this replaces
that shell with the agent again (`respawn-pane -k`), with the same command
restore uses (Claude: --resume <session id>). An agent that is still running
is left alone unless --force.
"""

from __future__ import annotations

import argparse

from typing import TYPE_CHECKING

from agents_tmux.cli import command_hint, socket_of
from agents_tmux.errors import AgentsError

if TYPE_CHECKING:
    from agents_tmux import tmuxcmd

    from agents_tmux.lifecycle import AgentRef

HELP = "start an exited agent again in its pane, resuming its conversation"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from agents_tmux.commands._agent import add_names_argument

    add_names_argument(parser, "the agents (names or pane ids)")
    parser.add_argument("--force", "-f", action="store_true", help="restart it even if it is still running (kills it)")


def run(args: argparse.Namespace) -> int:
    from agents_tmux.commands._agent import each_name

    return each_name(args, _run_one)


def _run_one(args: argparse.Namespace) -> int:
    from agents_tmux import panes, repolock
    from agents_tmux.lifecycle import resolve

    server = panes.connect(socket_of(args))
    ref = resolve(server, args.name)
    with repolock.repo_lock(ref.repo):
        return _restart(args, server, resolve(server, args.name, str(ref.repo)))


def _restart(args: argparse.Namespace, server: tmuxcmd.Server, ref: AgentRef) -> int:
    from agents_tmux import lifecycle
    from agents_tmux import restore as restore_mod

    if not ref.live:
        lifecycle.refuse_if_elsewhere(server, ref, "restart", *(["--force"] if args.force else []))
        raise AgentsError(f"{ref.name} has no pane in this tmux server: bring it back with `{command_hint(args, 'restore', ref.name)}`")
    if ref.state != "exited" and not args.force:
        raise AgentsError(f"{ref.name} is still running (state {ref.state or 'unknown'}): use --force to kill and restart it")
    how = restore_mod.restart_in_pane(server, ref)
    print(f"restarted {ref.name}: {how}")
    return 0
