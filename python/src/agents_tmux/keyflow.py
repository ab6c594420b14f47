"""What commands started from a key binding share: the typed text, and asking before going on.

A key's prompt puts what the user typed into a tmux buffer (so it never
passes through a shell); the command reads it from there. When a command
needs a yes first (the agent cap), it asks with ``confirm-before`` and, on
"y", runs itself again with ``--force``.
"""

from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Sequence

from agents_tmux import tmuxcmd

from agents_tmux import panes, paths
from agents_tmux.errors import AgentsError
from agents_tmux.tmuxcmd import no_formats, tmux_quote


def origin_and_text(
    args: argparse.Namespace, buffer: str, text: str | None, check_origin: bool = True
) -> tuple[tmuxcmd.Server, str | None, str | None]:
    """The server, the pane a command came from, and its text (typed at a key's prompt).

    The origin is ``--pane``, else this pane; it must exist before anything
    is made from it (``check_origin`` off: the caller checks it, along
    with what else it reads about it). From a key (``--from-key``) without
    ``text``, the text is what the prompt left in ``buffer``.
    """
    from agents_tmux.cli import socket_of

    server = panes.connect(socket_of(args))
    origin = args.pane or os.environ.get("TMUX_PANE") or None
    if origin and check_origin:
        panes.require_pane(server, origin)
    if args.from_key and text is None:
        text = read_typed_text(server, buffer)
    return server, origin, text


def read_typed_text(server: tmuxcmd.Server, buffer: str) -> str:
    """The text a key's prompt left in ``buffer``, or a clear error when there is none."""
    result = server.cmd("show-buffer", "-b", buffer)
    if result.returncode != 0:
        raise AgentsError("no task was typed")
    return "\n".join(result.stdout).strip()


def confirm_then_rerun(server: tmuxcmd.Server, args: argparse.Namespace, words: Sequence[str], prompt: str) -> None:
    """Ask ``prompt`` on the client; on "y" run ``agents [-L/-S ...] WORDS`` in the background.

    ``words`` is the subcommand and its arguments (with ``--force``); each
    is shell-quoted, and the whole line quoted again for tmux (its '#'
    kept through two format expansions), so nothing in them is read by either.
    """
    argv = [str(paths.script("agents"))]
    if args.socket_name:
        argv += ["-L", args.socket_name]
    if args.socket_path:
        argv += ["-S", args.socket_path]
    argv += list(words)
    if args.client:
        argv += ["--client", args.client]
    shell = " ".join(shlex.quote(word) for word in argv)
    client = ["-t", args.client] if args.client else []
    # Formats are expanded twice on the way: by confirm-before when the answer
    # is "y", then by run-shell. tmux_quote doubles '#' once; double it again.
    panes.run(server, "confirm-before", *client, "-p", no_formats(prompt), f"run-shell -b {tmux_quote(no_formats(shell))}")
