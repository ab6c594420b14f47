"""Type a message into an agent's pane, exactly as written.

The text goes into a tmux buffer from stdin (``load-buffer -``), is pasted
with bracketed paste (``paste-buffer -p``: a multi-line message arrives as
one prompt in agents that ask for it, as Claude Code does) and submitted
with Enter. It is never an argument tmux parses or a shell sees, so
``$(...)``, ``#{...}``, ``;`` and newlines arrive as typed.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

from agents_tmux.errors import AgentsError
from agents_tmux.tmuxcmd import Socket, tmux_binary

#: Longest message accepted (tmux handles more; an agent's prompt should not).
MAX_BYTES = 1 << 20
#: Seconds between the paste and the Enter that submits it.
SUBMIT_DELAY = 0.3


def read_text(value: str) -> str:
    """The message: the argument, or stdin when it is ``-``; trailing newlines dropped."""
    text = sys.stdin.read() if value == "-" else value
    text = text.rstrip("\r\n")
    if not text.strip():
        raise AgentsError("the message is empty")
    if len(text.encode("utf-8", "surrogateescape")) > MAX_BYTES:
        raise AgentsError("the message is longer than 1 MiB: put it in a file and send its path")
    return text


def send_text(socket: Socket, pane_id: str, text: str) -> None:
    """Paste ``text`` into ``pane_id``, then press Enter a moment later.

    The Enter is a separate tmux call after a pause: when it reaches the
    terminal in the same read as the end of the paste, Claude Code can take
    it as part of the pasted text and leave the message in its prompt box.
    """
    buffer = f"agents-send-{uuid.uuid4().hex[:12]}"
    argv = [
        tmux_binary(), *socket.flags(),
        "load-buffer", "-b", buffer, "-", ";",
        "paste-buffer", "-p", "-d", "-b", buffer, "-t", pane_id,
    ]
    proc = subprocess.run(argv, input=text.encode("utf-8", "surrogateescape"), capture_output=True, check=False)
    if proc.returncode == 0:
        time.sleep(SUBMIT_DELAY)
        proc = subprocess.run([tmux_binary(), *socket.flags(), "send-keys", "-t", pane_id, "Enter"], capture_output=True, check=False)
    if proc.returncode != 0:
        subprocess.run([tmux_binary(), *socket.flags(), "delete-buffer", "-b", buffer], capture_output=True, check=False)
        detail = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["tmux failed"])[-1]
        raise AgentsError(f"could not type into {pane_id}: {detail}")
