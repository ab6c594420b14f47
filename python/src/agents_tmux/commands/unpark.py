"""Bring a parked agent back: its worktree again from its branch, a window running it, its conversation resumed.

The worktree is added at the path it had (Claude Code finds its
conversation by folder), the configured files are copied in, and the
agent starts as `agents restore` starts it (Claude: --resume <session id>).
Refuses when the cap is reached (--force starts it anyway) or when
something else now occupies the worktree's path.
"""

from __future__ import annotations

import argparse

from agents_tmux.cli import socket_of
from agents_tmux.errors import AgentsError

HELP = "bring a parked agent back in its worktree, resuming its conversation"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the parked agent")
    parser.add_argument("--repo", "-C", metavar="DIR", help="the agent's repository (default: found from the name)")
    parser.add_argument("--session", "-s", metavar="NAME",
                        help="open its window in this session (default: the current one, else one named after the repository)")
    parser.add_argument("--force", "-f", action="store_true", help="start it even when @agents-max agents already run")


def run(args: argparse.Namespace) -> int:
    from agents_tmux import lifecycle, panes, registry
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
        pane_id, how = unpark(server, ref, args.session, args.force)
    print(f"unparked {ref.name}: {how} in {ref.worktree} (pane {pane_id})")
    return 0
