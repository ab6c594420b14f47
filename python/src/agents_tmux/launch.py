"""Build the command line that starts (or resumes) an agent, and Claude's hook settings."""

from __future__ import annotations

import json
import shlex
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agents_tmux import paths
from agents_tmux.atomic import write_if_changed
from agents_tmux.config import AgentKind

#: Claude Code events agents.tmux listens to. Tool events take a matcher.
CLAUDE_EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "PermissionRequest",
    "Notification",
    "Stop",
    "SessionEnd",
)
_MATCHED_EVENTS = ("PreToolUse", "PostToolUse", "PostToolUseFailure", "PermissionRequest")


@dataclass(frozen=True)
class Launch:
    """What the agent's pane runs, and what to record about it."""

    argv: tuple[str, ...]
    #: Text to type into the pane once the agent runs (prompt mode "keys").
    typed_prompt: str = ""
    #: Claude's session id when agents.tmux chose it up front.
    session_id: str = ""


def hook_command() -> str:
    """The shell command Claude runs for each hook: this Python, isolated, no site."""
    handler = Path(__file__).with_name("run_hook.py")
    return f"{shlex.quote(sys.executable)} -I -S {shlex.quote(str(handler))}"


def claude_settings() -> dict[str, object]:
    """The settings JSON passed with ``claude --settings``: only our hooks."""
    command = {"type": "command", "command": hook_command(), "timeout": 10}
    hooks: dict[str, list[dict[str, object]]] = {}
    for event in CLAUDE_EVENTS:
        entry: dict[str, object] = {"hooks": [command]}
        if event in _MATCHED_EVENTS:
            entry = {"matcher": "*", **entry}
        hooks[event] = [entry]
    return {"hooks": hooks}


def write_claude_settings() -> Path:
    """Write the settings file (atomically, only when it changed); return its path.

    One file serves every agent: its content depends only on where this
    plugin and its Python live. The user's own ~/.claude/settings.json and the
    repository's .claude/ are never touched; Claude merges ours with theirs.
    """
    text = json.dumps(claude_settings(), indent=2) + "\n"
    return write_if_changed(paths.state_dir() / "claude-settings.json", text)


def _with_prompt(kind: AgentKind, argv: list[str], prompt: str) -> str:
    """Add ``prompt`` to ``argv`` as ``kind`` wants; return text to type instead, if any."""
    if not prompt or kind.prompt == "none":
        return ""
    if kind.prompt == "keys":
        return prompt
    if kind.prompt.startswith("flag:"):
        argv += [kind.prompt[len("flag:"):], prompt]
    else:
        # "--" would be safer for prompts starting with "-", but Claude Code's
        # parser takes it; a leading space keeps such a prompt a positional.
        argv.append(" " + prompt if prompt.startswith("-") else prompt)
    return ""


def _base_argv(kind: AgentKind, add_dirs: Sequence[str]) -> list[str]:
    """The agent's command, then the folders it may use outside its working directory.

    ``--add-dir`` takes any number of folders, so it comes first: the next
    option ends the list, which therefore never swallows the prompt.
    """
    argv = list(kind.command)
    if kind.add_dir_flag and add_dirs:
        argv += [kind.add_dir_flag, *add_dirs]
    return argv


def start_command(
    kind: AgentKind, prompt: str, system_prompt: str = "", name: str = "", add_dirs: Sequence[str] = ()
) -> Launch:
    """The command that starts a new agent of ``kind`` on ``prompt``.

    ``add_dirs``: folders outside the working directory the agent may use
    (the real shared context folder), passed with the kind's ``add_dir_flag``.
    """
    argv = _base_argv(kind, add_dirs)
    session_id = ""
    if kind.hooks == "claude":
        argv += ["--settings", str(write_claude_settings())]
        if kind.session_id_flag:
            session_id = str(uuid.uuid4())
            argv += [kind.session_id_flag, session_id]
    if system_prompt and kind.system_prompt_flag:
        argv += [kind.system_prompt_flag, system_prompt]
    typed = _with_prompt(kind, argv, prompt)
    return Launch(argv=tuple(argv), typed_prompt=typed, session_id=session_id)


def resume_command(kind: AgentKind, session_id: str, system_prompt: str = "", add_dirs: Sequence[str] = ()) -> Launch:
    """The command that brings an agent's conversation back after a restart.

    With a known session id and a ``resume`` template, resume that exact
    conversation; otherwise fall back to ``continue`` (the newest conversation
    in the worktree), and failing that start the agent afresh.
    """
    argv = _base_argv(kind, add_dirs)
    if kind.hooks == "claude":
        argv += ["--settings", str(write_claude_settings())]
    if session_id and kind.resume:
        argv += [part.replace("{session_id}", session_id) for part in kind.resume]
    elif kind.continue_args:
        argv += list(kind.continue_args)
    if system_prompt and kind.system_prompt_flag:
        argv += [kind.system_prompt_flag, system_prompt]
    return Launch(argv=tuple(argv), session_id=session_id)
