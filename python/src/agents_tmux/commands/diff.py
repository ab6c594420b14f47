"""Show what an agent changed against its base: its commits, and its uncommitted work.

Committed: the diff from where the branch left its base (their merge base)
to the branch. Uncommitted: the worktree against its HEAD, staged or not,
untracked files shown as new files (ignored ones left out). From a key
(--from-key) it opens in a popup; on a terminal in your git pager.
"""

from __future__ import annotations

import argparse

from agents_tmux.cli import socket_of
from agents_tmux.commands._agent import add_repo_and_key_arguments

HELP = "show an agent's committed and uncommitted changes against its base"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the agent (its name or pane id)")
    parser.add_argument("--stat", action="store_true", help="only the list of changed files")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="colour the diff (default: auto)")
    add_repo_and_key_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import sys

    from agents_tmux import changes, lifecycle, viewer

    socket = socket_of(args)
    server = lifecycle.connect_if_running(socket)
    ref = lifecycle.resolve(server, args.name, args.repo)
    color = args.color == "always" or (args.color == "auto" and (args.from_key or sys.stdout.isatty()))
    text = changes.describe(ref, color=color, stat=args.stat)
    if args.from_key:
        viewer.popup_text(socket, text, args.client, f"diff-{ref.name}")
    else:
        viewer.page(text)
    return 0
