"""Bring a parked agent back: its worktree again from its branch, a window running it, its conversation resumed.

The worktree is added at the path it had (Claude Code finds its
conversation by folder), the configured files are copied in, and the
agent starts as `agents restore` starts it (Claude: --resume <session id>).
Refuses when the cap is reached (--force starts it anyway) or when
something else now occupies the worktree's path. From the menu (the parked
agents' entry) it reports on the status line, and the window opens in the
session of the client that chose it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from agents_tmux.cli import socket_of
from agents_tmux.errors import AgentsError

if TYPE_CHECKING:
    from agents_tmux import tmuxcmd

HELP = "bring a parked agent back in its worktree, resuming its conversation"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from agents_tmux.commands._agent import add_names_argument

    add_names_argument(parser, "the parked agents")
    parser.add_argument("--repo", "-C", metavar="DIR", help="the agent's repository (default: found from the name)")
    parser.add_argument("--session", "-s", metavar="NAME",
                        help="open its window in this session (default: the current one, else one named after the repository)")
    parser.add_argument("--force", "-f", action="store_true", help="start it even when @agents-max agents already run")
    # From the menu: report on the status line, open the window in the session of the client that chose it.
    parser.add_argument("--from-key", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from agents_tmux.commands._agent import each_name

    return each_name(args, _unpark_one)


def _unpark_one(args: argparse.Namespace) -> int:
    from agents_tmux import lifecycle, panes, registry
    from agents_tmux.commands._agent import say
    from agents_tmux.parking import unpark
    from agents_tmux.repolock import repo_lock

    if args.session is not None and not args.session.strip():
        raise AgentsError("--session is empty: name the tmux session to open the agent in")
    server = panes.connect(socket_of(args))
    found = lifecycle.resolve(server, args.name, args.repo)
    with repo_lock(found.repo):
        entry = registry.load(found.repo).get(found.name)
        if not isinstance(entry, dict):
            raise AgentsError(f"{found.name} is no longer on record in {found.repo}")
        ref = lifecycle._from_entry(found.repo, entry)
        ref.pane_id = found.pane_id
        pane_id, how = unpark(server, ref, args.session or _client_session(server, args.client), args.force)
    say(args, f"unparked {ref.name}: {how} in {ref.worktree} (pane {pane_id})")
    return 0


def _client_session(server: tmuxcmd.Server, client: str | None) -> str | None:
    """The session the client ``client`` shows (None without a client, or when it has gone)."""
    if not client:
        return None
    result = server.cmd("display-message", "-p", "-c", client, "#{session_id}")
    session = result.stdout[0].strip() if result.returncode == 0 and result.stdout else ""
    return session or None
