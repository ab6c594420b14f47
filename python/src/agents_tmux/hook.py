"""Hook handler: one hook event in, the agent's pane options updated.

An agent program (Claude Code, through the ``--settings`` file written at
spawn) runs ``run_hook.py <program>`` for every hook event agents.tmux
registers; the program's adapter (:mod:`agents_tmux.programs`) says which
events it knows and what state each one means. It reads the event's JSON on
stdin and finds its pane through ``$TMUX_PANE``, which the hook process
inherits from Claude. It must never slow Claude down or change what Claude
does: it imports only the standard library, prints nothing, always exits 0,
and costs one tmux command per event (two when it has to notify someone); at
the end of a turn it also starts the usage reading (:mod:`agents_tmux.usage`),
detached, without waiting for it.

Run as ``python -I -S hook.py``: it does not need site-packages, and skipping
them halves Python's start-up on some installs. For the same reason it avoids
the heavier standard modules (``json``, ``subprocess``, ``shutil`` cost more
to import than the rest of the handler takes to run): it parses with the C
scanner behind ``json`` and starts tmux with ``os.posix_spawn``.
"""

from __future__ import annotations

import os
import select
import stat
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from agents_tmux.programs import Program

#: How long a notification stays on the status line, in milliseconds.
MESSAGE_MS = "4000"
#: The longest the handler waits for the registry's lock (seconds): the agent
#: is blocked while its hook runs, so the whole event stays well under 2 s.
REGISTRY_WAIT = 0.8


#: The pane option counting the prompts the program took and has not answered
#: yet (see ``Program.turn_of``): a Stop leaves the agent working while a
#: queued prompt is still to come.
TURNS_OPTION = "@agent_turns"
_TURNS = "#{?@agent_turns,#{@agent_turns},0}"
#: What the first command prints (length-prefixed: a name or a notify command may hold any character).
REPORT = ("@agent_state", "@agent_name", "@agents-notify", "@agents-notify-command")


def tmux_commands(pane: str, state: str | None, session: tuple[str, str], now: int, turn: str | None = None) -> list[str]:
    """One tmux invocation: report what notifying needs, then set the options.

    ``session``: the session id and transcript path the event carries ("" if none).
    ``turn``: how the event moves the count of unanswered prompts (``Program.turn_of``).

    It prints the pane's previous state, name and notify settings (one
    record of :data:`REPORT`, length-prefixed), the state it ends in (one
    counted value: after a Stop it depends on the count, which only tmux
    knows), then the attached clients, so the caller can tell a transition
    from a repeat without a second round trip. Read it with :func:`read_report`.
    """
    from agents_tmux.tmuxtext import counted_format

    args = ["display-message", "-p", "-t", pane, counted_format(REPORT), ";"]
    if turn == "begin":
        args += ["set-option", "-p", "-F", "-t", pane, TURNS_OPTION, "#{e|+:%s,1}" % _TURNS, ";"]
    elif turn == "end":
        args += ["set-option", "-p", "-F", "-t", pane, TURNS_OPTION, "#{?#{e|>:%s,1},#{e|-:%s,1},0}" % (_TURNS, _TURNS), ";"]
        if state == "idle":
            # Idle only when no prompt submitted meanwhile is waiting its turn.
            state = "#{?#{e|>:%s,0},working,idle}" % _TURNS
    elif turn == "reset":
        args += ["set-option", "-p", "-t", pane, TURNS_OPTION, "0", ";"]
    if state is not None:
        # state_since moves only on a real change, so "waited longest" stays true.
        args += [
            "if-shell", "-F", "-t", pane, f"#{{!=:#{{@agent_state}},{state}}}",
            f"set-option -p -t {pane} @agent_state_since {now}", ";",
            "set-option", "-p", "-F", "-t", pane, "@agent_state", state, ";",
        ]
    for value, option in zip(session, ("@agent_session_id", "@agent_transcript")):
        if value:
            args += ["set-option", "-p", "-t", pane, option, value, ";"]
    args += ["display-message", "-p", "-t", pane, counted_format(["@agent_state"]), ";", "list-clients", "-F", "#{client_name}"]
    return args


def read_report(out: bytes) -> tuple[list[str], str, list[str]]:
    r"""What :func:`tmux_commands` printed: the :data:`REPORT` values, the state now, the clients.

    Raises ``ValueError`` when the output is not in that shape.

    >>> read_report(b"4:idle1:a0:5:x\ty\nz\n7:working\n/dev/pts/1\n")
    (['idle', 'a', '', 'x\ty\nz'], 'working', ['/dev/pts/1'])
    """
    from agents_tmux.tmuxtext import read_counted

    report, pos = read_counted(out, 0, len(REPORT))
    (state,), pos = read_counted(out, pos, 1)
    clients = [line for line in out[pos:].decode("utf-8", "replace").split("\n") if line]
    return report, state, clients


def should_notify(previous: str, state: str | None) -> bool:
    """Waiting and a failed turn always deserve a word; idle only when a turn just ended."""
    if state in ("waiting", "error"):
        return previous != state
    return state == "idle" and previous == "working"


def notify(tmux: str, pane: str, name: str, state: str, clients: list[str], command: str) -> None:
    """Tell every attached client, ring the pane's bell, run the user's notifier."""
    texts = {"waiting": "is waiting for you", "error": "stopped on an error"}
    text = f"agent {name} {texts.get(state, 'is done')}"
    # display-message expands formats: the text is shown as is, never expanded.
    from agents_tmux.tmuxtext import no_formats

    shown = no_formats(text)
    args: list[str] = []
    for client in clients:
        args += ["display-message", "-c", client, "-d", MESSAGE_MS, "--", shown, ";"]
    if args:
        _run([tmux, *args[:-1]])
    ring_bell(os.environ.get("AGENTS_TMUX_TTY", ""))
    if command:
        # The user's command, with the message as "$1": the text never becomes shell code.
        _spawn_detached(["/bin/sh", "-c", command + ' "$1"', "agents-notify", text])


#: States in which an agent with hooks still needs its screen read (see watch.POLL).
SCREEN_STATES = ("starting", "working", "waiting")


def wake_watcher(state: str | None = None) -> None:
    """Poke the server's screen watcher so it re-reads the states; start it if none runs and ``state`` needs it.

    The watcher leaves while every agent is idle (hooks tell everything
    then); the event that makes an agent need its screen again brings it back.
    """
    path = os.environ.get("AGENTS_TMUX_WAKE")
    if not path:
        return
    try:
        # O_NOFOLLOW and the check below: a symlink or a regular file put in the
        # FIFO's place is never written through.
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        # ENOENT / ENXIO: no watcher is reading.
        if state in SCREEN_STATES and exc.errno in (2, 6):
            folder = os.path.dirname(path)
            watcher = os.path.join(os.path.dirname(os.path.abspath(__file__)), "watch.py")
            _spawn_detached([sys.executable, "-I", "-S", watcher, "--server", folder])
        return
    try:
        info = os.fstat(fd)
        if not stat.S_ISFIFO(info.st_mode) or info.st_uid != os.getuid():
            return
        os.write(fd, b"!")
    except OSError:
        pass
    finally:
        os.close(fd)


def _run(argv: list[str], timeout: float = 5.0) -> str | None:
    """Run ``argv`` (stdin and stderr on /dev/null); its stdout, or None on failure."""
    out = _run_raw(argv, timeout)
    return None if out is None else out.decode("utf-8", "replace")


def _run_raw(argv: list[str], timeout: float = 5.0) -> bytes | None:
    """:func:`_run`, its stdout as bytes."""
    try:
        read_end, write_end = os.pipe()
    except OSError:
        return None
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        pid = os.posix_spawn(
            argv[0], argv, os.environ,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, devnull, 0),
                (os.POSIX_SPAWN_DUP2, write_end, 1),
                (os.POSIX_SPAWN_DUP2, devnull, 2),
                (os.POSIX_SPAWN_CLOSE, read_end),
            ],
        )
    except OSError:
        os.close(read_end)
        return None
    finally:
        os.close(write_end)
        os.close(devnull)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_end], [], [], left)[0]:
                os.kill(pid, 9)  # a hung tmux must not hold Claude up
                os.waitpid(pid, 0)
                return None
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
    _, status = os.waitpid(pid, 0)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        return None
    return b"".join(chunks)


def ring_bell(tty: str) -> None:
    """A bell on the agent's terminal ``tty`` (none when empty).

    Written to the pane's own terminal, it gives its window tmux's bell flag
    (window-status-bell-style), exactly as if the agent had rung it.
    """
    if not tty:
        return
    try:
        fd = os.open(tty, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            os.write(fd, b"\a")
        finally:
            os.close(fd)
    except OSError:
        pass


def _spawn_detached(argv: list[str]) -> None:
    """Start ``argv`` in its own session with no stdio, and do not wait for it."""
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        os.posix_spawn(
            argv[0], argv, os.environ, setsid=True,
            file_actions=[(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)],
        )
    except OSError:
        pass
    finally:
        os.close(devnull)


def find_program(name: str, path: str | None) -> str | None:
    """``shutil.which`` for one name, without importing shutil."""
    for folder in (path or os.defpath).split(os.pathsep):
        candidate = os.path.join(folder or ".", name)
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    return None


class _DecodeContext:
    """What the C JSON scanner reads from its context: json.loads's defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float
    memo: dict[str, str] = {}


def parse_json(text: str) -> object:
    """``json.loads`` through the C scanner (``json`` itself drags in ``re``).

    >>> parse_json(' {"a": [1, 2.5, "x"], "b": null} ')
    {'a': [1, 2.5, 'x'], 'b': None}
    """
    try:
        from _json import make_scanner
    except ImportError:  # pragma: no cover - CPython always has it
        import json

        return json.loads(text)
    start = len(text) - len(text.lstrip())
    value, end = make_scanner(_DecodeContext())(text, start)
    if text[end:].strip():
        raise ValueError("extra data after the JSON value")
    return value


def remember_session(tmux: str, pane: str, session: tuple[str, str]) -> None:
    """On a session's start, record a new session id (``/clear``, a resume) in the registry.

    Rare (once per session), so it may cost a second tmux call and the
    registry's stdlib-only import. Called after the pane's options were
    updated, so the pane never lags behind the registry; the registry itself
    writes only when the id or transcript really changed.
    """
    session_id, transcript = session
    if not session_id:
        return
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from agents_tmux.tmuxtext import counted_format, parse_counted

    # Read by length (tmux -u: bytes unaltered): a repository path may hold a tab or a newline.
    out = _run_raw([tmux, "-u", "display-message", "-p", "-t", pane, counted_format(["@agent_name", "@agent_repo"])])
    try:
        (name, repo), = parse_counted(out or b"", 2)
    except ValueError:
        return
    if not name or not repo:
        return
    try:
        from pathlib import Path

        from agents_tmux import registry

        # Bounded: whatever holds the registry's lock, Claude is not kept waiting;
        # the id then waits in a note beside the registry (never lost).
        registry.remember_session(Path(repo), name, session_id, transcript, wait=REGISTRY_WAIT)
    except Exception:  # noqa: BLE001, S110 - the registry is a convenience here, never a failure
        pass


def record_usage(program: Program, tmux: str, pane: str, payload: dict[str, object], environ: dict[str, str]) -> None:
    """At the end of a turn, read the conversation's token usage onto the pane, in the background.

    Claude writes its transcript a moment after Stop fires, and reading a long
    one must not hold Claude up: :func:`agents_tmux.usage.main` does it detached.
    """
    transcript = program.session_of(payload)[1]
    if program.reads_usage and transcript.startswith("/"):
        src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        code = f"import sys; sys.path.insert(0, {src!r}); from agents_tmux.usage import main; main()"
        _spawn_detached([sys.executable, "-I", "-S", "-c", code, program.name, tmux, pane, transcript])


def handle(raw: str, environ: dict[str, str], program_name: str = "claude") -> None:
    """Apply one hook event of ``program_name``; silently does nothing when it cannot."""
    pane = environ.get("TMUX_PANE", "")
    if not pane.startswith("%") or not pane[1:].isdigit() or not environ.get("TMUX"):
        return
    try:
        payload = parse_json(raw)
    except Exception:  # noqa: BLE001 - malformed input of any kind is ignored
        return
    if not isinstance(payload, dict):
        return
    program = load_program(program_name)
    if program is None:
        return
    event = program.event_of(payload)
    if not isinstance(event, str) or not program.knows(event):
        return
    state = program.state_for(payload)
    tmux = find_program("tmux", environ.get("PATH"))
    if tmux is None:
        return
    # Ids and paths go back into argv on restore: only well-formed ones are kept.
    session = program.checked_session(program.session_of(payload))
    args = tmux_commands(pane, state, session, int(time.time()), program.turn_of(payload))
    # tmux reads a trailing ';' as a command separator; '\\;' keeps it literal.
    args = [a[:-1] + "\\;" if a != ";" and a.endswith(";") else a for a in args]
    # -u: bytes unaltered, so the lengths tmux prints match what it printed.
    out = _run_raw([tmux, "-u", *args])
    if out is None:
        return
    try:
        (previous, name, enabled, command), now_state, clients = read_report(out)
    except ValueError:
        return
    state = now_state if state is not None else None
    if program.starts_session(payload):
        remember_session(tmux, pane, session)
    wake_watcher(state)
    if event in program.usage_events:
        record_usage(program, tmux, pane, payload, environ)
    if enabled in ("off", "0", "no", "false") or not should_notify(previous, state):
        return
    assert state is not None
    notify(tmux, pane, name or pane, state, clients, command)


def load_program(name: str) -> Program | None:
    """The adapter of program ``name`` (see :mod:`agents_tmux.programs`), or None."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from agents_tmux import programs

    try:
        return programs.get(name)
    except KeyError:
        return None


def main(argv: list[str] | None = None) -> int:
    """Entry point: never fails, never prints, whatever it is given.

    ``argv[1]`` names the program whose hook this is (``claude`` when absent,
    as in settings files written before programs had adapters).
    """
    args = sys.argv if argv is None else argv
    program = args[1] if len(args) > 1 else "claude"
    try:
        # All of it: a long last message makes payloads of many MiB, and a cut
        # one would not parse (the event would be lost, the state wrong).
        stream = getattr(sys.stdin, "buffer", None)
        raw = stream.read().decode("utf-8", "replace") if stream is not None else sys.stdin.read()
    except (OSError, ValueError):
        return 0
    try:
        handle(raw, dict(os.environ), program)
    except Exception:  # noqa: BLE001 - a hook must never disturb Claude
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
