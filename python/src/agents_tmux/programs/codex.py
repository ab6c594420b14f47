"""Codex CLI: native hooks given per process with ``-c``, trusted by hash; sessions under ``$CODEX_HOME``.

Facts (Codex 0.171, /work/shared/AGENT-CLIS.md and the recordings in tests/screens/codex):

* Hooks can be added per process: ``-c 'hooks.Stop=[{hooks=[{type="command",command="..."}]}]'``.
  Codex runs a hook only once it is trusted. Trust is a ``trusted_hash`` per hook under
  ``hooks.state."<source>:<event>:<group>:<handler>"``, where a ``-c`` hook's source is
  ``/<session-flags>/config.toml`` and the hash is SHA-256 of the hook's identity (its event,
  command, timeout, async flag) as sorted compact JSON. ``-c hooks.state={...}`` gives that
  trust per process too: agents.tmux trusts exactly its own hook commands, nothing else —
  not the blanket ``--dangerously-bypass-hook-trust``, which would also run a cloned
  repository's ``.codex/hooks.json`` unreviewed, and not an edit of the user's config.toml.
* ``SessionStart`` fires when the first prompt is submitted (not when the TUI opens), so
  it sets no state: the ``UserPromptSubmit`` right after it does.
* Denying an approval and pressing Esc fire no ``Stop`` (the screen returns to the
  composer: "■ Conversation interrupted"); a failed request fires none either (the screen
  shows "■ <the error>"): the screen watcher decides those, from ``working``/``waiting``.
* ``codex resume <id>`` reopens a conversation; transcripts are
  ``$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<id>.jsonl``.
* The rollout holds the usage: ``turn_context`` lines name the model of the turn, a
  ``token_usage_record`` line per response gives its ``usage`` (cached input counted
  inside ``input_tokens``), ``token_count`` events give the context window.
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

#: Codex hook events agents.tmux listens to, in the order a turn fires them.
EVENTS = ("SessionStart", "UserPromptSubmit", "PreToolUse", "PermissionRequest", "PostToolUse", "Stop", "SessionEnd")
EVENT_STATES = {
    "UserPromptSubmit": "working",
    "PreToolUse": "working",
    "PostToolUse": "working",
    "PermissionRequest": "waiting",
    "Stop": "idle",
    "SessionEnd": "exited",
}
#: Seconds a hook may run. Codex clamps SessionEnd's to 3 s, and the trust hash is
#: taken over the clamped value, so it is given as 3 here.
TIMEOUTS = {"SessionEnd": 3}
DEFAULT_TIMEOUT = 10
#: Where Codex files hooks given with ``-c`` (the key prefix of their trust entries).
SESSION_FLAGS_SOURCE = "/<session-flags>/config.toml"

#: Rollout lines the usage reading decodes (see :func:`read_usage`).
USAGE_MARKERS = (b'"token_usage_record"', b'"turn_context"', b'"token_count"')
#: A response's ``usage`` keys: input (cached included), output, cache write, cache read.
USAGE_KEYS = ("input_tokens", "output_tokens", "cache_write_input_tokens", "cached_input_tokens")

#: What the screen shows (recorded from Codex 0.171 in tests/screens/codex).
SCREEN = {
    # Approvals ("Would you like to run the following command?", "...make the following
    # edits?"), their footer, the folder-trust question ("Trust this folder?") and
    # the review of hooks it does not trust yet.
    "waiting": (
        "Would you like to (run|make|grant|apply)",
        "Press enter to confirm or esc to cancel",
        "Trust this folder\\?",
        "Hooks need review",
    ),
    # "■ <message>" after a failed request ("■ Conversation interrupted" is an
    # interrupt), as long as no later message ("■ ..." or "• ...") follows it.
    "error": ("^■ (?!Conversation interrupted)(?![\\s\\S]*^[■•] )",),
    "working": ("[Ee]sc to interrupt",),
    # The composer's footer (older versions: "⏎ send ..."); the composer line
    # itself stays on screen while working.
    "idle": ("\\? for shortcuts", "\\d+% context left", "⏎ send"),
}


def event_label(event: str) -> str:
    """Codex's snake_case name of an event, as in its trust keys.

    >>> event_label("PermissionRequest")
    'permission_request'
    """
    return "".join("_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(event))


def hook_command() -> str:
    """The shell command Codex runs for each hook: this Python, isolated, no site."""
    import shlex

    handler = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "run_hook.py")
    return f"{shlex.quote(sys.executable)} -I -S {shlex.quote(handler)} codex"


def trust_hash(event: str, command: str, timeout: int) -> str:
    """The ``trusted_hash`` Codex computes for one command hook with no matcher.

    >>> trust_hash("Stop", "/tmp/pg/hooklog.sh Stop", 600)
    'sha256:ede94ee632e47b5811efa5612d7f2766e528267fc2f24979d505245da7dbf890'
    """
    import hashlib
    import json

    identity = {"event_name": event_label(event),
                "hooks": [{"async": False, "command": command, "timeout": timeout, "type": "command"}]}
    return "sha256:" + hashlib.sha256(json.dumps(identity, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def hook_config(command: str) -> list[str]:
    """The ``-c`` overrides that add agents.tmux's hooks to one Codex process, and trust them."""
    import json

    args: list[str] = []
    trusted: list[str] = []
    for event in EVENTS:
        timeout = TIMEOUTS.get(event, DEFAULT_TIMEOUT)
        # JSON strings are valid TOML basic strings.
        args += ["-c", f'hooks.{event}=[{{hooks=[{{type="command",command={json.dumps(command)},timeout={timeout}}}]}}]']
        key = f"{SESSION_FLAGS_SOURCE}:{event_label(event)}:0:0"
        trusted.append(f'{json.dumps(key)}={{trusted_hash="{trust_hash(event, command, timeout)}"}}')
    args += ["-c", "hooks.state={" + ",".join(trusted) + "}"]
    return args


def codex_home() -> str:
    return os.environ.get("CODEX_HOME") or os.path.join(os.path.expanduser("~"), ".codex")


def read_usage(tally: Tally, lines: Iterable[bytes], path: str) -> None:
    """Count Codex 0.171's responses from its rollout (the line shapes are in the module's notes).

    Codex counts cached input inside ``input_tokens``: input here is the uncached part.
    """
    from agents_tmux.usage import json_objects

    for entry in json_objects(lines):
        payload = entry.get("payload")
        if not isinstance(payload, dict):
            continue
        kind = entry.get("type")
        if kind == "turn_context" and isinstance(payload.get("model"), str):
            tally.turn_model = payload["model"]
        elif kind == "event_msg" and payload.get("type") == "token_count":
            info = payload.get("info")
            window = info.get("model_context_window") if isinstance(info, dict) else None
            if isinstance(window, int) and window > 0:
                tally.window = window
        elif kind == "token_usage_record" and isinstance(payload.get("usage"), dict):
            usage = payload["usage"]
            raw = [usage.get(key) for key in USAGE_KEYS]
            full_input, output, cache_write, cache_read = (v if isinstance(v, int) and v > 0 else 0 for v in raw)
            counts = [max(0, full_input - cache_read - cache_write), output, cache_write, cache_read]
            tally.count(counts, tally.turn_model, entry.get("timestamp"), payload.get("response_id"), path, main=True)


class Codex(Program):
    """OpenAI's Codex CLI (``codex``), state from its hooks, the screen filling their gaps."""

    name = "codex"
    hook_events = EVENTS
    screen = SCREEN
    reports_start = False
    usage_events = ("Stop",)
    usage_markers = USAGE_MARKERS

    def state_for(self, payload: dict[str, object]) -> str | None:
        event = payload.get("hook_event_name")
        return EVENT_STATES.get(event) if isinstance(event, str) else None

    def starts_session(self, payload: dict[str, object]) -> bool:
        return payload.get("hook_event_name") == "SessionStart"

    def hook_args(self, kind: AgentKind) -> list[str]:
        del kind
        return hook_config(hook_command())

    def prompt_args(self, kind: AgentKind, prompt: str) -> tuple[list[str], str]:
        args, typed = super().prompt_args(kind, prompt)
        if kind.prompt == "arg" and args and prompt.startswith("-"):
            args = ["--", prompt]  # a task starting with "-" is not an option
        return args, typed

    def transcript_paths(self, worktree: Path, session_id: str, recorded: str = "") -> list[Path]:
        from pathlib import Path

        del worktree
        candidates = [Path(recorded)] if recorded else []
        if session_id and not any(p.name.endswith(f"-{session_id}.jsonl") for p in candidates):
            sessions = Path(codex_home()) / "sessions"
            candidates += sorted(sessions.glob(f"*/*/*/rollout-*-{session_id}.jsonl"))
        return candidates


    def owns_transcript(self, path: str) -> bool:
        return os.path.basename(path).startswith("rollout-")

    def read_usage(self, tally: Tally, lines: Iterable[bytes], path: str) -> None:
        read_usage(tally, lines, path)


PROGRAM = Codex()
