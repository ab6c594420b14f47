"""Gemini CLI: native hooks from the agent's own ``.gemini/settings.json``; sessions by id.

Facts (Gemini CLI 0.61, /work/shared/AGENT-CLIS.md and the recordings in tests/screens/gemini):

* Gemini has no ``--settings`` flag. It reads hooks from the user's
  ``~/.gemini/settings.json`` and from the workspace's ``.gemini/settings.json``
  (merged), the latter only in a *trusted* folder. agents.tmux never edits the
  user's file: it writes the workspace file in the agent's own worktree, in a
  ``.gemini`` folder it creates there with a ``.gitignore`` of ``*`` (so git never
  sees either file, and nothing shared such as ``.git/info/exclude`` changes).
  Where the checkout already has a ``.gemini`` folder of its own, or someone
  edited the settings agents.tmux wrote, nothing is written and the screen alone
  tells the state. (Gemini's system settings would avoid the workspace file, but
  it reads them only from a root-owned file.)
* An agent without a worktree of its own (a team role with ``worktree = false``)
  runs in the user's main checkout: the folder is written there too, and
  :meth:`Gemini.release` takes it back, file by file as it was written, when the
  last such agent is removed.
* A worktree is a new path to Gemini's folder trust. agents.tmux trusts it for the
  agent's process (``GEMINI_CLI_TRUST_WORKSPACE=true``; the ``--skip-trust`` flag comes
  too late to load workspace settings) only when the user already trusts the
  repository's main checkout in Gemini (``trustedFolders.json``), or has folder trust
  turned off. Otherwise Gemini asks as usual and the screen tells the state.
* Gemini warns once per new project path that it found project hooks ("agents-tmux"),
  then runs them and remembers them in ``~/.gemini/trusted_hooks.json`` (its own file).
* Events: SessionStart (at start-up) → BeforeAgent → BeforeTool → Notification
  ``ToolPermission`` (waiting) → AfterTool → AfterAgent (turn done). Denying fires no
  hook at all; a failed request ends with AfterAgent whose response is
  ``[no response text]`` and the screen shows ``✕ [API Error: ...]``: the watcher
  decides those. SessionEnd fires several times per exit; the pane's wrapper
  reports the exit instead.
* Each reply in the chat file is a ``"type":"gemini"`` line with ``tokens`` (``input``
  with ``cached`` inside it, ``output``, ``thoughts``, ``tool``) and ``model``; a reply
  written again (tool calls added) keeps its ``id``; ``$set`` lines rewrite the message
  list and are no new spending.
* ``CI=true`` or ``GITHUB_ACTIONS=true`` (exactly ``"true"``) makes Gemini take itself for
  headless whatever its terminal (``isHeadlessMode``): started without a prompt, as
  ``agents restart`` starts it (``--resume <id>``), it reads an empty stdin and exits 42.
  Its pane is a terminal, so the adapter empties both (:attr:`Gemini.pane_env`), for
  every kind that runs ``gemini``; a kind's own ``env`` may still set them.
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

#: Gemini CLI hook events agents.tmux listens to, in the order a turn fires them.
EVENTS = ("SessionStart", "BeforeAgent", "BeforeTool", "Notification", "AfterTool", "AfterAgent")
EVENT_STATES = {"SessionStart": "idle", "BeforeAgent": "working", "BeforeTool": "working", "AfterTool": "working"}
#: What AfterAgent reports when the turn produced no text (a failed request, mostly).
NO_RESPONSE = "[no response text]"
#: The name our hooks carry (Gemini shows it while they run, and in its warning).
HOOK_NAME = "agents-tmux"
#: The .gitignore agents.tmux puts in a .gemini folder it creates: it marks the folder as ours.
GITIGNORE = "# Written by agents.tmux for this agent's worktree; ignored by git.\n*\n"

#: Chat lines the usage reading decodes: a reply's token counts.
USAGE_MARKERS = (b'"tokens":',)

#: What the screen shows (recorded from Gemini CLI 0.61 in tests/screens/gemini).
SCREEN = {
    "waiting": ("Allow execution", "Waiting for user confirmation", "Apply this change\\?", "Do you trust the files in this folder"),
    # The error of the last turn: no prompt of a later turn (" > ...", not the
    # input box's " >   Type your message") follows it.
    "error": ("^✕ \\[API Error(?![\\s\\S]*^ > (?! *Type your message))",),
    "working": ("esc to cancel",),
    "idle": ("Type your message",),
}


def state_for(payload: dict[str, object]) -> str | None:
    """The state a Gemini hook event moves the agent to, or None to leave it.

    >>> state_for({"hook_event_name": "Notification", "notification_type": "ToolPermission"})
    'waiting'
    >>> state_for({"hook_event_name": "AfterAgent", "prompt_response": "Done."})
    'idle'
    >>> state_for({"hook_event_name": "AfterAgent", "prompt_response": "[no response text]"}) is None
    True
    """
    event = payload.get("hook_event_name")
    if event == "Notification":
        return "waiting" if payload.get("notification_type") == "ToolPermission" else None
    if event == "AfterAgent":
        # No text: most likely a failed request. The screen tells idle from error.
        return None if payload.get("prompt_response") == NO_RESPONSE else "idle"
    return EVENT_STATES.get(event) if isinstance(event, str) else None


def hook_command() -> str:
    """The shell command Gemini runs for each hook: this Python, isolated, no site."""
    import shlex

    handler = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "run_hook.py")
    return f"{shlex.quote(sys.executable)} -I -S {shlex.quote(handler)} gemini"


def settings() -> dict[str, object]:
    """The workspace settings agents.tmux writes: only its hooks (timeouts in milliseconds)."""
    command = {"type": "command", "name": HOOK_NAME, "command": hook_command(), "timeout": 10000}
    return {"hooks": {event: [{"hooks": [command]}] for event in EVENTS}}


def gemini_dir() -> str:
    """The user's Gemini folder (``$GEMINI_CLI_HOME/.gemini``, default ``~/.gemini``)."""
    return os.path.join(os.environ.get("GEMINI_CLI_HOME") or os.path.expanduser("~"), ".gemini")


def _read_json(path: str) -> object:
    import json

    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def main_checkout(workdir: Path) -> Path:
    """The repository's main checkout, for a linked worktree (``workdir`` itself otherwise)."""
    from pathlib import Path

    dot_git = workdir / ".git"
    try:
        text = dot_git.read_text(encoding="utf-8") if dot_git.is_file() else ""
    except OSError:
        return workdir
    if not text.startswith("gitdir:"):
        return workdir
    gitdir = (workdir / text[len("gitdir:"):].strip()).resolve()
    try:
        common = (gitdir / (gitdir / "commondir").read_text(encoding="utf-8").strip()).resolve()
    except OSError:
        return workdir
    return common.parent if common.name == ".git" else Path(common)


def trusted(folder: Path) -> bool:
    """Whether Gemini trusts ``folder``: folder trust off, or its longest matching rule trusts it."""
    user = _read_json(os.path.join(gemini_dir(), "settings.json"))
    security = user.get("security") if isinstance(user, dict) else None
    folder_trust = security.get("folderTrust") if isinstance(security, dict) else None
    if isinstance(folder_trust, dict) and folder_trust.get("enabled") is False:
        return True
    rules_path = os.environ.get("GEMINI_CLI_TRUSTED_FOLDERS_PATH") or os.path.join(gemini_dir(), "trustedFolders.json")
    rules = _read_json(rules_path)
    if not isinstance(rules, dict):
        return False
    target = os.path.realpath(folder)
    best, level = -1, ""
    for rule, value in rules.items():
        if not isinstance(rule, str) or not isinstance(value, str):
            continue
        base = os.path.realpath(os.path.dirname(rule) if value == "TRUST_PARENT" else rule)
        if (target == base or target.startswith(base.rstrip(os.sep) + os.sep)) and len(rule) > best:
            best, level = len(rule), value
    return level in ("TRUST_FOLDER", "TRUST_PARENT")


def only_our_hooks(loaded: object) -> bool:
    """True when workspace settings hold agents.tmux's hooks and nothing else (edited settings are work).

    >>> only_our_hooks(settings())
    True
    >>> only_our_hooks({**settings(), "ui": {"theme": "dark"}})
    False
    """
    if not isinstance(loaded, dict) or set(loaded) != {"hooks"} or not isinstance(loaded["hooks"], dict):
        return False
    for event, groups in loaded["hooks"].items():
        if event not in EVENTS or not isinstance(groups, list) or len(groups) != 1 or not isinstance(groups[0], dict):
            return False
        handlers = groups[0].get("hooks")
        if set(groups[0]) != {"hooks"} or not isinstance(handlers, list) or len(handlers) != 1:
            return False
        handler = handlers[0]
        if not isinstance(handler, dict) or handler.get("name") != HOOK_NAME or "run_hook.py" not in str(handler.get("command")):
            return False
    return True


def write_workspace_settings(workdir: Path) -> bool:
    """Write our hooks into ``workdir/.gemini`` if that folder is ours to write; True when done."""
    import json

    from agents_tmux.atomic import write_if_changed

    folder = workdir / ".gemini"
    marker = folder / ".gitignore"
    if folder.exists() or folder.is_symlink():
        try:
            ours = not folder.is_symlink() and marker.read_text(encoding="utf-8") == GITIGNORE
        except OSError:
            ours = False
        written = folder / "settings.json"
        if not ours or (written.exists() and not only_our_hooks(_read_json(str(written)))):
            # Someone's own folder, or our settings edited since: theirs now, never overwritten.
            return False
    else:
        folder.mkdir()
        write_if_changed(marker, GITIGNORE)
    write_if_changed(folder / "settings.json", json.dumps(settings(), indent=2) + "\n")
    return True


def session_files(session_id: str) -> list[Path]:
    """Gemini's transcripts of ``session_id``: ``~/.gemini/tmp/<project>/chats/session-<time>-<id[:8]>.jsonl``."""
    from pathlib import Path

    if len(session_id) < 8:
        return []
    return sorted(Path(gemini_dir()).glob(f"tmp/*/chats/session-*-{session_id[:8]}.json*"))


def read_usage(tally: Tally, lines: Iterable[bytes], path: str) -> None:
    """Count Gemini CLI 0.61's replies from its chat file (the line shapes are in the module's notes).

    Cached input is counted apart from the rest; thinking counts as output,
    tool-use prompts as input.
    """
    from agents_tmux.usage import json_objects

    for entry in json_objects(lines):
        if entry.get("type") != "gemini" or not isinstance(entry.get("tokens"), dict):
            continue
        tokens = entry["tokens"]
        full_input, output, cached, thoughts, tool = (
            v if isinstance(v, int) and v > 0 else 0
            for v in (tokens.get(k) for k in ("input", "output", "cached", "thoughts", "tool"))
        )
        counts = [max(0, full_input - cached) + tool, output + thoughts, 0, cached]
        if any(counts):
            tally.count(counts, entry.get("model"), entry.get("timestamp"), entry.get("id"), path, main=True)


class Gemini(Program):
    """Google's Gemini CLI (``gemini``), state from its hooks, the screen filling their gaps."""

    name = "gemini"
    hook_events = EVENTS
    screen = SCREEN
    commands = ("gemini",)
    usage_events = ("AfterAgent",)
    usage_markers = USAGE_MARKERS
    # Empty, not unset (a pane's -e cannot unset): Gemini tests for "true" only.
    pane_env = {"CI": "", "GITHUB_ACTIONS": ""}

    def state_for(self, payload: dict[str, object]) -> str | None:
        return state_for(payload)

    def starts_session(self, payload: dict[str, object]) -> bool:
        return payload.get("hook_event_name") == "SessionStart"

    def prepare(self, kind: AgentKind, workdir: Path) -> dict[str, str] | None:
        del kind
        if not trusted(main_checkout(workdir)) or not write_workspace_settings(workdir):
            return None
        # The worktree is a new path to Gemini: trust it as its repository is trusted.
        return {"GEMINI_CLI_TRUST_WORKSPACE": "true"}

    def own_files(self, workdir: Path) -> list[str]:
        folder = workdir / ".gemini"
        try:
            if (folder / ".gitignore").read_text(encoding="utf-8") != GITIGNORE:
                return []
        except OSError:
            return []
        mine = [".gemini/.gitignore"]
        if only_our_hooks(_read_json(str(folder / "settings.json"))):
            mine.append(".gemini/settings.json")
        return mine

    def release(self, workdir: Path) -> list[str]:
        folder = workdir / ".gemini"
        mine = self.own_files(workdir)
        gone: list[str] = []
        try:
            if not mine or folder.is_symlink() or {f".gemini/{entry.name}" for entry in folder.iterdir()} != set(mine):
                # Anything else in it (edited settings, a file of the user's or Gemini's): left as it is.
                return []
            for rel in reversed(mine):  # the marker last: a folder half taken back is still ours
                (workdir / rel).unlink()
                gone.append(rel)
            folder.rmdir()
        except OSError:
            return gone
        return gone

    def transcript_paths(self, worktree: Path, session_id: str, recorded: str = "") -> list[Path]:
        from pathlib import Path

        del worktree
        candidates = [Path(recorded)] if recorded else []
        return candidates + [p for p in session_files(session_id) if str(p) != recorded]


    def owns_transcript(self, path: str) -> bool:
        """A chat file: ``.../chats/session-<time>-<id>.json[l]``."""
        return os.path.basename(os.path.dirname(path)) == "chats" and os.path.basename(path).startswith("session-")

    def read_usage(self, tally: Tally, lines: Iterable[bytes], path: str) -> None:
        read_usage(tally, lines, path)


PROGRAM = Gemini()
