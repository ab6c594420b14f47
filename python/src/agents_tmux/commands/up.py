"""Start (or attach to) a tmux session for this repository with agents.tmux ready.

The session runs on its own tmux server (socket ``agents`` unless -L/-S say
otherwise) with the plugin's conf/tmux.conf and the plugin loaded, so
``prefix + A`` works at once and the user's own tmux is left alone.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from agents_tmux import paths, sessions
from agents_tmux.errors import AgentsError
from agents_tmux.tmuxcmd import UP_SOCKET, Socket, literal_args, no_formats, socket_file, tmux_binary, tmux_env_socket, tmux_quote

HELP = "start or attach to a tmux session for this repository, plugin loaded"
DEFAULT_SOCKET = UP_SOCKET


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", nargs="?", help="the repository (default: the current folder)")
    parser.add_argument("--session", "-s", metavar="NAME", help="session name (default: the repository's name)")
    parser.add_argument("--detach", "-d", action="store_true", help="start the session but do not attach")
    parser.add_argument("--config", metavar="FILE", help=f"tmux config to start with (default: {paths.PLUGIN_DIR / 'conf' / 'tmux.conf'})")


def plugin_loader() -> Path:
    """A one-line tmux config that runs the plugin (written once, kept up to date)."""
    from agents_tmux.atomic import write_if_changed

    entry = shlex.quote(str(paths.PLUGIN_DIR / "agents.tmux"))
    shell = shlex.quote(str(paths.script("shell")))
    text = (
        "# Written by `agents up`: load agents.tmux after the main config.\n"
        f"run-shell {tmux_quote(entry)}\n"
        "# New panes run your shell as a login shell with `agents` still on PATH\n"
        "# (a plain login shell resets PATH from /etc/profile).\n"
        f"set -g default-command {tmux_quote(shell)}\n"
    )
    # Servers started before it was per folder reload the shared load-plugin.conf: left as it is.
    return write_if_changed(paths.plugin_loader_path(), text)


def start_session(socket: Socket, name: str, folder: Path, conf: Path | None = None) -> None:
    """Start session ``name`` in ``folder``, detached; the server too (conf and plugin loaded) when none runs."""
    conf = conf or paths.PLUGIN_DIR / "conf" / "tmux.conf"
    env = dict(os.environ)
    env.pop("TMUX", None)  # our own server: never nest into the one we may be in
    env.pop("TMUX_PANE", None)
    # Two config files: the optimised one, then one that loads the plugin.
    # tmux remembers both (#{config_files}), so prefix + r reloads both
    # and the plugin's status segment comes back after every reload.
    started = subprocess.run(
        [tmux_binary(), *socket.flags(), *literal_args(["-f", str(conf.resolve()), "-f", str(plugin_loader()),
         "new-session", "-d", "-s", no_formats(name), "-c", no_formats(str(folder)), "-x", "200", "-y", "50"])],
        env=env, capture_output=True, text=True, check=False,
    )
    if started.returncode != 0:
        raise AgentsError(f"tmux could not start the session: {(started.stderr or started.stdout).strip()}")


def start_server_for(socket: Socket, repo: Path) -> tuple[Socket, str]:
    """What ``up -d`` does when no server runs: start one (the ``agents`` socket unless -L/-S) with ``repo``'s session.

    Returns the socket it runs on and the attach command to tell the user.
    """
    if not (socket.name or socket.path):
        socket = Socket(name=DEFAULT_SOCKET)
    name, exists = sessions.find(socket, repo)
    if not exists:
        start_session(socket, name, repo)
    sessions.mark(socket, name, repo)
    return socket, attach_hint(socket, name)


def path_tip() -> str:
    """A line saying how to put ``agents`` on the user's PATH, when it is not there ('' when it is).

    The commands' own hints say ``agents ...``: with this line in the shell's
    startup file they work when pasted outside tmux too.
    """
    from agents_tmux.cli import USER_PATH

    found = shutil.which("agents", path=USER_PATH)
    if found and Path(found).resolve() == paths.script("agents").resolve():
        return ""
    return f"tip: put `agents` on your PATH (in ~/.bashrc or ~/.profile): {path_line(paths.bin_dir())}"


def path_line(folder: Path) -> str:
    """The shell line that puts ``folder`` first on PATH, quoted whatever the folder's name holds.

    >>> print(path_line(Path("/home/me/.tmux/plugins/agents.tmux/.bin")))
    export PATH=/home/me/.tmux/plugins/agents.tmux/.bin:"$PATH"
    >>> print(path_line(Path('/src/my "tools" $(x)/.bin')))
    export PATH='/src/my "tools" $(x)/.bin':"$PATH"
    """
    return f'export PATH={shlex.quote(str(folder))}:"$PATH"'


def attach_hint(socket: Socket, session: str) -> str:
    """The command that attaches to ``session``, quoted to paste into a shell."""
    return " ".join(shlex.quote(word) for word in ["tmux", *socket.flags(), *literal_args(["attach", "-t", session])])


def run(args: argparse.Namespace) -> int:
    from agents_tmux import gitops

    tmux = tmux_binary()
    folder = Path(args.directory or os.getcwd()).expanduser().resolve()
    if not folder.is_dir():
        raise AgentsError(f"not a folder: {folder}")
    conf = Path(args.config).expanduser() if args.config else paths.PLUGIN_DIR / "conf" / "tmux.conf"
    if not conf.is_file():
        raise AgentsError(f"tmux config not found: {conf}")
    try:
        folder = gitops.find_repo(folder).worktree
    except AgentsError as exc:
        print(f"agents up: note: {exc}; prefix + A spawns agents only in a repository with a commit", file=sys.stderr)
    socket = Socket(name=args.socket_name or (None if args.socket_path else DEFAULT_SOCKET), path=args.socket_path)
    base = [tmux, *socket.flags()]
    env = dict(os.environ)
    env.pop("TMUX", None)  # our own server: never nest into the one we may be in
    env.pop("TMUX_PANE", None)
    if args.session is not None:
        # tmux itself turns '.' and ':' into '_' (and would then not find the session by its given name).
        name = re.sub(r"[.:]", "_", args.session)
        if not name.strip():
            raise AgentsError("the session name is empty: give one with --session NAME")
        exists = subprocess.run([*base, *literal_args(["has-session", "-t", f"={name}"])], env=env, capture_output=True, check=False).returncode == 0
    else:
        # The repository's own session: another repository of the same folder name has another one.
        name, exists = sessions.find(socket, folder)
    if not exists:
        start_session(socket, name, folder, conf)
    if args.session is None:
        sessions.mark(socket, name, folder)
    where = attach_hint(socket, name)
    if args.detach or not os.isatty(0) or not os.isatty(1):
        state = "is running" if exists else "started"
        print(f"session {name} {state} in {folder}; attach with: {where}")
        tip = path_tip()
        if tip:
            print(tip)
        return 0
    inside = os.environ.get("TMUX", "")
    here = tmux_env_socket() or ""
    if here and os.path.realpath(here) == os.path.realpath(socket.path or socket_file(socket.name or DEFAULT_SOCKET)):
        # A pane of that very server: switch this client to the session. A client
        # attached inside its own server's pane would draw that server within itself.
        switched = subprocess.run([tmux, *socket.flags(), *literal_args(["switch-client", "-t", f"={name}"])],
                                  capture_output=True, text=True, check=False)
        if switched.returncode != 0:
            raise AgentsError(f"could not switch to session {name}: {(switched.stderr or switched.stdout).strip()}")
        return 0
    if inside:
        print(f"agents up: you are inside tmux already; attaching to {name} on its own server (detach with prefix + d)")
    os.execvpe(tmux, [tmux, *socket.flags(), *literal_args(["attach-session", "-t", f"={name}"])], env)
    return 0  # not reached
