"""Agent programs: what differs between Claude Code, Codex, Gemini CLI, Aider...

Each program agents.tmux knows is one module in this package, ``<name>.py``,
that defines ``PROGRAM``: an instance of a :class:`Program` subclass. A
config kind (``[agents.X]`` in the config) names its adapter with
``program = "<name>"``; a kind that names none gets :class:`Program` itself,
the generic adapter: any command line, its state read from the screen only.
Adding a program is therefore one file here plus one test file; nothing else
lists the programs (:func:`names` reads this folder).

What an adapter answers (every method has a working default here):

* **Starting** (:meth:`Program.prepare`, :meth:`Program.release`, :meth:`Program.hook_args`, :meth:`Program.session_args`,
  :meth:`Program.prompt_args`, :attr:`Program.pane_env`): the arguments that wire the program's hooks to
  agents.tmux, that choose its session id up front, and that pass the task;
  the variables its pane always needs (see :func:`pane_env`).
* **Bringing a conversation back** (:meth:`Program.resume_args`,
  :meth:`Program.continue_args`, :meth:`Program.transcript_paths`,
  :meth:`Program.transcript`,
  :meth:`Program.has_conversations`, :meth:`Program.conversation`): resume one
  session by id, or the newest in a folder, where the program keeps its
  transcripts, and how ``agents log`` shows one to a person.
* **Hooks** (:attr:`Program.hook_events`, :meth:`Program.state_for`,
  :meth:`Program.session_of`, :meth:`Program.starts_session`): the events the
  program reports and the state (``working``, ``waiting``, ``idle``,
  ``error``, ``exited``) each one means. The hook handler runs
  ``run_hook.py <name>`` and calls these, so a program module must import
  only the standard library at its top (and nothing slow: no ``json``, no
  ``subprocess``, no ``dataclasses``); anything heavier goes inside the
  method that needs it.
* **Usage** (:attr:`Program.usage_markers`, :attr:`Program.usage_events`,
  :meth:`Program.read_usage`, :meth:`Program.usage_files`,
  :meth:`Program.owns_transcript`, :meth:`Program.context_window`): which
  transcript lines report tokens and how to count them, after which hook
  events, and which files belong to one conversation. :mod:`agents_tmux.usage`
  keeps what is common (reading only new bytes, the tallies, prices, budgets,
  the summary) and asks the adapter for the rest; it runs after every turn, so
  the same import rules apply.
* **The screen** (:attr:`Program.screen`): default regular expressions per
  state (``waiting``, ``working``, ``idle``, and ``error`` where the program
  shows one), for the screen watcher; a kind's ``[agents.X.screen]`` table
  replaces them state by state.

``kind`` arguments are :class:`agents_tmux.config.AgentKind` objects: the
adapter supplies the program's behaviour, the kind the user's settings
(command, ``prompt`` mode, flags and templates), which win where they exist.
"""

from __future__ import annotations

import os

# typing costs the hook handler an import; mypy reads this name the same way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from agents_tmux.config import AgentKind
    from agents_tmux.usage import Tally

#: The adapter of kinds that name no program.
GENERIC = "generic"
#: States a hook or the screen may report.
STATES = ("starting", "working", "waiting", "idle", "error", "exited")


class Program:
    """The generic adapter: start any command line, read its state off its screen.

    Subclasses override what their program does differently; each method's
    default is what a program without hooks or sessions needs.
    """

    #: The module's name, as written in ``program = "..."``.
    name = GENERIC
    #: Hook events to register with the program (empty: it has no hooks).
    hook_events: tuple[str, ...] = ()
    #: Default screen patterns per state (Python regular expressions).
    screen: dict[str, tuple[str, ...]] = {}
    #: False when no hook reports that the program is up and ready before its
    #: first prompt (Codex fires SessionStart only then): started without a
    #: task, its screen says when it is idle.
    reports_start = True
    #: Command names (the first word of a kind's ``command``, without its
    #: folder) that run this program: a kind that names no ``program`` but
    #: runs one of these still gets its :attr:`pane_env`.
    commands: tuple[str, ...] = ()
    #: Variables the program's pane gets however it starts (spawn, restart,
    #: restore), whatever the kind's own ``env`` table holds besides: what the
    #: program needs to behave in a terminal. The kind's ``env`` still wins
    #: for a variable it sets itself.
    pane_env: dict[str, str] = {}
    #: Bytes that every transcript line reporting usage holds; empty when the
    #: adapter reads no usage. Only lines holding one are decoded: the rest of a
    #: transcript (tool results, mostly) is skipped unread.
    usage_markers: tuple[bytes, ...] = ()
    #: Hook events after which the turn's usage is in the transcript: the hook
    #: handler starts the usage reading on them.
    usage_events: tuple[str, ...] = ()
    #: True for the one adapter that reads the transcripts no adapter claims by
    #: name (:meth:`owns_transcript`), when nothing else says whose they are.
    reads_unclaimed_transcripts = False

    # ---------------------------------------------------------------- hooks

    @property
    def has_hooks(self) -> bool:
        """True when the program reports its state through hooks."""
        return bool(self.hook_events)

    def state_for(self, payload: dict[str, object]) -> str | None:
        """The state one hook event moves the agent to, or None to leave it."""
        del payload
        return None

    def turn_of(self, payload: dict[str, object]) -> str | None:
        """How an event moves the count of prompts the program has taken and not yet answered.

        ``"begin"``: a prompt was submitted (perhaps queued behind a running
        turn); ``"end"``: a turn ended, and the agent is idle only when no
        submitted prompt is left; ``"reset"``: nothing is pending any more (a
        new session, a failed turn). None: the count is left as it is.
        """
        del payload
        return None

    def knows(self, event: str) -> bool:
        """True for the events the handler acts on; others are ignored entirely."""
        return event in self.hook_events

    def event_of(self, payload: dict[str, object]) -> object:
        """The event's name in ``payload`` (programs name the key differently)."""
        return payload.get("hook_event_name")

    def session_of(self, payload: dict[str, object]) -> tuple[str, str]:
        """The session id and transcript path an event carries ("" when it carries none)."""
        session_id, transcript = payload.get("session_id"), payload.get("transcript_path")
        return (
            session_id if isinstance(session_id, str) else "",
            transcript if isinstance(transcript, str) else "",
        )

    def valid_session_id(self, session_id: str) -> bool:
        """True when ``session_id`` has the shape of this program's session ids (a UUID by default).

        Ids come from hook payloads and from the registry, and go back into
        the program's argv on restore (``--resume <id>``): anything else (a
        flag such as ``--dangerously-skip-permissions``, a path such as
        ``../../x``) is never stored or used.
        """
        return is_uuid(session_id)

    def valid_transcript(self, path: str) -> bool:
        """True when ``path`` can be a transcript file: absolute, plain, no ``..``."""
        return is_plain_absolute_path(path)

    def checked_session(self, session: tuple[str, str]) -> tuple[str, str]:
        """``session`` (id, transcript) with what fails validation dropped.

        A transcript counts only with a valid id: it belongs to that session.
        """
        session_id, transcript = session
        if not self.valid_session_id(session_id):
            return "", ""
        return session_id, transcript if self.valid_transcript(transcript) else ""

    def starts_session(self, payload: dict[str, object]) -> bool:
        """True for the event that opens a (new, resumed or cleared) session."""
        del payload
        return False

    # ------------------------------------------------------------- starting

    def prepare(self, kind: AgentKind, workdir: Path) -> dict[str, str] | None:
        """Prepare ``workdir`` (the agent's folder) for the program's hooks, before it starts.

        Returns the environment the program needs for them ({} for none), or
        None when they cannot be wired there without touching what is not
        agents.tmux's: the screen alone then tells the agent's state. Most
        programs take their hooks on the command line (:meth:`hook_args`).
        """
        del kind, workdir
        return {}

    def own_files(self, workdir: Path) -> list[str]:
        """Files (relative paths) :meth:`prepare` wrote into ``workdir`` and nobody changed since.

        Removing the worktree loses nothing of the user's in them, so
        ``agents rm`` does not count them as work.
        """
        del workdir
        return []

    def release(self, workdir: Path) -> list[str]:
        """Take back what :meth:`prepare` wrote into ``workdir``, a folder that outlives the agent; what went.

        Called for the main checkout once no agent of this program works there
        any more (an agent's own worktree goes with it). Only files exactly as
        :meth:`prepare` wrote them go; anything the user added or changed stays.
        """
        del workdir
        return []

    def hook_args(self, kind: AgentKind) -> list[str]:
        """Arguments that make the program call agents.tmux's hook handler."""
        del kind
        return []

    def session_args(self, kind: AgentKind, session_id: str = "") -> tuple[list[str], str]:
        """Arguments that fix a new session's id up front, and that id ("" if none).

        With ``session_id_flag`` set on the kind, ``session_id`` (default: a
        fresh UUID) is passed with it.
        """
        if not kind.session_id_flag:
            return [], ""
        session_id = session_id or random_uuid()
        return [kind.session_id_flag, session_id], session_id

    def prompt_args(self, kind: AgentKind, prompt: str) -> tuple[list[str], str]:
        """Arguments that pass the task, and text to type into the pane instead.

        ``kind.prompt``: ``arg`` (last argument), ``flag:--NAME``, ``keys``
        (typed once the program runs) or ``none``.
        """
        if not prompt or kind.prompt == "none":
            return [], ""
        if kind.prompt == "keys":
            return [], prompt
        if kind.prompt.startswith("flag:"):
            return [kind.prompt[len("flag:"):], prompt], ""
        return [prompt], ""

    # ------------------------------------------------ bringing it back

    def resume_args(self, kind: AgentKind, session_id: str) -> list[str]:
        """Arguments that resume session ``session_id`` (the kind's ``resume`` template)."""
        return [part.replace("{session_id}", session_id) for part in kind.resume]

    def continue_args(self, kind: AgentKind) -> list[str]:
        """Arguments that continue the newest conversation in the working directory."""
        return list(kind.continue_args)

    def transcript_paths(self, worktree: Path, session_id: str, recorded: str = "") -> list[Path]:
        """Where the transcript of ``session_id`` may be, likeliest first.

        ``recorded``: the path a hook reported for it.
        """
        from pathlib import Path

        del worktree, session_id
        return [Path(recorded)] if recorded else []

    def transcript(self, worktree: Path, session_id: str, recorded: str = "") -> Path | None:
        """The transcript of ``session_id`` if it holds a conversation to resume, else None."""
        return next((path for path in self.transcript_paths(worktree, session_id, recorded) if path.is_file()), None)

    def has_conversations(self, worktree: Path | None) -> bool | None:
        """Whether ``worktree`` holds a conversation to continue; None when unknown."""
        del worktree
        return None

    def conversation(self, lines: Iterable[str]) -> str | None:
        """The conversation in a transcript's ``lines`` as text a person reads (``agents log``).

        "" when it holds none yet; None when the adapter does not read its
        program's transcripts this way: the file is then shown as it is.
        """
        del lines
        return None

    # ---------------------------------------------------------------- usage

    @property
    def reads_usage(self) -> bool:
        """True when the adapter counts tokens from the program's transcripts."""
        return bool(self.usage_markers)

    def owns_transcript(self, path: str) -> bool:
        """True when ``path``'s name says it is one of this program's transcripts."""
        del path
        return False

    def usage_files(self, transcript: str) -> list[str]:
        """The files whose usage counts as ``transcript``'s conversation (itself, and its subagents' if any)."""
        return [transcript]

    def read_usage(self, tally: Tally, lines: Iterable[bytes], path: str) -> None:
        """Count the replies in ``lines`` of file ``path`` into ``tally``.

        ``lines``: the new whole lines holding one of :attr:`usage_markers`, in
        order, without their newline. Each reply goes in with
        :meth:`agents_tmux.usage.Tally.count`; what the program writes once for
        several replies (the model of a turn, the context window) may be kept in
        ``tally.turn_model`` and ``tally.window``. JSON is read with
        :func:`agents_tmux.usage.json_objects` (``json`` is too slow to import here).
        """
        del tally, lines, path

    def context_window(self, model: str) -> int:
        """The context window ``model``'s name itself tells (0: the [prices] table or the transcript do)."""
        del model
        return 0


_HEX = frozenset("0123456789abcdefABCDEF")


def random_uuid() -> str:
    """A random (version 4) UUID as text, as ``str(uuid.uuid4())`` gives it.

    Without the uuid module: its import (it loads platform) costs more than
    a spawn's other work in Python.

    >>> is_uuid(random_uuid()), random_uuid()[14], random_uuid() != random_uuid()
    (True, '4', True)
    """
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def is_uuid(text: str) -> bool:
    """True for a UUID written the usual way (8-4-4-4-12 hexadecimal digits).

    >>> is_uuid("403be560-9d55-4a51-8a7b-0c9f1e2d3a4b"), is_uuid("--dangerously-skip-permissions"), is_uuid("../../x")
    (True, False, False)
    """
    parts = text.split("-")
    return [len(part) for part in parts] == [8, 4, 4, 4, 12] and all(ch in _HEX for part in parts for ch in part)


def is_plain_absolute_path(text: str) -> bool:
    r"""True for an absolute path with no ``..`` part and no control character.

    >>> is_plain_absolute_path("/home/u/.claude/projects/-x/a.jsonl"), is_plain_absolute_path("../../etc/passwd")
    (True, False)
    >>> is_plain_absolute_path("/a/../../etc/passwd"), is_plain_absolute_path("/a\nb")
    (False, False)
    """
    return (
        text.startswith("/") and len(text) < 4096 and ".." not in text.split("/")
        and all(ch >= " " and ch != "\x7f" for ch in text)
    )


def names() -> list[str]:
    """Every program this package has an adapter for (its module names)."""
    folder = os.path.dirname(os.path.abspath(__file__))
    found = [entry[:-3] for entry in os.listdir(folder) if entry.endswith(".py") and not entry.startswith("_")]
    return sorted({GENERIC, *found})


def valid_name(name: str) -> bool:
    """True when ``name`` could be a module of this package (letters, digits, ``_``)."""
    return bool(name) and name[0].isalpha() and name.isascii() and name.replace("_", "a").isalnum() and name.islower()


def pane_env(kind: AgentKind) -> dict[str, str]:
    """The variables the pane of a ``kind`` agent gets from its program's adapter.

    A kind with no ``program`` whose command runs a program an adapter knows
    (``command = ["gemini", ...]``) gets that adapter's: the variables are a
    matter of the program that runs, not of the state it reports.
    """
    program = get(kind.program)
    if program.name == GENERIC and kind.command:
        command = os.path.basename(kind.command[0])
        for name in names():
            candidate = get(name)
            if command in candidate.commands:
                program = candidate
                break
    return dict(program.pane_env)


def owner(transcript: str) -> Program | None:
    """The adapter whose program writes transcripts such as ``transcript``, told by its path alone.

    The one that claims it (:meth:`Program.owns_transcript`), else the one
    that reads unclaimed transcripts; None when there is neither. Imports
    every adapter: for commands, not for the hook or the end-of-turn reading.
    """
    adapters = [get(name) for name in names()]
    claimed = [program for program in adapters if program.owns_transcript(transcript)]
    fallback = [program for program in adapters if program.reads_unclaimed_transcripts]
    return (claimed or fallback or [None])[0]


def usage_reader(transcript: str, name: str = "") -> Program | None:
    """The adapter that reads the usage in ``transcript``; None when there is none.

    Program ``name``'s when it is given (the end-of-turn reading knows it,
    and imports no other adapter), else :func:`owner`'s.
    """
    if name:
        try:
            program: Program | None = get(name)
        except KeyError:
            return None
    else:
        program = owner(transcript)
    return program if program is not None and program.reads_usage else None


def get(name: str) -> Program:
    """The adapter of program ``name`` (the generic one for ``generic``); KeyError if none."""
    if name == GENERIC:
        return Program()
    if not valid_name(name):
        raise KeyError(name)
    try:
        module = __import__(f"{__name__}.{name}", fromlist=["PROGRAM"])
    except ImportError:
        raise KeyError(name) from None
    program = getattr(module, "PROGRAM", None)
    if not isinstance(program, Program):
        raise KeyError(name)
    return program
