"""The screen watcher: reads an agent's state off its screen where hooks cannot tell.

One watcher runs beside each agent, for exactly as long as the agent runs
(the pane's ``run-agent`` wrapper starts and stops it). It is the only state
source for agents without hooks (Codex, Aider, Gemini...), polling their
screen once a second. For Claude Code, whose hooks are exact, it only fills
the gaps hooks leave, and sleeps otherwise:

* ``starting``: the folder-trust question fires no hook, only the screen shows it;
* ``working``: Esc interrupts a turn without a Stop hook, so the screen decides;
* ``waiting``: after the user approves a tool, nothing fires until the tool ends.

While a Claude agent is ``idle`` (or ``exited``) it waits on a FIFO that the
hook handler pokes: no process, no timer. Standard library only; run as
``python -I -S watch.py PANE FIFO`` with ``$AGENTS_TMUX_SCREEN`` holding the
kind's patterns as JSON and ``$AGENTS_TMUX_HOOKS`` its hook kind. A kind with
neither (a custom command) is read from its screen's activity instead:
output in the last few seconds is ``working``, a still screen ``idle``.
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
    (True, "working"): 2.0,
    (True, "waiting"): 1.0,
}
#: Lines from the bottom of the screen that are read (prompts and footers live there).
TAIL_LINES = 25
#: For agents with hooks, the screen must have shown the same thing for this
#: long (under the same pane state) before it overrides the hooks: a hook and
#: the screen it announces are not drawn at the same instant, and one event
#: often fires several hooks in a burst.
CONFIRM_SECONDS = 1.5
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
    """
    lines = [line.rstrip() for line in screen.rstrip().splitlines()]
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


def decide(has_hooks: bool, current: str, seen: str | None, steady: float) -> str | None:
    """The state to set given the pane's ``current`` state and what the screen shows.

    ``steady`` is how many seconds the screen has shown ``seen`` while the
    pane's state stayed ``current``.

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
    if steady < CONFIRM_SECONDS:
        return None
    if current == "starting":
        # Only a question can hold Claude before its SessionStart hook.
        return "waiting" if seen == "waiting" else None
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


class Pane:
    """The watched pane, read and written with one tmux call each."""

    def __init__(self, pane: str) -> None:
        self.pane = pane
        self.tmux = shutil.which("tmux") or "tmux"

    def read(self) -> tuple[str, str] | None:
        """``(state, screen)``, or None when the pane or the server is gone."""
        try:
            proc = subprocess.run(
                [self.tmux, "display-message", "-p", "-t", self.pane, "#{@agent_state}", ";",
                 "capture-pane", "-p", "-t", self.pane],
                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=5, check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        if proc.returncode != 0:
            return None
        state, _, screen = proc.stdout.partition("\n")
        return state, screen

    def set_state(self, previous: str, state: str) -> None:
        now = str(int(time.time()))
        subprocess.run(
            [self.tmux, "set-option", "-pq", "-t", self.pane, "@agent_state", state, ";",
             "set-option", "-pq", "-t", self.pane, "@agent_state_since", now],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=5, check=False,
        )
        _notify(self.pane, previous, state)


def _notify(pane: str, previous: str, state: str) -> None:
    """Tell the user as the hook handler does (same messages, bell and command)."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        from agents_tmux import hook
    except ImportError:
        return
    if not hook.should_notify(previous, state):
        return
    tmux = shutil.which("tmux") or "tmux"
    proc = subprocess.run(
        [tmux, "display-message", "-p", "-t", pane, "#{@agent_name}\t#{@agents-notify}\t#{@agents-notify-command}", ";",
         "list-clients", "-F", "#{client_name}"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=5, check=False,
    )
    lines = proc.stdout.splitlines()
    if proc.returncode != 0 or not lines:
        return
    name, enabled, command = (lines[0].split("\t") + ["", "", ""])[:3]
    if enabled in ("off", "0", "no", "false"):
        return
    hook.notify(tmux, pane, name or pane, state, lines[1:], command)


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
    since, last_seen, last_state = time.monotonic(), None, None
    by_activity = not has_hooks and not any(patterns.values())
    last_screen, last_change = None, 0.0
    while os.getppid() == parent:
        seen_state = pane.read()
        if seen_state is None:
            return
        current, screen = seen_state
        now = time.monotonic()
        if by_activity:
            if screen != last_screen:
                last_screen, last_change = screen, now
            seen = activity_state(now - last_change)
        else:
            seen = classify(screen, patterns)
        # A new state (a hook fired) restarts the clock: the screen may not
        # have caught up with the hook yet.
        if (seen, current) != (last_seen, last_state):
            since = now
        last_seen, last_state = seen, current
        new = decide(has_hooks, current or "starting", seen, now - since)
        if new is not None:
            pane.set_state(current, new)
            current = last_state = new
            since = now
        timeout = POLL.get((has_hooks, current or "starting"), None)
        ready, _, _ = select.select([wake], [], [], IDLE_CHECK_SECONDS if timeout is None else timeout)
        if ready:
            try:
                while os.read(wake, 4096):
                    pass
            except BlockingIOError:
                pass


def main(argv: list[str]) -> int:
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
