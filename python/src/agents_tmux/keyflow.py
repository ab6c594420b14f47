"""What commands started from a key binding share: the typed text, and asking before going on.

A key's prompt puts what the user typed into a tmux buffer (so it never
passes through a shell); the command reads it from there. When a command
needs a yes first (the agent cap), it asks with ``confirm-before`` and, on
"y", runs itself again with ``--force``.
"""

from __future__ import annotations

import argparse
import os
import select
import shlex
import signal
import subprocess
import sys
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


def buffer_text(server: tmuxcmd.Server, buffer: str) -> str | None:
    """The text in the tmux buffer ``buffer`` (stripped), None when there is no such buffer."""
    result = server.cmd("show-buffer", "-b", buffer)
    if result.returncode != 0:
        return None
    return "\n".join(result.stdout).strip()


def read_typed_text(server: tmuxcmd.Server, buffer: str) -> str:
    """The text a key's prompt left in ``buffer``, or a clear error when there is none."""
    text = buffer_text(server, buffer)
    if text is None:
        raise AgentsError("no task was typed")
    return text


def drop_kept_copy(server: tmuxcmd.Server, keep_in: str, text: str) -> None:
    """Delete ``keep_in`` when it still holds ``text``: the copy kept for the user of a task that has now started."""
    if buffer_text(server, keep_in) == text:
        server.cmd("delete-buffer", "-b", keep_in)


def keep_typed_text(server: tmuxcmd.Server, keep_in: str, text: str, delete: str | None = None) -> None:
    """Put ``text`` in the buffer ``keep_in`` (where a key keeps what it did not start), ``delete`` then deleted."""
    words = ["set-buffer", "-b", keep_in, "--", text]
    if delete:
        words += [";", "delete-buffer", "-b", delete]
    server.cmd(*tmuxcmd.literal_args(words))


def check_task_buffer(name: str, default: str) -> str:
    """``--task-buffer``: ``default`` or a prompt's own ``default-TOKEN``."""
    if not name.startswith(default) or not name.replace("-", "").isalnum():
        raise AgentsError(f"--task-buffer {name!r}: expected {default} or {default}-TOKEN")
    return name


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
    ask = [*client, "-p", no_formats(prompt), f"run-shell -b {tmux_quote(no_formats(shell))}"]
    # -b (tmux 3.3+): return once asked. Without it tmux 3.3 holds this command
    # until the answer, and forever when the client goes first: this process
    # would stay for nothing. tmux 3.2 has no -b (and does not wait).
    if server.cmd("confirm-before", "-b", *ask).returncode != 0:
        panes.run(server, "confirm-before", *ask)


#: The server option holding, per client, the token of the spawn key's prompt a waiter waits on.
WAITING_OPTION = "@agents-key-waiting-"
#: How often a waiting spawn checks that its client is still there (seconds).
CLIENT_CHECK = 20.0


def task_buffer(token: str) -> str:
    """The tmux buffer the spawn key's prompt with ``token`` leaves the typed task in."""
    return f"agents-task-{token}"


def enter_channel(token: str) -> str:
    """The ``wait-for`` channel the spawn key's prompt with ``token`` signals on Enter."""
    return f"agents-key-{token}"


def _waiting_option(client: str) -> str:
    """The server option for ``client``: :data:`WAITING_OPTION` and its name in letters, digits and ``-`` (``dev-pts-3``)."""
    word = "".join(ch if ch.isalnum() else "-" for ch in client).strip("-")
    return WAITING_OPTION + (word or "none")


def claim_prompt(server: tmuxcmd.Server, client: str, token: str) -> None:
    """Become the one spawn waiting on ``client``'s prompt, and release an earlier one.

    A client has one prompt at a time: a new spawn key means the earlier
    prompt was answered (its spawn is at work, and ignores this) or
    cancelled with Escape (its spawn, still waiting, wakes, finds no task
    and ends).
    """
    option = _waiting_option(client)
    result = server.cmd("show-options", "-sqv", option, ";", "set-option", "-sq", option, token)
    earlier = result.stdout[0].strip() if result.returncode == 0 and result.stdout else ""
    if earlier and earlier != token and earlier.isalnum():
        server.cmd("wait-for", "-S", enter_channel(earlier))


def client_attached(server: tmuxcmd.Server, client: str) -> bool:
    """Whether ``client`` is still attached (False too when the server is gone).

    Not ``display-message -c``: tmux runs it without a client when the one
    named is gone, and it succeeds.
    """
    result = server.cmd("list-clients", "-F", "#{client_name}")
    return result.returncode == 0 and client in (line.strip() for line in result.stdout)


def wait_for_enter(server: tmuxcmd.Server, token: str, client: str | None) -> bool:
    """Wait until the prompt with ``token`` is answered: True then, False when it never will be.

    tmux's ``wait-for`` returns at once when the channel was signalled
    before (the user typed faster than this process started). While it
    waits, the client is checked now and then: once it is gone (detached,
    killed), so is its prompt.
    """
    proc = subprocess.Popen([tmuxcmd.tmux_binary(), *server.socket.flags(), "wait-for", enter_channel(token)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                return proc.wait(timeout=CLIENT_CHECK) == 0
            except subprocess.TimeoutExpired:
                if client and not client_attached(server, client):
                    return False
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_for_prompt_to_close(server: tmuxcmd.Server, client: str | None) -> bool:
    """Wait until the spawn key's prompt closes (tmux 3.3+): True then, False when the client went first.

    Standard input is a pipe from scripts/ask-task: its first line is the
    pid of the ``tmux command-prompt`` that writes into it, which returns
    (the pipe ends) once the prompt is answered, after its template left the
    task, or cancelled, or at once when the client shows another prompt.
    The prompt of a client that goes away never returns (tmux keeps that
    command waiting): the client is checked now and then, and that command
    ended then.
    """
    fd = sys.stdin.fileno()
    head = b""
    while True:
        try:
            ready = select.select([fd], [], [], CLIENT_CHECK)[0]
        except InterruptedError:
            continue
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                return True
            head = (head + chunk)[:64]
            continue
        if client and not client_attached(server, client):
            pid = head.split(b"\n", 1)[0].strip()
            if pid.isdigit():
                try:
                    os.kill(int(pid), signal.SIGTERM)
                except OSError:
                    pass
            return False


def take_typed_task(server: tmuxcmd.Server, token: str) -> str | None:
    """The task the prompt with ``token`` left, or None when it was cancelled.

    Its buffer stays until the spawn is done with it (deleted when the agent
    started, moved to ``agents-task`` when refused): a spawn killed before
    then leaves it for scripts/ask-task to keep.
    """
    return buffer_text(server, task_buffer(token))
