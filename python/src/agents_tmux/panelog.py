"""The optional pane log (``@agents-log on``): everything an agent's pane prints, appended to a file.

For agents without a transcript of their own (Claude keeps one; Codex,
Aider... may not), ``pipe-pane`` copies the pane's output to
``$XDG_STATE_HOME/agents-tmux/repos/<repo>/logs/<name>.log``.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from agents_tmux import paths
from agents_tmux.tmuxtext import no_formats

if TYPE_CHECKING:
    from agents_tmux import tmuxcmd

ON = ("on", "1", "yes", "true")


def log_path(repo_root: Path, name: str) -> Path:
    """Where the pane log of agent ``name`` goes."""
    return paths.repo_state_dir(repo_root) / "logs" / f"{name}.log"


def enabled(server: tmuxcmd.Server) -> bool:
    result = server.cmd("show-options", "-gqv", "@agents-log")
    return bool(result.stdout) and result.stdout[0].strip().lower() in ON


def start_if_enabled(server: tmuxcmd.Server, pane_id: str, repo_root: Path, name: str, option: str | None = None) -> Path | None:
    """Start piping ``pane_id``'s output to its log when ``@agents-log`` is on; the log's path.

    ``option``: the value of ``@agents-log`` when the caller read it already.
    """
    if not (enabled(server) if option is None else option.strip().lower() in ON):
        return None
    path = log_path(repo_root, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    # pipe-pane runs a shell command and expands formats in it: quote for the
    # shell, then double '#' for tmux. -o: never a second pipe on one pane.
    command = no_formats(f"exec cat >> {shlex.quote(str(path))}")
    server.cmd("pipe-pane", "-o", "-t", pane_id, command)
    return path
