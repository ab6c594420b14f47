"""Where agents.tmux keeps its files."""

from __future__ import annotations

import os
from pathlib import Path

try:  # the C module alone: hashlib loads OpenSSL (~3 ms), and this runs on every spawn and hook event
    from _sha2 import sha256 as _sha256  # Python 3.12 and newer
except ImportError:
    try:
        from _sha256 import sha256 as _sha256  # Python 3.10 and 3.11
    except ImportError:  # pragma: no cover - a Python built without them
        from hashlib import sha256 as _sha256

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
    digest = _sha256(str(repo_root).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return state_dir() / "repos" / f"{repo_root.name}-{digest}"


def plugin_loader_path() -> Path:
    """The config file ``agents up`` writes to load this plugin folder: one per folder (its name plus a hash of its path).

    A tmux server remembers the files it started with and reloads them
    (prefix + r): shared by two clones (a TPM install and a dev clone), the
    last ``up`` of either would decide which plugin every server reloads.
    """
    digest = _sha256(str(PLUGIN_DIR).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return state_dir() / f"load-plugin-{PLUGIN_DIR.name}-{digest}.conf"


def script(name: str) -> Path:
    """A script shipped in the plugin's scripts/ folder."""
    return PLUGIN_DIR / "scripts" / name


def bin_dir() -> Path:
    """The folder holding only an ``agents`` link to scripts/agents, made when missing.

    Agent panes get it first on their PATH (scripts/ itself has a ``test``).
    """
    folder = PLUGIN_DIR / ".bin"
    link = folder / "agents"
    if not link.is_symlink():
        folder.mkdir(exist_ok=True)
        try:
            link.symlink_to(script("agents"))
        except FileExistsError:
            pass  # made by a concurrent spawn or the plugin's load
    return folder


def agents_word(user_path: str) -> str:
    """How a shell with ``user_path`` runs this command: ``agents`` when that finds it, else its full path (quoted)."""
    import shlex
    import shutil

    found = shutil.which("agents", path=user_path)
    if found and Path(found).resolve() == script("agents").resolve():
        return "agents"
    return shlex.quote(str(script("agents")))


def path_with_bin(path: str) -> str:
    """``path`` (a PATH value) with :func:`bin_dir` first, unless it is there already."""
    folder = str(bin_dir())
    parts = path.split(os.pathsep) if path else []
    return path if folder in parts else os.pathsep.join([folder, *parts])
