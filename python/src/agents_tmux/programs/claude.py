"""Claude Code: hooks through ``--settings``, session ids, transcripts under ~/.claude.

Facts this module relies on are recorded in tests/support/CLAUDE-NOTES.md
(2.1.197) and /work/shared/CLAUDE-CODE.md (what changed by 2.1.332). The hook
handler imports this module for every event: standard library only, and
nothing slow at the top.
"""

from __future__ import annotations

import os
import sys

from agents_tmux.programs import Program

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from agents_tmux.config import AgentKind
    from agents_tmux.usage import Tally

#: Claude Code events agents.tmux listens to, in the order a turn fires them.
#: Versions that lack one (StopFailure, Elicitation...) simply never send it.
EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "PermissionRequest",
    "Notification",
    "Elicitation",
    "ElicitationResult",
    "PreCompact",
    "PostCompact",
    "Stop",
    "StopFailure",
    "SessionEnd",
)
#: Tool events take a matcher in the settings file.
MATCHED_EVENTS = ("PreToolUse", "PostToolUse", "PostToolUseFailure", "PermissionRequest")
#: Events that set one state regardless of their payload.
EVENT_STATES = {
    "UserPromptSubmit": "working",
    "PreToolUse": "working",
    "PostToolUse": "working",
    "PostToolUseFailure": "working",
    "PermissionRequest": "waiting",
    # An MCP server asks the user for input; answered, Claude goes on.
    "Elicitation": "waiting",
    "ElicitationResult": "working",
    # Compacting is work, whether /compact asked for it or a full context did.
    "PreCompact": "working",
    # A turn that failed (an API error): the user has to look.
    "StopFailure": "error",
}
#: Notification types that mean "a person must answer before Claude goes on".
WAITING_NOTIFICATIONS = ("permission_prompt", "elicitation_dialog")
#: SessionEnd reasons after which the same Claude goes on with a new session
#: (2.1.332 knows clear, resume, logout, prompt_input_exit and other).
CONTINUING_REASONS = ("clear", "resume")

#: Events after which the turn's replies are in the transcript (the usage reading starts).
USAGE_EVENTS = ("Stop", "StopFailure")
#: Every reply of the model is an ``assistant`` line with the API's ``usage``.
USAGE_MARKERS = (b'"usage":',)
#: The usage keys of a reply, in the order of :data:`agents_tmux.usage.KINDS`.
USAGE_KEYS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
#: The context window of the models whose name says ``[1m]`` (``claude-opus-4-8[1m]``).
LONG_CONTEXT = 1_000_000
#: How deep subagents' transcripts may nest under a conversation's.
SUBAGENT_DEPTH = 3

#: What the screen shows in each state (the watcher's fallback; CLAUDE-NOTES.md).
SCREEN = {
    # A permission prompt, the folder-trust screen (2.1.332: "❯ No, exit" comes
    # first), a question (AskUserQuestion's footer), a plan to approve, an MCP
    # server's question (elicitation).
    "waiting": (
        "Do you want to proceed\\?", "Quick safety check", "Do you trust the files", "Yes, I trust this folder",
        "Enter to select · ↑/↓ to navigate", "Exit plan mode\\?", "MCP server .* requests your input",
    ),
    # Working: the footer while a turn runs; from 2.1.332 also a turn that
    # stopped to wait for a background subagent, which Claude resumes by itself
    # (its footer is then the idle one).
    "working": ("esc to interrupt", "Waiting for \\d+ background agents? to finish"),
    # Idle: the prompt's footer ("? for shortcuts"; from 2.1.332 the permission
    # mode, e.g. "⏵⏵ auto mode on (shift+tab to cycle)" or "⏸ manual mode on"),
    # or (after Esc stopped a turn before any text came) the prompt box's bottom
    # rule followed only by an empty-left footer such as "● high · /effort" (and
    # tmux's focus-events notice, when that is off).
    "idle": (
        "\\? for shortcuts", "^ *(⏵⏵|⏸) \\S.* on\\b",
        "^─{20,}(\n[ \xa0]{10,}\\S.*)?(\n.*focus-events.*)?\\Z",
    ),
}


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
    if event == "Stop":
        # Newer versions run subagents in the background: the turn stops, but
        # Claude takes up the work again by itself when they finish.
        return "working" if _subagent_running(payload.get("background_tasks")) else "idle"
    if event == "PostCompact":
        # /compact was the whole turn; an automatic compaction is inside one.
        return "idle" if payload.get("trigger") == "manual" else None
    if event == "SessionEnd":
        # /clear ends one session and starts the next in the same Claude.
        return None if payload.get("reason") in CONTINUING_REASONS else "exited"
    if isinstance(event, str):
        return EVENT_STATES.get(event)
    return None


def turn_of(payload: dict[str, object]) -> str | None:
    """How an event moves the count of submitted, unanswered prompts (see ``Program.turn_of``).

    A prompt submitted while a turn runs (``agents send``, a message typed
    ahead) fires UserPromptSubmit at once in 2.1.332, and the running turn's
    Stop then comes before the queued prompt's turn starts, with no hook at
    that start: only the count tells that Claude is not done.

    >>> [turn_of({"hook_event_name": e}) for e in ("UserPromptSubmit", "Stop", "StopFailure", "PreToolUse")]
    ['begin', 'end', 'reset', None]
    >>> turn_of({"hook_event_name": "SessionStart", "source": "compact"}) is None
    True
    """
    event = payload.get("hook_event_name")
    if event == "UserPromptSubmit":
        return "begin"
    if event == "Stop":
        return "end"
    if event == "SessionStart":
        return None if payload.get("source") == "compact" else "reset"
    if event in ("StopFailure", "SessionEnd"):
        return "reset"
    return None


def _subagent_running(tasks: object) -> bool:
    """True when Stop's ``background_tasks`` list a subagent that still runs.

    >>> _subagent_running([{"type": "subagent", "status": "running"}])
    True
    >>> _subagent_running([{"type": "shell", "status": "running"}, {"type": "subagent", "status": "completed"}])
    False
    """
    if not isinstance(tasks, list):
        return False
    return any(
        isinstance(task, dict) and task.get("type") == "subagent" and task.get("status") == "running" for task in tasks
    )


def hook_command() -> str:
    """The shell command Claude runs for each hook: this Python, isolated, no site."""
    import shlex

    handler = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "run_hook.py")
    return f"{shlex.quote(sys.executable)} -I -S {shlex.quote(handler)} claude"


def settings() -> dict[str, object]:
    """The settings JSON passed with ``claude --settings``: only our hooks."""
    command = {"type": "command", "command": hook_command(), "timeout": 10}
    hooks: dict[str, list[dict[str, object]]] = {}
    for event in EVENTS:
        entry: dict[str, object] = {"hooks": [command]}
        if event in MATCHED_EVENTS:
            entry = {"matcher": "*", **entry}
        hooks[event] = [entry]
    return {"hooks": hooks}


def write_settings() -> Path:
    """Write the settings file (atomically, only when it changed); return its path.

    One file serves every agent: its content depends only on where this
    plugin and its Python live. The user's own ~/.claude/settings.json and the
    repository's .claude/ are never touched; Claude merges ours with theirs.
    """
    import json

    from agents_tmux import paths
    from agents_tmux.atomic import write_if_changed

    text = json.dumps(settings(), indent=2) + "\n"
    return write_if_changed(paths.state_dir() / "claude-settings.json", text)


def project_dir(worktree: Path) -> Path:
    """Where Claude Code keeps the transcripts of sessions started in ``worktree``."""
    import re
    from pathlib import Path

    base = os.environ.get("CLAUDE_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".claude")
    return Path(base) / "projects" / re.sub(r"[^a-zA-Z0-9]", "-", str(worktree))


def has_conversation(path: Path) -> bool:
    """True when the transcript at ``path`` holds at least one message (Claude resumes only those)."""
    import json

    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if '"user"' not in line and '"assistant"' not in line:
                    continue
                try:
                    if json.loads(line).get("type") in ("user", "assistant"):
                        return True
                except (ValueError, AttributeError):
                    continue
    except OSError:
        return False
    return False


def subagent_transcripts(transcript: str) -> list[str]:
    """The transcripts of ``transcript``'s subagents: ``<transcript without .jsonl>/subagents/**/*.jsonl``.

    They are spent quota too, counted with their conversation.
    """
    found: list[str] = []
    stem = transcript[:-6] if transcript.endswith(".jsonl") else transcript
    folders = [os.path.join(stem, "subagents")]
    depth = 0
    while folders and depth < SUBAGENT_DEPTH:
        nested: list[str] = []
        for folder in folders:
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue
            for entry in entries:
                if entry.name.endswith(".jsonl") and entry.is_file():
                    found.append(entry.path)
                elif entry.is_dir(follow_symlinks=False):
                    nested.append(entry.path)
        folders, depth = nested, depth + 1
    return found


def read_usage(tally: Tally, lines: Iterable[bytes], path: str) -> None:
    """Count Claude Code's replies: ``assistant`` lines with the API's ``usage`` and the ``model``.

    A reply with several content blocks is written as several lines with the
    same ``message.id`` (the tally counts it once). Only the conversation's own
    replies (not a subagent's, not a sidechain) set the context shown.
    """
    from agents_tmux.usage import json_objects

    # A user line may quote usage too (a tool result): not decoded.
    for entry in json_objects(line for line in lines if b'"assistant"' in line):
        if entry.get("type") != "assistant":
            continue
        message = entry.get("message")
        usage = message.get("usage") if isinstance(message, dict) else None
        if not isinstance(message, dict) or not isinstance(usage, dict):
            continue
        counts = [0, 0, 0, 0]
        for i, key in enumerate(USAGE_KEYS):
            value = usage.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                counts[i] = value
        if not any(counts):
            continue  # Claude's own "<synthetic>" replies (errors, interruptions) cost nothing
        tally.count(counts, message.get("model"), entry.get("timestamp"), message.get("id"), path,
                    main=path == tally.transcript and not entry.get("isSidechain"))


# --------------------------------------------------------------------------- #
class ClaudeCode(Program):
    """Claude Code (``claude``), state from its hooks, the screen filling their gaps."""

    name = "claude"
    hook_events = EVENTS
    screen = SCREEN
    usage_events = USAGE_EVENTS
    usage_markers = USAGE_MARKERS
    # Its transcripts are named only by their session id: any other is read as Claude's.
    reads_unclaimed_transcripts = True

    def state_for(self, payload: dict[str, object]) -> str | None:
        return state_for(payload)

    def turn_of(self, payload: dict[str, object]) -> str | None:
        return turn_of(payload)

    def starts_session(self, payload: dict[str, object]) -> bool:
        return payload.get("hook_event_name") == "SessionStart"

    def hook_args(self, kind: AgentKind) -> list[str]:
        del kind
        return ["--settings", str(write_settings())]

    def prompt_args(self, kind: AgentKind, prompt: str) -> tuple[list[str], str]:
        args, typed = super().prompt_args(kind, prompt)
        if kind.prompt == "arg" and args and prompt.startswith("-"):
            # "--" would be safer for prompts starting with "-", but Claude Code's
            # parser takes it; a leading space keeps such a prompt a positional.
            args = [" " + prompt]
        return args, typed

    def transcript_paths(self, worktree: Path, session_id: str, recorded: str = "") -> list[Path]:
        from pathlib import Path

        if not session_id:
            return [Path(recorded)] if recorded else []
        candidates = [Path(recorded)] if recorded and Path(recorded).name == f"{session_id}.jsonl" else []
        candidates.append(project_dir(worktree) / f"{session_id}.jsonl")
        return candidates

    def transcript(self, worktree: Path, session_id: str, recorded: str = "") -> Path | None:
        if not session_id:
            return None
        return next((path for path in self.transcript_paths(worktree, session_id, recorded) if has_conversation(path)), None)

    def has_conversations(self, worktree: Path | None) -> bool | None:
        if worktree is None:
            return False
        return any(has_conversation(path) for path in project_dir(worktree).glob("*.jsonl"))


    def conversation(self, lines: Iterable[str]) -> str:
        # Its own module: the hook handler imports this one on every event.
        from agents_tmux.programs._claude_log import conversation

        return conversation(lines)

    def usage_files(self, transcript: str) -> list[str]:
        return [transcript, *subagent_transcripts(transcript)]

    def read_usage(self, tally: Tally, lines: Iterable[bytes], path: str) -> None:
        read_usage(tally, lines, path)

    def context_window(self, model: str) -> int:
        return LONG_CONTEXT if "[1m]" in model else 0


PROGRAM = ClaudeCode()
