"""The ``agents`` command line: one subcommand per module in ``agents_tmux.commands``.

Every failure ends as one line on stderr (or on tmux's status line when the
command was started from a key binding) and a non-zero exit status; no
traceback reaches the user.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from agents_tmux import __version__
from agents_tmux.errors import AgentsError
from agents_tmux.tmuxcmd import Socket, display_message

#: Subcommands in the order ``agents --help`` lists them: (name, module in
#: ``agents_tmux.commands``). A module's file name may differ from the command
#: (``list`` is a builtin's name).
COMMANDS: tuple[tuple[str, str], ...] = (
    ("spawn", "spawn"),
    ("list", "list"),
    ("jump", "jump"),
    ("menu", "menu"),
    ("diff", "diff"),
    ("merge", "merge"),
    ("pr", "pr"),
    ("rm", "rm"),
    ("send", "send"),
    ("broadcast", "broadcast"),
    ("prune", "prune"),
    ("restore", "restore"),
    ("restart", "restart"),
    ("log", "log"),
    ("team", "team"),
    ("note", "note"),
    ("context", "context"),
    ("doctor", "doctor"),
    ("up", "up"),
    ("hook", "hook"),
)


def _available(module: str) -> bool:
    """True when the subcommand's module exists (commands land one by one)."""
    import importlib.util

    return importlib.util.find_spec(f"agents_tmux.commands.{module}") is not None


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the command, exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="agents",
        description="Run several AI coding agents side by side in tmux, each on its own git worktree.",
    )
    parser.add_argument("--version", action="version", version=f"agents.tmux {__version__}")
    parser.add_argument("-L", dest="socket_name", metavar="NAME", help="tmux server socket name (like tmux -L)")
    parser.add_argument("-S", dest="socket_path", metavar="PATH", help="tmux server socket path (like tmux -S)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module in COMMANDS:
        if not _available(module):
            continue
        mod = importlib.import_module(f"agents_tmux.commands.{module}")
        command_parser = sub.add_parser(name, help=mod.HELP, description=mod.__doc__.strip().splitlines()[0] if mod.__doc__ else None)
        mod.add_arguments(command_parser)
        command_parser.set_defaults(run=mod.run)
    return parser


def socket_of(args: argparse.Namespace) -> Socket:
    """The tmux server chosen on the command line (else tmux's own default)."""
    return Socket(name=args.socket_name, path=args.socket_path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    from_key = bool(getattr(args, "from_key", False))
    try:
        return int(args.run(args) or 0)
    except AgentsError as exc:
        return _report(args, f"agents {args.command}: {exc}", from_key)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        detail = f"{type(exc).__name__}: {exc}"
        if os.environ.get("AGENTS_TMUX_DEBUG"):
            raise
        return _report(args, f"agents {args.command}: unexpected error ({detail}); set AGENTS_TMUX_DEBUG=1 for details", from_key)


def _report(args: argparse.Namespace, message: str, from_key: bool) -> int:
    message = " ".join(message.split())
    if from_key:
        display_message(socket_of(args), message, getattr(args, "client", None))
        return 0
    print(message, file=sys.stderr)
    return 1
