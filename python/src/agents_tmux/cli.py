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
from agents_tmux.tmuxcmd import UP_SOCKET, Socket, display_message, inside_tmux, server_listens

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
    ("sync", "sync"),
    ("pr", "pr"),
    ("rm", "rm"),
    ("park", "park"),
    ("unpark", "unpark"),
    ("send", "send"),
    ("broadcast", "broadcast"),
    ("prune", "prune"),
    ("restore", "restore"),
    ("restart", "restart"),
    ("log", "log"),
    ("usage", "usage"),
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


class _Formatter(argparse.HelpFormatter):
    """argparse's help layout, as wide as the terminal, found without importing shutil.

    argparse makes a formatter for every argument added and imports shutil
    (and with it bz2, lzma...) to size it: a few ms on every key press.
    The width comes from the same places ``shutil.get_terminal_size`` looks.
    """

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None) -> None:
        if width is None:
            try:
                width = int(os.environ["COLUMNS"])
            except (KeyError, ValueError):
                try:
                    width = os.get_terminal_size(sys.__stdout__.fileno()).columns if sys.__stdout__ else 80
                except (OSError, ValueError):
                    width = 80
            width = (width or 80) - 2
        super().__init__(prog, indent_increment, max_help_position, width)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the command, exit 2."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


#: PATH as the user's shell gave it, before ``main`` put the plugin's ``.bin`` first.
USER_PATH = os.environ.get("PATH", "")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand, or of ``only`` that one (a key press imports no other command's module)."""
    parser = _Parser(
        prog="agents",
        description="Run several AI coding agents side by side in tmux, each on its own git worktree.",
    )
    parser.add_argument("--version", action="version", version=f"agents.tmux {__version__}")
    _add_global_options(parser, None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module in COMMANDS:
        if (only is not None and name != only) or not _available(module):
            continue
        mod = importlib.import_module(f"agents_tmux.commands.{module}")
        command_parser = sub.add_parser(name, help=mod.HELP, description=mod.__doc__.strip().splitlines()[0] if mod.__doc__ else None)
        mod.add_arguments(command_parser)
        # The same -L/-S/-C after the subcommand (`agents list -L agents`).
        # SUPPRESS: an option not repeated there keeps the value given before.
        own_dir = command_parser._option_string_actions.get("-C")
        _add_global_options(command_parser, argparse.SUPPRESS, with_chdir=own_dir is None)
        command_parser.set_defaults(run=mod.run, dir_dest=own_dir.dest if own_dir is not None else None)
    return parser


def _subcommand(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (after any -L/-S/-C and their values), or None.

    >>> _subcommand(["-L", "agents", "spawn", "fix it"]), _subcommand(["-Lx", "list"]), _subcommand(["--help"])
    ('spawn', 'list', None)
    """
    words = iter(argv)
    for word in words:
        if word in ("-L", "-S", "-C"):
            next(words, None)
        elif word.startswith("-"):
            continue
        else:
            return word if word in dict(COMMANDS) else None
    return None


def _add_global_options(parser: argparse.ArgumentParser, default: object, with_chdir: bool = True) -> None:
    """-L, -S and -C, accepted before the subcommand and after it."""
    parser.add_argument("-L", dest="socket_name", metavar="NAME", default=default,
                        help="tmux server socket name (like tmux -L; outside tmux the default is the server `agents up` runs, if it runs)")
    parser.add_argument("-S", dest="socket_path", metavar="PATH", default=default, help="tmux server socket path (like tmux -S)")
    if with_chdir:
        parser.add_argument("-C", dest="chdir", metavar="DIR", default=default, help="run as if started in DIR (like git -C)")


def socket_of(args: argparse.Namespace) -> Socket:
    """The tmux server chosen on the command line (else tmux's own default)."""
    return Socket(name=args.socket_name, path=args.socket_path)


def command_hint(args: argparse.Namespace | None, *words: str) -> str:
    """``agents WORDS`` to paste into the shell this command ran in: quoted, on the same tmux server.

    >>> from argparse import Namespace
    >>> command_hint(Namespace(socket_name="a", socket_path="/tmp/b s"), "unpark", "fix-it")
    "agents -S '/tmp/b s' unpark fix-it"
    """
    import shlex

    # The server the command used: -S wins over -L, as in tmux and Socket.
    flags = Socket(name=getattr(args, "socket_name", None), path=getattr(args, "socket_path", None)).flags()
    return " ".join(shlex.quote(word) for word in ("agents", *flags, *words))


#: The arguments of the command running in this process (set by :func:`main`): read by :func:`hint`.
_RUNNING: argparse.Namespace | None = None


def hint(*words: str) -> str:
    """:func:`command_hint` for the command running now, for the "run this" lines code deep inside it writes.

    Read when the line is written: a command that picked another server
    (restore starting one) has its hints name that one.
    """
    return command_hint(_RUNNING, *words)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(_subcommand(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    from_key = bool(getattr(args, "from_key", False))
    try:
        # tmux gives a pane made at the request of an unattached client (this
        # command outside tmux) that client's PATH: with `agents` on it, every
        # agent and every shell this command starts can run `agents`.
        from agents_tmux.paths import path_with_bin

        global USER_PATH, _RUNNING
        USER_PATH = os.environ.get("PATH", os.defpath)
        os.environ["PATH"] = path_with_bin(USER_PATH)
        _apply_chdir(args)
        _choose_server(args)
        _RUNNING = args
        from agents_tmux import repolock

        # Who holds the repository lock, for a command that has to wait for it.
        repolock.set_caller(repolock.Caller(
            command=_command_line(argv), socket_name=args.socket_name, socket_path=args.socket_path,
            from_key=from_key, client=getattr(args, "client", None),
        ))
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


def _apply_chdir(args: argparse.Namespace) -> None:
    """``-C DIR``: work from DIR; a subcommand's own ``-C`` (``--repo``/``--dir``) gets it too."""
    directory = getattr(args, "chdir", None)
    if not directory:
        return
    try:
        os.chdir(os.path.expanduser(directory))
    except OSError as exc:
        raise AgentsError(f"-C {directory}: {exc.strerror or exc}") from None
    dest = getattr(args, "dir_dest", None)
    if dest and getattr(args, dest, None) is None:
        setattr(args, dest, os.getcwd())


def _choose_server(args: argparse.Namespace) -> None:
    """Outside tmux with no -L/-S: the server `agents up` runs, when it runs (and say so).

    Inside tmux, ``$TMUX`` names the server. ``up`` picks its own socket, and
    the hook handler always runs inside an agent's pane.
    """
    if args.socket_name or args.socket_path or inside_tmux() or args.command in ("up", "hook"):
        return
    if server_listens(UP_SOCKET):
        args.socket_name = UP_SOCKET
        print(f"agents: using the tmux server of `agents up` (-L {UP_SOCKET}); -L/-S choose another", file=sys.stderr)


def _command_line(argv: Sequence[str] | None) -> str:
    """``agents rm fix-login --force``: the command as typed, shortened, for "held by" lines."""
    words = list(sys.argv[1:] if argv is None else argv)
    text = " ".join(["agents", *(w if w.isprintable() else repr(w) for w in words)])
    return text if len(text) <= 80 else text[:77] + "..."


def _report(args: argparse.Namespace, message: str, from_key: bool) -> int:
    message = " ".join(message.split())
    if from_key:
        display_message(socket_of(args), message, getattr(args, "client", None))
        return 0
    print(message, file=sys.stderr)
    return 1
