"""Add a timestamped line to the shared notes of this repository's agents.

The line goes to notes.md in the shared context folder (see `agents context`)
as `- <time> [<author>] TEXT`; the author is the agent whose pane runs the
command, else "user". Works from the main checkout and from any worktree.
TEXT is taken as it is, never read by a shell; `-` reads it from stdin.
"""

from __future__ import annotations

import argparse
import os
import sys

from agents_tmux.cli import socket_of
from agents_tmux.errors import AgentsError
from agents_tmux.tmuxcmd import Socket
from agents_tmux.tmuxcmd import run as tmux_run

HELP = "add a timestamped line to the agents' shared notes.md"
MAX_NOTE = 4000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="*", help="the note (several words are joined; - reads stdin)")
    parser.add_argument("--dir", "-C", metavar="DIR", help="the repository (default: the current folder)")


def author(socket: Socket) -> str:
    """The agent whose pane this is (its @agent_name), else "user"."""
    pane = os.environ.get("TMUX_PANE", "")
    if pane and (os.environ.get("TMUX") or socket.flags()):
        try:
            name = tmux_run(socket, "display-message", "-p", "-t", pane, "#{@agent_name}", check=False).strip()
        except AgentsError:
            name = ""
        if name:
            return name
    return os.environ.get("AGENTS_TMUX_NAME", "").strip() or "user"


def run(args: argparse.Namespace) -> int:
    from agents_tmux import config as config_mod
    from agents_tmux import context, gitops

    words = list(args.text)
    text = sys.stdin.read() if words == ["-"] else " ".join(words)
    if not text.strip():
        raise AgentsError('say what to note: agents note "TEXT"')
    if len(text) > MAX_NOTE:
        raise AgentsError(f"the note is longer than {MAX_NOTE} characters: write a file in the context folder and note its name")
    repo = gitops.find_repo(args.dir or os.getcwd())
    cfg = config_mod.load(repo.root)
    shared = context.ensure_shared(repo.root, cfg)
    path = context.append_note(shared, author(socket_of(args)), text)
    print(f"noted in {path}")
    return 0
