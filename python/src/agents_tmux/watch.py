"""The screen watcher: reads agents' states off their screens where hooks cannot tell.

One watcher serves a whole tmux server (``watch.py --server FOLDER``): each
agent's ``run-agent`` wrapper marks its pane (``@agent_watch``,
``@agent_screen``) and starts the watcher, which exits at once when the
server already has one, and exits by itself once no marked pane needs its
screen read (or the server is gone): while every agent with hooks is idle no
watcher runs at all, and the hook event that makes one need its screen again
(a new prompt) starts it. It is the only state source for agents without hooks
(Aider, custom commands...), polling their screens once a second. For
programs whose hooks are exact (Claude Code) it only fills the gaps hooks
leave, and sleeps otherwise:

* ``starting``: the folder-trust question fires no hook, only the screen shows it;
* ``working``: Esc interrupts a turn without a Stop hook, so the screen decides;
* ``waiting``: after the user approves a tool, nothing fires until the tool ends.

While every agent is ``idle`` (or ``exited``) it waits on a FIFO that the hook
handler pokes: no polling, no timer. Each round costs one tmux call for the
list of panes and one for every screen due, however many agents run.
Standard library only. A kind with neither hooks nor patterns (a custom
command) is read from its screen's activity instead: output in the last few
seconds is ``working``, a still screen ``idle``.

``watch.py PANE FIFO`` (``$AGENTS_TMUX_SCREEN``, ``$AGENTS_TMUX_HOOKS``)
watches one pane alone, as every agent had its own watcher before; kept as
the benchmark's baseline. It writes states as the shared watcher does: only
while the pane is marked ``@agent_watch``.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import stat
import subprocess
import sys
import time

#: States the screen can show, most urgent first. ``error``: a failed turn the
#: program reports only on its screen (Codex's "■ <error>", Gemini's "✕ [API Error").
ORDER = ("waiting", "error", "working", "idle")
#: Seconds between screen reads, by (has hooks, current state); None = only when woken.
POLL = {
    (False, "starting"): 1.0,
    (False, "working"): 1.0,
    (False, "waiting"): 1.0,
    (False, "idle"): 1.0,
    (False, "error"): 1.0,
    (True, "starting"): 0.5,
    # Esc fires no hook: a working agent's screen is what tells it stopped
    # (a screen that disagrees is read again sooner: see Tracker.poll).
    (True, "working"): 1.0,
    (True, "waiting"): 1.0,
}
#: Lines from the bottom of the screen that are read, blank ones not counted
#: (prompts and footers live there).
TAIL_LINES = 25
#: For agents with hooks, the screen must have shown the same thing for this
#: long (under the same pane state) before it overrides the hooks: a hook and
#: the screen it announces are not drawn at the same instant, and one event
#: often fires several hooks in a burst.
CONFIRM_SECONDS = 1.5
#: Once the screen has agreed with the hooks' state (a working agent's
#: spinner was seen), a change on it is the agent's own (an Esc, a denied
#: tool), not a screen lagging behind a hook: this much steadiness is enough.
AGREED_CONFIRM_SECONDS = 0.4
#: While sleeping on the FIFO, wake this often to notice a vanished parent.
IDLE_CHECK_SECONDS = 30.0
#: An agent with neither hooks nor screen patterns (a custom kind) is read
#: from its pane's activity: output within this many seconds means working,
#: a screen that stayed still longer means idle.
ACTIVITY_SECONDS = 3.0


def compile_patterns(raw: dict[str, list[str]]) -> dict[str, list[re.Pattern[str]]]:
    """Regular expressions per state; bad ones are dropped (config validated them)."""
    compiled: dict[str, list[re.Pattern[str]]] = {}
    for state in ORDER:
        compiled[state] = []
        for pattern in raw.get(state, []):
            try:
                compiled[state].append(re.compile(pattern, re.MULTILINE))
            except re.error:
                pass
    return compiled


def classify(screen: str, patterns: dict[str, list[re.Pattern[str]]]) -> str | None:
    """The state a screen shows: the first of waiting, error, working, idle that matches.

    Only the last lines count: an old question scrolled up is not a question.
    Blank lines do not count among them: Claude Code 2.1.332 keeps its prompt
    box at the bottom of the pane, a tall gap above it while the conversation
    is short, and its task list below it would push "Waiting for 1 background
    agent" out of a tail that counted the gap.
    """
    lines = [line for line in (raw.rstrip() for raw in screen.splitlines()) if line]
    tail = "\n".join(lines[-TAIL_LINES:])
    # The line of each state's lowest match (-1: no match).
    lowest = {
        state: max((tail.count("\n", 0, m.start()) for p in patterns.get(state, []) for m in p.finditer(tail)), default=-1)
        for state in ORDER
    }
    if 0 <= lowest["waiting"] < max(lowest["working"], lowest["idle"]):
        # The agent went on below the question: an answered question still in
        # view (a line-based agent such as Aider scrolls) is not a question.
        # A working or idle marker on the question's own line does not count.
        lowest["waiting"] = -1
    if 0 <= lowest["error"] < lowest["working"]:
        # A new turn runs below an old error: the error is history. (The idle
        # composer always sits below a fresh error, so idle does not cancel it.)
        lowest["error"] = -1
    for state in ORDER:
        if lowest[state] >= 0:
            return state
    return None


def decide(
    has_hooks: bool, current: str, seen: str | None, steady: float, screen_start: bool = False, confirm: float = CONFIRM_SECONDS,
) -> str | None:
    """The state to set given the pane's ``current`` state and what the screen shows.

    ``steady`` is how many seconds the screen has shown ``seen`` while the
    pane's state stayed ``current``; with hooks it must reach ``confirm``.

    >>> decide(False, "working", "idle", 0.0)
    'idle'
    >>> decide(True, "starting", "waiting", 2.0)
    'waiting'
    >>> decide(True, "working", "idle", 0.5) is None
    True
    >>> decide(True, "idle", "working", 9.0) is None
    True
    """
    if seen is None or seen == current or current == "exited":
        return None
    if not has_hooks:
        return seen
    if steady < confirm:
        return None
    if current == "starting":
        # Only a question can hold Claude before its SessionStart hook. A
        # program whose hooks stay silent until the first prompt (Codex
        # started without one, ``screen_start``) is idle once its screen says so.
        if seen == "waiting" or (screen_start and seen == "idle"):
            return seen
        return None
    if current in ("working", "waiting"):
        return seen
    # idle: the next prompt fires UserPromptSubmit; the screen has nothing to add.
    return None


def activity_state(quiet_for: float) -> str:
    """The state of an agent read from activity alone: ``quiet_for`` seconds since its screen last changed.

    >>> activity_state(0.5), activity_state(ACTIVITY_SECONDS + 1)
    ('working', 'idle')
    """
    return "working" if quiet_for < ACTIVITY_SECONDS else "idle"


class Tracker:
    """What the watcher remembers of one pane between reads, and the state change it leads to."""

    def __init__(self, patterns: dict[str, list[re.Pattern[str]]], has_hooks: bool, screen_start: bool = False) -> None:
        self.patterns = patterns
        self.has_hooks = has_hooks
        self.screen_start = screen_start
        #: A kind with neither hooks nor patterns is read from its screen's activity.
        self.by_activity = not has_hooks and not any(patterns.values())
        self.since = time.monotonic()
        self.last_seen: str | None = None
        self.last_state: str | None = None
        self.last_screen: str | None = None
        self.last_change = 0.0
        #: True once the screen showed the state the pane is in (``agreed_in``) since it entered it.
        self.agreed = False
        self.agreed_in: str | None = None

    def observe(self, current: str, screen: str, now: float) -> str | None:
        """The state to set now that the pane shows ``screen`` in state ``current`` (None: leave it)."""
        if self.by_activity:
            if screen != self.last_screen:
                self.last_screen, self.last_change = screen, now
            seen = activity_state(now - self.last_change)
        else:
            seen = classify(screen, self.patterns)
        # A new state (a hook fired) restarts the clock: the screen may not
        # have caught up with the hook yet.
        if (seen, current) != (self.last_seen, self.last_state):
            self.since = now
        self.last_seen, self.last_state = seen, current
        if current != self.agreed_in:
            self.agreed, self.agreed_in = False, current
        if seen == current:
            self.agreed = True
        confirm = AGREED_CONFIRM_SECONDS if self.agreed else CONFIRM_SECONDS
        new = decide(self.has_hooks, current or "starting", seen, now - self.since, self.screen_start, confirm)
        if new is not None:
            self.last_state = new
            self.since = now
        return new

    def poll(self, current: str) -> float | None:
        """Seconds until the next read in state ``current`` (None: only when woken).

        A screen that agreed with the hooks and now shows something else is
        read again as soon as it may confirm the change, not a whole period later.
        """
        poll = POLL.get((self.has_hooks, current or "starting"))
        if poll is not None and self.has_hooks and self.agreed and self.last_seen not in (None, current):
            return min(poll, AGREED_CONFIRM_SECONDS)
        return poll


def needs_screen(hooks: str, state: str) -> bool:
    """True when an agent (hook kind ``hooks``) in ``state`` needs its screen read.

    Agents without hooks always do; with hooks, only while the hooks could
    miss something (not idle, error or exited).
    """
    return POLL.get((hooks != "none", state or "starting")) is not None


class TmuxCalls:
    """tmux commands run as ``argv`` (the tmux binary and its options), and the one way a state is written."""

    argv: list[str]

    def _call(self, args: list[str]) -> tuple[int, bytes]:
        try:
            proc = subprocess.run([*self.argv, *args], stdin=subprocess.DEVNULL, capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return -1, b""
        return proc.returncode, proc.stdout

    def set_state(self, pane: str, previous: str, state: str) -> None:
        """Write ``state`` unless the pane stopped being watched since its screen was read.

        The agent may end between the read and this write: run-agent then
        unmarks the pane (stop_watching) and sets ``exited``. Written
        unconditionally, the older decision would land over ``exited`` and,
        the pane no longer watched, stay there for good. The check and the
        write are one tmux command, so nothing comes between them.
        """
        now = str(int(time.time()))
        sets = [f"set-option -pq -t {pane} @agent_state {state}",
                f"set-option -pq -t {pane} @agent_state_since {now}"]
        if state in ("idle", "error"):
            # The screen says the turn ended with no Stop (an Esc, a denied
            # tool): no prompt is pending any more (see hook.TURNS_OPTION).
            sets.append(f"set-option -pq -t {pane} @agent_turns 0")
        # Pane ids (%N), states and times are plain words: nothing to quote.
        status, out = self._call(["if-shell", "-F", "-t", pane, f"#{{{WATCH_OPTION}}}",
                                  " ; ".join([*sets, f"display-message -p {APPLIED}"])])
        if status == 0 and APPLIED in out.decode("utf-8", "replace"):
            _notify(pane, previous, state)


class Pane(TmuxCalls):
    """The one pane a per-pane watcher follows, on the server in ``$TMUX``; read with one tmux call."""

    def __init__(self, pane: str) -> None:
        self.pane = pane
        self.argv = [shutil.which("tmux") or "tmux", "-u"]

    def read(self) -> tuple[str, str] | None:
        """``(state, screen)``, or None when the pane or the server is gone."""
        status, out = self._call(["display-message", "-p", "-t", self.pane, "#{@agent_state}", ";", "capture-pane", "-p", "-t", self.pane])
        if status != 0:
            return None
        state, _, screen = out.decode("utf-8", "replace").partition("\n")
        return state, screen


def _notify(pane: str, previous: str, state: str) -> None:
    """Tell the user as the hook handler does (same messages, bell and command)."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        from agents_tmux import hook
    except ImportError:
        return
    if not hook.should_notify(previous, state):
        return
    from agents_tmux.tmuxtext import counted_format, read_counted

    tmux = shutil.which("tmux") or "tmux"
    # Length-prefixed (tmux -u: bytes unaltered): a name or a notify command may hold a tab or a newline.
    proc = subprocess.run(
        [tmux, "-u", "display-message", "-p", "-t", pane, counted_format(["@agent_name", "@agents-notify", "@agents-notify-command"]),
         ";", "list-clients", "-F", "#{client_name}"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=5, check=False,
    )
    if proc.returncode != 0:
        return
    try:
        (name, enabled, command), pos = read_counted(proc.stdout, 0, 3)
    except ValueError:
        return
    if enabled in ("off", "0", "no", "false"):
        return
    clients = [line for line in proc.stdout[pos:].decode("utf-8", "replace").split("\n") if line]
    hook.notify(tmux, pane, name or pane, state, clients, command)


def watch(pane_id: str, fifo: str, patterns: dict[str, list[re.Pattern[str]]], has_hooks: bool) -> None:
    """Watch until the pane goes away or the wrapper that started us ends."""
    parent = os.getppid()
    # O_RDWR keeps a writer open (ourselves), so select() blocks instead of
    # seeing end-of-file whenever no hook happens to hold the FIFO open.
    # O_NOFOLLOW and the check: only a FIFO of ours, never a symlink or a file put in its place.
    wake = os.open(fifo, os.O_RDWR | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    info = os.fstat(wake)
    if not stat.S_ISFIFO(info.st_mode) or info.st_uid != os.getuid():
        os.close(wake)
        return
    pane = Pane(pane_id)
    tracker = Tracker(patterns, has_hooks)
    while os.getppid() == parent:
        seen_state = pane.read()
        if seen_state is None:
            return
        current, screen = seen_state
        new = tracker.observe(current, screen, time.monotonic())
        if new is not None:
            pane.set_state(pane.pane, current, new)
            current = new
        timeout = tracker.poll(current)
        if wait_for_wake(wake, IDLE_CHECK_SECONDS if timeout is None else timeout):
            drain(wake)


def wait_for_wake(wake: int, timeout: float) -> bool:
    """Sleep until the FIFO is poked or ``timeout`` seconds pass; True when poked."""
    ready, _, _ = select.select([wake], [], [], max(0.0, timeout))
    return bool(ready)


def drain(wake: int) -> None:
    """Read every poke waiting in the FIFO (one wake-up serves them all)."""
    try:
        while os.read(wake, 4096):
            pass
    except BlockingIOError:
        pass


# --------------------------------------------------------------------------
# one watcher per tmux server

#: Pane options ``run-agent`` sets while its agent runs and wants watching:
#: the kind's hook kind (``none`` without hooks) and its screen patterns (JSON).
WATCH_OPTION = "@agent_watch"
#: The suffix of a hook kind whose hooks are silent until the first prompt (see ``decide``).
SCREEN_START = "+screen-start"
SCREEN_OPTION = "@agent_screen"
#: Printed by a state write that took place (TmuxCalls.set_state).
APPLIED = "agents-watch-applied"
#: Keep serving this long after the last pane that needs its screen read went
#: or went idle (an agent being restarted, a hook about to fire).
LINGER_SECONDS = 5.0
#: How long a newly started watcher tries for the lock (one may be on its way out).
LOCK_WAIT_SECONDS = 1.0
#: Shortest sleep between rounds: a burst of hook pokes costs one round.
MIN_SLEEP = 0.05
#: Panes due within this many seconds are read in the same round (one tmux call for all).
BATCH_SECONDS = 0.3


class Watched:
    """One pane the shared watcher follows: its tracker and when it is due for a read."""

    def __init__(self, pane: str, pane_pid: str, tracker: Tracker) -> None:
        self.pane = pane
        self.pane_pid = pane_pid
        self.tracker = tracker
        self.listed_state: str | None = None
        self.due = 0.0


class ServerPanes(TmuxCalls):
    """The tmux server the watcher serves, read in as few tmux calls as possible.

    The server is the one at ``socket`` with process id ``server_pid``: a
    new server started on the same socket (after a crash or a restart) is
    another server, with its own watcher.
    """

    def __init__(self, socket: str, server_pid: str) -> None:
        self.argv = [shutil.which("tmux") or "tmux", "-u", "-S", socket]
        self.server_pid = server_pid
        #: Compiled patterns by their JSON text.
        self.compiled: dict[str, dict[str, list[re.Pattern[str]]]] = {}

    def needed(self) -> bool:
        """True when some marked pane needs its screen read now."""
        return any(needs_screen(hooks, state) for _, _, state, hooks in self.listing() or [])

    def listing(self) -> list[tuple[str, str, str, str]] | None:
        """(pane, pane pid, state, hook kind) of every watched pane; None when the server is gone or replaced."""
        from agents_tmux.tmuxtext import counted_format, parse_counted

        status, out = self._call(["list-panes", "-a", "-F", counted_format(["pid", "pane_id", "pane_pid", "@agent_state", WATCH_OPTION])])
        if status != 0:
            return None
        try:
            records = parse_counted(out, 5)
        except ValueError:
            return None
        if records and records[0][0] != self.server_pid:
            return None
        return [(pane, pane_pid, state, hooks) for _, pane, pane_pid, state, hooks in records if hooks]

    def patterns(self, panes: list[str]) -> dict[str, dict[str, list[re.Pattern[str]]]]:
        """The screen patterns ``run-agent`` put on each of ``panes``, read in one tmux call.

        Agents of one kind share one compiled set.
        """
        from agents_tmux.tmuxtext import counted_format, parse_counted

        args: list[str] = []
        for pane in panes:
            args += ["display-message", "-p", "-t", pane, counted_format(["pane_id", SCREEN_OPTION]), ";"]
        _, out = self._call(args[:-1])
        try:
            records = parse_counted(out, 2)
        except ValueError:
            records = []
        found = {}
        for pane, text in records:
            if text not in self.compiled:
                try:
                    raw = json.loads(text or "{}")
                except ValueError:
                    raw = {}
                self.compiled[text] = compile_patterns(raw if isinstance(raw, dict) else {})
            found[pane] = self.compiled[text]
        return found

    def screens(self, panes: list[str]) -> dict[str, tuple[str, str]]:
        """``(state, screen)`` of each of ``panes`` in one tmux call; a pane that went is left out.

        Each screen follows a marker line no screen can hold by chance; tmux
        stops at the first pane that is gone, so those after it wait a round.
        """
        marker = "agents-watch-%s" % os.urandom(8).hex()
        args: list[str] = []
        for pane in panes:
            args += ["display-message", "-p", "-t", pane, f"{marker} {pane} #{{@agent_state}}", ";", "capture-pane", "-p", "-t", pane, ";"]
        _, out = self._call(args[:-1])
        found: dict[str, tuple[str, str]] = {}
        # Split on words, not single spaces: after a capture-pane in the same
        # call, tmux 3.3 pads the next display-message's output with spaces.
        for section in out.decode("utf-8", "replace").split(marker)[1:]:
            head, _, screen = section.partition("\n")
            words = head.split()
            if words and words[0] in panes:
                found[words[0]] = (words[1] if len(words) > 1 else "", screen)
        return found


def serve(server: ServerPanes, wake: int) -> None:
    """Follow every watched pane of ``server`` until none needs its screen (for a while) or the server goes.

    While every agent is idle with hooks, no watcher is needed: the hook
    handler starts one again when an agent needs its screen read.
    """
    watched: dict[str, Watched] = {}
    alone_since: float | None = None
    while True:
        listing = server.listing()
        if listing is None:
            return
        now = time.monotonic()
        current: dict[str, Watched] = {}
        new = [pane for pane, pane_pid, _, _ in listing if pane not in watched or watched[pane].pane_pid != pane_pid]
        patterns = server.patterns(new) if new else {}
        for pane, pane_pid, state, hooks in listing:
            entry = watched.get(pane)
            if entry is None or entry.pane_pid != pane_pid:
                entry = Watched(pane, pane_pid, Tracker(patterns.get(pane, {}), hooks != "none", hooks.endswith(SCREEN_START)))
            if state != entry.listed_state:
                entry.listed_state = state
                entry.due = now  # a hook moved it: look at once, and restart its clock
            current[pane] = entry
        watched = current
        if not any(needs_screen("claude" if entry.tracker.has_hooks else "none", entry.listed_state or "")
                   for entry in watched.values()):
            alone_since = alone_since if alone_since is not None else now
            if now - alone_since >= LINGER_SECONDS:
                return
        else:
            alone_since = None
        due = [entry for entry in watched.values() if entry.due <= now + BATCH_SECONDS]
        if due:
            seen = server.screens([entry.pane for entry in due])
            now = time.monotonic()
            for entry in due:
                if entry.pane not in seen:
                    entry.due = now  # tmux stopped before it this round
                    continue
                state, screen = seen[entry.pane]
                new = entry.tracker.observe(state, screen, now)
                if new is not None:
                    server.set_state(entry.pane, state, new)
                    state = entry.listed_state = new
                poll = entry.tracker.poll(state)
                entry.due = now + (poll if poll is not None else IDLE_CHECK_SECONDS)
        wake_at = min((entry.due for entry in watched.values()), default=now + LINGER_SECONDS)
        if alone_since is not None:
            wake_at = min(wake_at, alone_since + LINGER_SECONDS)
        timeout = wake_at - time.monotonic()
        if wait_for_wake(wake, min(max(timeout, MIN_SLEEP), IDLE_CHECK_SECONDS)):
            drain(wake)


def open_fifo(path: str) -> int | None:
    """Our wake FIFO at ``path`` (made if missing), open for reading; None if something else is there."""
    try:
        os.mkfifo(path, 0o600)
    except FileExistsError:
        pass
    # O_RDWR keeps a writer open (ourselves), so select() blocks instead of
    # seeing end-of-file whenever no hook happens to hold the FIFO open.
    # O_NOFOLLOW and the check: only a FIFO of ours, never a symlink or a file put in its place.
    try:
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    info = os.fstat(fd)
    if not stat.S_ISFIFO(info.st_mode) or info.st_uid != os.getuid():
        os.close(fd)
        return None
    return fd


def take_lock(path: str, seconds: float) -> int | None:
    """An open file holding the exclusive flock of the lock file at ``path`` (made if missing), trying for ``seconds``.

    None when another watcher holds it all that time. A watcher removes its
    lock file as it leaves (:func:`release`), while still holding it: one
    waiting on that file then gets a lock on a file no longer at ``path``,
    which locks nothing, so it opens ``path`` afresh and tries again.
    """
    from agents_tmux.atomic import flock_within

    deadline = time.monotonic() + seconds
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        if not flock_within(fd, max(0.0, deadline - time.monotonic()), pause=0.05):
            os.close(fd)
            return None
        if _still_at(fd, path):
            return fd
        os.close(fd)


def _still_at(fd: int, path: str) -> bool:
    """True when the file open as ``fd`` is the one at ``path``."""
    try:
        at = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    held = os.fstat(fd)
    return (at.st_dev, at.st_ino) == (held.st_dev, held.st_ino)


def release(fd: int, base: str, fifo: bool = True) -> None:
    """Remove a server's FIFO (unless not ``fifo``) and lock file (``base`` + .fifo, .lock), then let go of its lock ``fd``.

    The FIFO goes first: once the lock file is gone, a new watcher may make
    its own lock file and FIFO, which are not ours to remove.
    """
    for path in ([base + ".fifo"] if fifo else []) + [base + ".lock"]:
        try:
            os.unlink(path)
        except OSError:
            pass
    os.close(fd)


def sweep(folder: str, keep: str) -> None:
    """Remove the files of watchers that were killed (SIGKILL: no ``release``), except those of ``keep`` (a base).

    A lock file nobody holds is such a leftover; it is removed the way its
    watcher would have, holding its lock, so a watcher starting for that
    server meanwhile keeps its own files.
    """
    import fcntl

    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        stem, dot, ext = name.rpartition(".")
        if not (dot and ext == "lock" and stem.startswith("watch.") and stem[6:].isdigit()):
            continue
        base = os.path.join(folder, stem)
        if base == keep:
            continue
        try:
            fd = os.open(base + ".lock", os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)  # its watcher runs
            continue
        if _still_at(fd, base + ".lock"):
            release(fd, base)
        else:
            os.close(fd)


def server_main(folder: str, tmux_env: str) -> int:
    """The one watcher of the tmux server in ``$TMUX``, or nothing if it already runs.

    Files in ``folder`` (private, checked by the caller): ``watch.<pid>.lock``,
    held for the watcher's life, and ``watch.<pid>.fifo``, which hooks poke;
    both are removed as it leaves (or by the next watcher if it was killed).
    """
    import signal

    socket, _, rest = tmux_env.partition(",")
    server_pid = rest.partition(",")[0]
    if not socket or not server_pid.isdigit():
        return 2
    # Outlive the pane that started us: a new session, and no hang-up from its terminal.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    # A plain kill: leave as at the end, files removed (see main).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        os.setsid()
    except OSError:
        pass
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    base = os.path.join(folder, f"watch.{server_pid}")
    server = ServerPanes(socket, server_pid)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return 1  # only a private folder of ours (run-agent checked it; so does this)
    swept = False
    while True:
        lock = take_lock(base + ".lock", LOCK_WAIT_SECONDS)
        if lock is None:
            return 0  # another watcher serves this server
        if not swept:
            sweep(folder, base)
            swept = True
        wake = open_fifo(base + ".fifo")
        if wake is None:
            release(lock, base, fifo=False)  # something not ours is in its place: left alone
            return 1
        try:
            serve(server, wake)
        finally:
            os.close(wake)
            release(lock, base)
        # An agent may have needed its screen just as we decided to leave (its
        # hook found the FIFO still there, or its watcher the lock still held):
        # look once more. After this look, a hook finds no FIFO and starts one.
        if not server.needed():
            return 0


def main(argv: list[str]) -> int:
    """``watch.py --server FOLDER``: the server's one watcher; ``watch.py PANE FIFO``: one pane's own."""
    if len(argv) == 3 and argv[1] == "--server":
        try:
            return server_main(argv[2], os.environ.get("TMUX", ""))
        except (KeyboardInterrupt, SystemExit):
            return 0
    if len(argv) != 3:
        return 2
    try:
        raw = json.loads(os.environ.get("AGENTS_TMUX_SCREEN", "{}"))
    except ValueError:
        return 2
    patterns = compile_patterns(raw if isinstance(raw, dict) else {})
    has_hooks = os.environ.get("AGENTS_TMUX_HOOKS", "none") != "none"
    try:
        watch(argv[1], argv[2], patterns, has_hooks)
    except (OSError, KeyboardInterrupt):
        pass
    finally:
        try:
            os.unlink(argv[2])
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
