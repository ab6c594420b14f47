"""Check what agents.tmux needs and say what to fix.

Checks tmux (3.2 or newer), git, Python and its packages, the agent commands
of the config, and, inside tmux, that the plugin is loaded. Exit status 1
when something required is missing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from agents_tmux import cli as cli_mod
from agents_tmux import paths
from agents_tmux.cli import socket_of
from agents_tmux.errors import AgentsError
from agents_tmux.tmuxcmd import Socket

HELP = "check tmux, git, Python, the agent commands and the plugin; say what to fix"
MIN_TMUX = (3, 2)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", "-C", metavar="DIR", help="check the config of the repository at DIR (default: here)")


def tmux_version(text: str) -> tuple[int, int] | None:
    """``(3, 3)`` from ``tmux 3.3a``; None for builds without a number.

    >>> tmux_version("tmux 3.3a"), tmux_version("tmux next-3.5"), tmux_version("tmux master")
    ((3, 3), (3, 5), None)
    """
    match = re.search(r"(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


class Report:
    def __init__(self) -> None:
        self.failed = False

    def ok(self, what: str) -> None:
        print(f"  ok    {what}")

    def warn(self, what: str) -> None:
        print(f"  warn  {what}")

    def fail(self, what: str) -> None:
        self.failed = True
        print(f"  FIX   {what}")


def run(args: argparse.Namespace) -> int:
    report = Report()
    print("agents.tmux doctor")
    tmux = shutil.which("tmux")
    if tmux is None:
        report.fail("tmux is not installed: apt-get install tmux (or your system's package manager)")
    else:
        text = subprocess.run([tmux, "-V"], capture_output=True, text=True, check=False).stdout.strip()
        version = tmux_version(text)
        if version is not None and version < MIN_TMUX:
            report.fail(f"{text} is too old: agents.tmux needs tmux 3.2 or newer (pane options in formats, display-popup)")
        else:
            report.ok(text or "tmux")
    git = shutil.which("git")
    if git is None:
        report.fail("git is not installed: apt-get install git")
    else:
        report.ok(subprocess.run([git, "--version"], capture_output=True, text=True, check=False).stdout.strip())
    if sys.version_info < (3, 10):
        report.fail(f"Python {sys.version.split()[0]} is too old: agents.tmux needs 3.10 or newer")
    else:
        report.ok(f"Python {sys.version.split()[0]} ({sys.executable})")
    import importlib.metadata  # here, not at the top: every `agents` call would pay for it

    for package in ("libtmux",) + (("tomli",) if sys.version_info < (3, 11) else ()):
        try:
            report.ok(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            report.fail(f"the Python package {package} is missing: delete {paths.PLUGIN_DIR / '.venv'} and run {paths.script('agents')} again")
    _check_agents(report, Path(args.dir or os.getcwd()), socket_of(args))
    if tmux is not None:
        _check_plugin(report, args)
    print("all good" if not report.failed else "some things need fixing (lines marked FIX)")
    return 1 if report.failed else 0


def _check_agents(report: Report, directory: Path, socket: Socket) -> None:
    from agents_tmux import config, gitops

    try:
        repo_root = gitops.find_repo(directory).root
    except AgentsError:
        repo_root = None
    try:
        cfg = config.load(repo_root, _tmux_options(socket))
    except AgentsError as exc:
        report.fail(str(exc))
        return
    for path in cfg.sources:
        report.ok(f"config file {path}")
    for name, kind in sorted(cfg.agents.items()):
        found = shutil.which(kind.command[0])
        if found:
            report.ok(f"agent {name}: {found}")
        elif name == cfg.agent:
            hint = " (npm install -g @anthropic-ai/claude-code)" if name == "claude" else ""
            report.fail(f"agent {name}: `{kind.command[0]}` is not on PATH; it is the default agent{hint}")
        else:
            report.warn(f"agent {name}: `{kind.command[0]}` is not on PATH (only needed for --agent {name})")


def _tmux_options(socket: Socket) -> dict[str, str]:
    """The server's @agents-* options (-L/-S, else the tmux we are in), as spawn would read them."""
    if not (socket.name or socket.path or os.environ.get("TMUX")):
        return {}
    try:
        from agents_tmux import panes

        return panes.plugin_options(panes.connect(socket))
    except AgentsError:
        return {}


def plugin_not_loaded(socket: Socket) -> str:
    """Says the plugin is not loaded in the server on ``socket``, and the lines that load it (tmux.conf, or now)."""
    import shlex

    from agents_tmux.panes import tmux_line

    entry = shlex.quote(str(paths.PLUGIN_DIR / "agents.tmux"))
    now = tmux_line(socket, "run-shell", str(paths.PLUGIN_DIR / "agents.tmux"))
    return (f"the plugin is not loaded in this tmux server: add `run-shell {entry}` (or the TPM line) to tmux.conf, "
            f"or load it now: {now}")


def _check_plugin(report: Report, args: argparse.Namespace) -> None:
    from agents_tmux.tmuxcmd import run as tmux_run

    socket = socket_of(args)
    if not (socket.name or socket.path or os.environ.get("TMUX")):
        report.warn(f"not inside tmux: start it with `{paths.agents_word(cli_mod.USER_PATH)} up`, or load the plugin from your tmux.conf")
        return
    try:
        status = tmux_run(socket, "show-options", "-gv", "status-right") + tmux_run(socket, "show-options", "-gv", "status-left")
        cli = tmux_run(socket, "show-options", "-gqv", "@agents-cli").strip()
        # The key the plugin says it bound, and what that key runs now: the
        # binding itself may change shape, the plugin's folder stays in it.
        key = tmux_run(socket, "show-options", "-gqv", "@agents-key-bound").strip()
        # An unbound key is an error to tmux: an empty binding here.
        binding = tmux_run(socket, "list-keys", "-T", "prefix", key, check=False) if key else ""
    except AgentsError as exc:
        report.warn(f"cannot ask tmux ({exc})")
        return
    if cli and key and os.path.dirname(os.path.dirname(cli)) in binding:
        report.ok(f"the plugin is loaded ({cli}); its spawn key is prefix + {key}")
    elif cli and key:
        report.warn(f"the plugin is loaded ({cli}), but prefix + {key} no longer spawns (bound to something else after it loaded?): reload the config")
    elif cli:
        report.ok(f"the plugin is loaded ({cli}); its spawn key is unbound (@agents-key)")
    else:
        report.fail(plugin_not_loaded(socket))
    if "@agent_state" in status:
        report.ok("the status bar shows the agents")
    elif "#{agents_status}" in status:
        report.warn("status-right has #{agents_status} but the plugin has not replaced it: set status-right before the plugin loads")
