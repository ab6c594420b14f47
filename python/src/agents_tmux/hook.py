"""Claude Code hook handler: one hook event in, the agent's pane options updated.

Claude Code runs this for every hook event agents.tmux registers (through
the ``--settings`` file written at spawn). It reads the event's JSON on
stdin and finds its pane through ``$TMUX_PANE``, which the hook process
inherits from Claude. It must never slow Claude down or change what Claude
does: it imports only the standard library, prints nothing, always exits 0,
and costs one tmux command per event (two when it has to notify someone).

Run as ``python -I -S hook.py``: it does not need site-packages, and skipping
them halves Python's start-up on some installs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

#: Events that set one state regardless of their payload.
EVENT_STATES = {
    "UserPromptSubmit": "working",
    "PreToolUse": "working",
    "PostToolUse": "working",
    "PostToolUseFailure": "working",
    "PermissionRequest": "waiting",
    "Stop": "idle",
    "SessionEnd": "exited",
}
#: Notification types that mean "a person must answer before Claude goes on".
WAITING_NOTIFICATIONS = ("permission_prompt", "elicitation_dialog")
#: How long a notification stays on the status line, in milliseconds.
MESSAGE_MS = "4000"


def state_for(payload: dict[str, object]) -> str | None:
    """The state an event moves the agent to, or None to leave it as it is.

    >>> state_for({"hook_event_name": "Stop"})
    'idle'
    >>> state_for({"hook_event_name": "Notification", "notification_type": "permission_prompt"})
    'waiting'
    >>> state_for({"hook_event_name": "Notification", "notification_type": "idle_prompt"}) is None
    True
    """
    event = payload.get("hook_event_name")
    if event == "SessionStart":
        # A compaction restarts the session in the middle of a turn: still working.
        return None if payload.get("source") == "compact" else "idle"
    if event == "Notification":
        kind = payload.get("notification_type")
        if kind in WAITING_NOTIFICATIONS:
            return "waiting"
        message = str(payload.get("message", "")).lower()
        if kind is None and ("permission" in message or "needs your" in message):
            return "waiting"
        # idle_prompt ("waiting for your input" after a finished turn) keeps the
        # agent idle: turning it into "waiting" would hide real questions.
        return None
    if isinstance(event, str):
        return EVENT_STATES.get(event)
    return None


def tmux_commands(pane: str, state: str | None, payload: dict[str, object], now: int) -> list[str]:
    """One tmux invocation: report what notifying needs, then set the options.

    The first two commands print the pane's previous state and name and the
    attached clients, so the caller can tell a transition from a repeat
    without a second round trip.
    """
    args = [
        "display-message", "-p", "-t", pane,
        "#{@agent_state}\t#{@agent_name}\t#{@agents-notify}\t#{@agents-notify-command}", ";",
        "list-clients", "-F", "#{client_name}", ";",
    ]
    if state is not None:
        # state_since moves only on a real change, so "waited longest" stays true.
        args += [
            "if-shell", "-F", "-t", pane, f"#{{!=:#{{@agent_state}},{state}}}",
            f"set-option -p -t {pane} @agent_state_since {now}", ";",
            "set-option", "-p", "-t", pane, "@agent_state", state, ";",
        ]
    for key, option in (("session_id", "@agent_session_id"), ("transcript_path", "@agent_transcript")):
        value = payload.get(key)
        if isinstance(value, str) and value:
            args += ["set-option", "-p", "-t", pane, option, value, ";"]
    return args[:-1]


def should_notify(previous: str, state: str | None) -> bool:
    """Waiting always deserves a word; idle only when a turn just ended."""
    if state == "waiting":
        return previous != "waiting"
    return state == "idle" and previous == "working"


def notify(tmux: str, pane: str, name: str, state: str, clients: list[str], command: str) -> None:
    """Tell every attached client, ring the pane's bell, run the user's notifier."""
    text = f"agent {name} is waiting for you" if state == "waiting" else f"agent {name} is done"
    # display-message expands formats: double '#' so the text is shown as is.
    shown = text.replace("#", "##")
    args: list[str] = []
    for client in clients:
        args += ["display-message", "-c", client, "-d", MESSAGE_MS, "--", shown, ";"]
    if args:
        _run([tmux, *args[:-1]])
    tty = os.environ.get("AGENTS_TMUX_TTY")
    if tty:
        # A bell written to the pane's own terminal gives its window tmux's bell
        # flag (window-status-bell-style), exactly as if the agent had rung it.
        try:
            fd = os.open(tty, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
            try:
                os.write(fd, b"\a")
            finally:
                os.close(fd)
        except OSError:
            pass
    if command:
        # The user's command, with the message as "$1": the text never becomes shell code.
        subprocess.Popen(
            ["/bin/sh", "-c", command + ' "$1"', "agents-notify", text],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )


def wake_watcher() -> None:
    """Poke the pane's screen watcher, if one listens, so it re-reads the state."""
    path = os.environ.get("AGENTS_TMUX_WAKE")
    if not path:
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return  # no watcher is reading: nothing to wake
    try:
        os.write(fd, b"!")
    except OSError:
        pass
    finally:
        os.close(fd)


def _run(argv: list[str]) -> str | None:
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def handle(raw: str, environ: dict[str, str]) -> None:
    """Apply one hook event; silently does nothing when it cannot."""
    pane = environ.get("TMUX_PANE", "")
    if not pane.startswith("%") or not pane[1:].isdigit() or not environ.get("TMUX"):
        return
    try:
        payload = json.loads(raw)
    except ValueError:
        return
    if not isinstance(payload, dict):
        return
    state = state_for(payload)
    tmux = shutil.which("tmux")
    if tmux is None:
        return
    args = tmux_commands(pane, state, payload, int(time.time()))
    # tmux reads a trailing ';' as a command separator; '\\;' keeps it literal.
    args = [a[:-1] + "\\;" if a != ";" and a.endswith(";") else a for a in args]
    out = _run([tmux, *args])
    if out is None:
        return
    wake_watcher()
    lines = out.splitlines()
    previous, name, enabled, command = (lines[0].split("\t") + ["", "", "", ""])[:4] if lines else ("", "", "", "")
    if enabled in ("off", "0", "no", "false") or not should_notify(previous, state):
        return
    assert state is not None
    notify(tmux, pane, name or pane, state, lines[1:], command)


def main() -> int:
    """Entry point: never fails, never prints, whatever it is given."""
    try:
        raw = sys.stdin.read(1 << 20)
    except (OSError, ValueError):
        return 0
    try:
        handle(raw, dict(os.environ))
    except Exception:  # noqa: BLE001 - a hook must never disturb Claude
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
