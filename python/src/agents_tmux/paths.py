"""Where agents.tmux keeps its files."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

#: The plugin's root folder (the one holding agents.tmux and scripts/).
PLUGIN_DIR = Path(__file__).resolve().parents[3]


def state_dir() -> Path:
    """``$XDG_STATE_HOME/agents-tmux`` (default ``~/.local/state/agents-tmux``)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "agents-tmux"


def repo_state_dir(repo_root: Path) -> Path:
    """The state folder of one repository: its name plus a hash of its path.

    The name keeps the folder recognisable; the hash keeps two checkouts
    with the same name apart.
    """
    digest = hashlib.sha256(str(repo_root).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return state_dir() / "repos" / f"{repo_root.name}-{digest}"


def script(name: str) -> Path:
    """A script shipped in the plugin's scripts/ folder."""
    return PLUGIN_DIR / "scripts" / name
