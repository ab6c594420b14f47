"""Run tmux commands with the standard library only.

Every command talks to tmux through this module: :class:`Server` offers
the ``cmd`` call of libtmux's ``Server`` (the one part of libtmux agents.tmux
used), without the ~90 ms libtmux's import costs on each key press (spawn,
jump), hook event and status refresh. Servers are chosen by :class:`Socket`.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from agents_tmux.errors import AgentsError
from agents_tmux.tmuxtext import counted_format, no_formats, parse_counted

__all__ = ["CommandResult", "Server", "Socket", "display_message", "inside_tmux", "literal_args", "no_formats", "read_records", "run", "tmux_binary",
           "tmux_quote"]


@dataclass(frozen=True)
class Socket:
    """Which tmux server to talk to.

    With neither field set, tmux itself decides: ``$TMUX`` inside tmux, else
    the default socket. ``name`` is tmux's ``-L``, ``path`` is ``-S``.
    """

    name: str | None = None
    path: str | None = None

    def flags(self) -> list[str]:
        """The tmux command-line flags that select this server."""
        if self.path:
            return ["-S", self.path]
        if self.name:
            return ["-L", self.name]
        return []


@dataclass(frozen=True)
class CommandResult:
    """What one ``tmux`` run gave: its exit status and its output lines.

    As libtmux reports it: stdout without its trailing empty lines, stderr
    without empty lines.
    """

    returncode: int
    stdout: list[str]
    stderr: list[str]


class Server:
    """One tmux server, reached by running ``tmux`` (with ``-L``/``-S``) for each command.

    ``socket_name`` and ``socket_path`` are tmux's ``-L`` and ``-S``; with
    neither, tmux picks the server (``$TMUX`` inside tmux, else the default).
    """

    def __init__(self, socket_name: str | None = None, socket_path: str | None = None) -> None:
        self.socket_name = socket_name
        self.socket_path = socket_path
        self._socket_in_use: str | None = None

    @property
    def socket(self) -> Socket:
        """The :class:`Socket` that reaches this server."""
        return Socket(name=self.socket_name, path=str(self.socket_path) if self.socket_path else None)

    def cmd(self, *args: str) -> CommandResult:
        """Run one tmux command (or several joined by ``;`` arguments) as given; never raises for tmux's errors.

        Arguments are passed as they are (see :func:`literal_args` for text
        that may end in ``;``); nothing passes through a shell.
        """
        try:
            proc = subprocess.run(
                [tmux_binary(), *self.socket.flags(), *args], stdin=subprocess.DEVNULL, capture_output=True,
                text=True, encoding="utf-8", errors="backslashreplace", check=False,
            )
        except OSError as exc:
            raise AgentsError(f"tmux {args[0] if args else ''}: {exc.strerror or exc}") from None
        stdout = proc.stdout.split("\n")
        while stdout and stdout[-1] == "":
            stdout.pop()
        return CommandResult(proc.returncode, stdout, [line for line in proc.stderr.split("\n") if line])

    def socket_in_use(self) -> str:
        """tmux's ``#{socket_path}`` for this server, asked once ('' when it cannot tell)."""
        if self._socket_in_use is None:
            result = self.cmd("display-message", "-p", "#{socket_path}")
            self._socket_in_use = result.stdout[0].strip() if result.returncode == 0 and result.stdout else ""
        return self._socket_in_use

    def note_socket_in_use(self, path: str) -> None:
        """Keep ``#{socket_path}`` read along with other facts (one tmux call fewer)."""
        if path:
            self._socket_in_use = path

    def is_alive(self) -> bool:
        """True when a tmux server answers on this socket.

        A connect to the socket file when its path is known (no process
        started: this runs on every key press), else ``list-sessions``.
        """
        path = self.socket_file()
        if path is None:
            return self.cmd("list-sessions", "-F", "#{session_id}").returncode == 0
        return _listens(path)

    def socket_file(self) -> str | None:
        """The socket file tmux would use for this server (None when tmux alone can tell)."""
        if self.socket_path:
            return str(self.socket_path)
        if self.socket_name:
            return socket_file(self.socket_name)
        if os.environ.get("TMUX"):
            return tmux_env_socket()
        return socket_file("default")


def tmux_env_socket() -> str | None:
    """The socket path ``$TMUX`` names (None outside tmux, or when it does not read as tmux writes it)."""
    inside = os.environ.get("TMUX", "")
    # $TMUX is "socket path,server pid,session": the path may hold a comma.
    return inside.rsplit(",", 2)[0] if inside.count(",") >= 2 else None


#: The socket name of the server ``agents up`` starts (tmux -L agents).
UP_SOCKET = "agents"


def socket_file(name: str) -> str:
    """Where tmux puts the socket of ``tmux -L name``: ``$TMUX_TMPDIR/tmux-UID/name``."""
    return os.path.join(os.environ.get("TMUX_TMPDIR") or "/tmp", f"tmux-{os.getuid()}", name)


def server_listens(name: str) -> bool:
    """True when a tmux server answers on socket ``name`` (no process started: a connect).

    A socket file left by a server that died refuses the connection.
    """
    return _listens(socket_file(name))


def _listens(path: str) -> bool:
    """True when a server accepts a connection on the socket file ``path``."""
    # _socket, not socket: the same call without the ~5 ms import of socket's enums (each key press).
    import _socket

    probe = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def find_program(name: str, path: str | None = None) -> str | None:
    """``shutil.which(name, path=path)`` without importing shutil (a few ms on every key press).

    A name with a ``/`` is checked as it is; else each folder of ``path``
    (default: ``$PATH``) in turn.

    >>> find_program("sh", "/nonexistent:/bin") == "/bin/sh", find_program("no-such-program-here"), find_program("/bin/sh")
    (True, None, '/bin/sh')
    """
    folders = [""] if "/" in name else (os.environ.get("PATH", os.defpath) if path is None else path).split(os.pathsep)
    for folder in folders:
        candidate = os.path.join(folder, name) if folder else name
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    return None


_FOUND: dict[str, str] = {}


def tmux_binary() -> str:
    """The tmux executable (looked up once per process), or a clear error when it is missing."""
    found = _FOUND.get("tmux") or find_program("tmux")
    if not found:
        raise AgentsError("tmux is not installed or not on PATH (Debian/Ubuntu: apt-get install tmux)")
    _FOUND["tmux"] = found
    return found


def literal_args(args: tuple[str, ...] | list[str]) -> list[str]:
    r"""Arguments for tmux's command line, with text kept as text.

    tmux reads an argument that ends in ``;`` as the end of a command (so
    that ``tmux a \; b`` runs two). A task such as ``fix it;`` must not do
    that: tmux turns a trailing ``\;`` back into ``;``, so every argument
    but a lone ``;`` separator gets that escape.

    >>> literal_args(["set", "@x", "fix it;", ";", "set", "@y", "a\\;"])
    ['set', '@x', 'fix it\\;', ';', 'set', '@y', 'a\\\\;']
    """
    return [arg[:-1] + "\\;" if arg != ";" and arg.endswith(";") else arg for arg in args]


def run(socket: Socket, *args: str, check: bool = True) -> str:
    """Run one tmux command (or several joined by ``;`` arguments); return stdout.

    Arguments go to tmux as an argument vector: nothing here passes through
    a shell, so any text is safe as an argument.
    """
    proc = subprocess.run(
        [tmux_binary(), *socket.flags(), *literal_args(args)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and proc.returncode != 0:
        message = (proc.stderr or proc.stdout).strip().splitlines()
        detail = message[-1] if message else f"exit status {proc.returncode}"
        raise AgentsError(f"tmux {args[0]}: {detail}")
    return proc.stdout


def read_records(socket: Socket, names: list[str] | tuple[str, ...], *command: str, check: bool = True) -> list[list[str]]:
    """The values of ``names`` (format variables or options), one record per line ``command`` prints.

    ``command`` is a tmux command that takes a format last (``list-panes -a
    -F``, ``display-message -p``); the format is added here. Values are read
    by length, never split on a separator (see :mod:`agents_tmux.tmuxtext`),
    so any text a task or a path holds is read back exactly. With ``check``
    off, a failed command (no server) gives no records.
    """
    argv = [tmux_binary(), "-u", *socket.flags(), *literal_args([*command, counted_format(names)])]
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise AgentsError(f"tmux {command[0]}: {exc}") from None
    if proc.returncode != 0:
        if not check:
            return []
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise AgentsError(f"tmux {command[0]}: {lines[-1] if lines else f'exit status {proc.returncode}'}")
    try:
        return parse_counted(proc.stdout, len(names))
    except ValueError as exc:
        raise AgentsError(f"tmux {command[0]}: unexpected output ({exc}); agents.tmux needs tmux 3.2 or newer") from None


def inside_tmux() -> bool:
    """True when this process runs under a tmux server (``$TMUX`` is set)."""
    return bool(os.environ.get("TMUX"))


def tmux_quote(text: str) -> str:
    """``text`` as one double-quoted tmux word whose formats stay literal.

    For commands that tmux parses later (confirm-before, bindings) and that
    expand formats when they run (run-shell): ``##`` becomes ``#`` then.
    """
    escaped = no_formats(text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$"))
    return f'"{escaped}"'


def display_message(socket: Socket, text: str, client: str | None = None) -> None:
    """Show ``text`` on a client's status line; never fails (used to report errors).

    A command started by a key binding runs outside any client, so tmux needs
    to be told which client to show it on; without one, every attached client
    gets it.
    """
    clients = [client] if client else []
    if not clients:
        try:
            clients = [c for c in run(socket, "list-clients", "-F", "#{client_name}", check=False).splitlines() if c]
        except AgentsError:
            return
    args: list[str] = []
    for name in clients:
        args += ["display-message", "-c", name, "-d", "5000", "--", no_formats(text), ";"]
    if not args:
        return
    args.pop()
    # display-message expands formats; '##' is a literal '#', so '#{...}' in a
    # task or a path is shown, never expanded (tmux 3.3 has no -l flag).
    try:
        run(socket, *args, check=False)
    except AgentsError:
        pass
