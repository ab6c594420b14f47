"""Show the folder every agent of this repository shares, and what is in it.

The folder is `.agents/context` (the config's context_dir) in the main
checkout, linked at the same path into every agent's worktree and kept out
of git through .git/info/exclude. Prints its path, its files (newest first)
and its README; --path prints the path only. From a key (--from-key) it
opens in a popup.
"""

from __future__ import annotations

import argparse
import os
import shlex

from agents_tmux import paths
from agents_tmux.cli import socket_of
from agents_tmux.errors import AgentsError
from agents_tmux.tmuxcmd import no_formats

HELP = "print (or open in a popup) the agents' shared context folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--path", action="store_true", help="print only the folder's path")
    parser.add_argument("--dir", "-C", metavar="DIR", help="the repository (default: the current folder, or --pane's)")
    parser.add_argument("--pane", "-t", metavar="PANE", help="take the repository from this pane's folder")
    parser.add_argument("--from-key", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from agents_tmux import config as config_mod
    from agents_tmux import context, gitops

    socket = socket_of(args)
    directory = args.dir
    if directory is None and (args.pane or args.from_key):
        from agents_tmux.tmuxcmd import run as tmux_run

        pane = args.pane or os.environ.get("TMUX_PANE", "")
        target = ["-t", pane] if pane else []
        directory = tmux_run(socket, "display-message", "-p", *target, "#{pane_current_path}").strip() or None
        if directory is None and args.pane:
            from agents_tmux.panes import tmux_line

            raise AgentsError(f"no pane {args.pane!r} in this tmux server (see: {tmux_line(socket, 'list-panes', '-a')})")
    repo = gitops.find_repo(directory or os.getcwd())
    cfg = config_mod.load(repo.root)
    shared = context.ensure_shared(repo.root, cfg)
    if args.from_key:
        _popup(args, shared)
        return 0
    print(str(shared) if args.path else context.index(shared), end="\n" if args.path else "")
    return 0


def _popup(args: argparse.Namespace, shared: os.PathLike[str]) -> None:
    """The index in a pager, in a popup over the client that pressed the key."""
    from agents_tmux.tmuxcmd import run as tmux_run

    socket = socket_of(args)
    words = [str(paths.script("agents")), *socket.flags(), "context", "--dir", "."]
    shell = " ".join(shlex.quote(word) for word in words) + " | ${PAGER:-less}"
    client = ["-c", args.client] if args.client else []
    try:
        tmux_run(socket, "display-popup", *client, "-E", "-w", "90%", "-h", "90%", "-d", no_formats(str(shared)),
                 "-T", " shared context ", shell)
    except AgentsError as exc:
        raise AgentsError(f"cannot open the popup ({exc}); the folder is {shared}") from None
