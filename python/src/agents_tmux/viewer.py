"""Show text to the user: a tmux popup from a key, a pager on a terminal, else stdout."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from agents_tmux.errors import AgentsError
from agents_tmux.tmuxcmd import Socket, run


def popup_file(socket: Socket, path: Path, client: str | None, delete: bool = False) -> None:
    """Open ``path`` in ``less -R`` inside a popup on ``client`` (deleted afterwards when ``delete``)."""
    command = f"less -R -- {shlex.quote(str(path))}"
    if delete:
        command += f"; rm -f -- {shlex.quote(str(path))}"
    args = ["display-popup", "-E", "-w", "90%", "-h", "90%"]
    if client:
        args += ["-c", client]
    run(socket, *args, command)


def popup_text(socket: Socket, text: str, client: str | None, name: str) -> None:
    """Put ``text`` in a temporary file and show it in a popup (the popup deletes it)."""
    folder = tempfile.gettempdir()
    if "#" in folder:  # kept out of anything tmux might expand
        folder = "/tmp"
    fd, tmp = tempfile.mkstemp(prefix=f"agents-{name}-", suffix=".txt", dir=folder)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    try:
        popup_file(socket, Path(tmp), client, delete=True)
    except AgentsError:
        os.unlink(tmp)
        raise


def pager_command() -> str:
    """The pager git would use (core.pager, $GIT_PAGER, $PAGER, less); '' for none."""
    proc = subprocess.run(["git", "var", "GIT_PAGER"], capture_output=True, text=True, check=False)
    pager = proc.stdout.strip() if proc.returncode == 0 else (os.environ.get("PAGER") or "less")
    return "" if pager in ("", "cat") else pager


def page(text: str) -> None:
    """Print ``text``; through the user's pager when stdout is a terminal (git's rules)."""
    pager = pager_command() if sys.stdout.isatty() else ""
    if not pager:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    env = dict(os.environ)
    env.setdefault("LESS", "FRX")
    env.setdefault("LV", "-c")
    # The pager is the user's own command line, run by a shell as git runs it.
    proc = subprocess.Popen(["/bin/sh", "-c", pager], stdin=subprocess.PIPE, env=env)
    try:
        assert proc.stdin is not None
        proc.stdin.write(text.encode("utf-8", "surrogateescape"))
        proc.stdin.close()
    except BrokenPipeError:
        pass
    proc.wait()
