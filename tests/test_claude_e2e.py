"""The real Claude Code, spawned through the plugin, driven against a fake API on loopback.

Nothing here is a stand-in: the `claude` binary (each test runs twice: the pinned
Claude Code 2.1.197 and the newest, installed by scripts/test into .cache/) runs in an agent pane opened by `agents spawn`
(or by the real `prefix + A` key), with the plugin's generated `--settings` hooks and
screen watcher. Its "model" is tests/support/fake_api.py, scripted per test; its HOME is
the test's, with a `.claude.json` that skips onboarding and trusts the agents' worktrees.

Each test asserts what a user sees: `@agent_state` and the rendered status segment at every
step of a real turn, the permission prompt, the folder-trust screen and an Esc interrupt
(the last two fire no hook at all: the screen watcher must notice them).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import PREFIX, Repo, Tmux, attach_client, first_pane, pane_of, wait_for

from tests.support.claude_rig import (  # noqa: F401 (api: a fixture)
    ClaudeBuild,
    ClaudeRig,
    api,
    claude_build,
    claude_child,
    prepare_rig,
    transcript_folder_name,
    trusted_folders,
)
from tests.support.fake_api import (
    FakeAnthropic,
    Reply,
    bash,
    is_main_request,
    last_user_text,
)
from tests.support.screens import record

#: Generous: Claude takes 1-2 s to start here, on 2 busy cores.
SLOW = 40.0


@pytest.fixture
def rig(api: FakeAnthropic, tmux: Tmux, repo: Repo, claude_build: ClaudeBuild) -> ClaudeRig:
    """Claude (each version in turn) set up to start straight into its prompt in any agent worktree."""
    return prepare_rig(tmux, api, trusted_folders(repo), claude_build)


def spawn(rig: ClaudeRig, task: str) -> tuple[str, str]:
    """`agents spawn TASK` from the user's pane; the agent's name and pane."""
    name = rig.tmux.agents("spawn", task, "--pane", first_pane(rig.tmux)).stdout.strip()
    return name, pane_of(rig.tmux, name)


def claude_process(tmux: Tmux, pane: str) -> int | None:
    """The pid of the claude process the pane's wrapper runs (None once it has gone)."""
    found = claude_child(tmux, pane, "--session-id")
    return found[0] if found else None


def check_claude_started(rig: ClaudeRig, repo: Repo, name: str, pane: str, task: str) -> None:
    """Claude runs in the agent's worktree, got the task as its first prompt, and the pane
    records the session id the plugin chose and the real transcript file."""
    worktree = repo.path.parent / "project.agents" / name
    assert rig.tmux.option(pane, "@agent_worktree") == str(worktree)

    # The task is the first thing the model is asked.
    body = rig.main_request_with(task, timeout=SLOW)
    first_main = next(b for b in rig.api.requests if is_main_request(b))
    assert task in last_user_text(first_main)

    # The session id: chosen by the plugin (argv), recorded on the pane, used by Claude.
    session_id = rig.tmux.option(pane, "@agent_session_id")
    assert str(uuid.UUID(session_id)) == session_id
    start_command = rig.tmux.display("#{pane_start_command}", pane)
    assert f"--session-id {session_id}" in start_command
    assert json.loads(body["metadata"]["user_id"])["session_id"] == session_id

    # Claude itself runs in the worktree (its process, and what it tells the model).
    pid = rig.wait(lambda: claude_process(rig.tmux, pane), pane, "the claude process")
    assert Path(os.readlink(f"/proc/{pid}/cwd")) == worktree
    # (2.1.197 names it in the system prompt, 2.1.332 in the first message's context.)
    assert str(worktree) in json.dumps(body["system"]) + json.dumps(body["messages"])

    # The transcript: set by the SessionStart hook, in the worktree's project folder.
    transcript = Path(rig.wait(lambda: rig.tmux.option(pane, "@agent_transcript"), pane, "@agent_transcript"))
    assert transcript == rig.home / ".claude" / "projects" / transcript_folder_name(worktree) / f"{session_id}.jsonl"
    first = rig.wait(lambda: _first_prompt(transcript), pane, f"the first prompt in the transcript {transcript}")
    assert first["message"]["content"] == task
    assert (first["cwd"], first["sessionId"], first["gitBranch"]) == (str(worktree), session_id, f"agent/{name}")

    # The turn ends (the default reply ends it): idle, and the bar says so.
    rig.wait_state(pane, "idle", timeout=SLOW)
    assert rig.segment() == "✓ 1"


def _first_prompt(transcript: Path) -> dict[str, Any] | None:
    """The first user message Claude wrote to its transcript file, once it has."""
    try:
        lines = transcript.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line being written
        if isinstance(entry, dict) and entry.get("type") == "user":
            return entry
    return None


def test_spawn_starts_real_claude_in_its_worktree(rig: ClaudeRig, repo: Repo) -> None:
    task = "Write the changelog entry"
    name, pane = spawn(rig, task)
    assert name == "write-the-changelog-entry"
    check_claude_started(rig, repo, name, pane, task)


def test_spawn_key_starts_real_claude(rig: ClaudeRig, repo: Repo, tmux: Tmux) -> None:
    client = attach_client(tmux, timeout=15, attach_timeout=15)
    try:
        task = "Tidy up the README"
        client.send(PREFIX)
        client.send("A")
        client.expect("task:")
        client.send(task + "\r")
        name = "tidy-up-the-readme"
        pane = wait_for(lambda: _pane_or_none(tmux, name), timeout=SLOW, message="the agent pane")
        check_claude_started(rig, repo, name, pane, task)
    finally:
        client.terminate(force=True)


def _pane_or_none(tmux: Tmux, name: str) -> str | None:
    try:
        return pane_of(tmux, name)
    except AssertionError:
        return None


def test_a_whole_turn_with_a_permission_prompt(rig: ClaudeRig, repo: Repo, tmux: Tmux) -> None:
    task = "Create the marker file"
    marker = "made-by-claude.txt"
    # Each answer takes a while, so "working" is there to be seen.
    rig.api.add(
        Reply.when(task, bash(f"touch {marker}", "Create the marker file"), delay=3.0, times=1),
        Reply.after_tool("The marker file is there.", delay=3.0, times=1),
    )
    name, pane = spawn(rig, task)
    worktree = repo.path.parent / "project.agents" / name

    # Working on the first answer.
    rig.main_request_with(task, timeout=SLOW)
    rig.wait_state(pane, "working")
    assert rig.segment() == "⚙ 1"

    # The model asks for `touch`: a permission prompt, the agent waits for the user.
    rig.wait_screen(pane, "Do you want to proceed?")
    rig.wait_state(pane, "waiting")
    assert rig.segment() == "⏳ 1"
    assert not (worktree / marker).exists()

    # Approve: the tool runs, Claude works on the next answer.
    tmux.run("send-keys", "-t", pane, "1")
    rig.wait_state(pane, "working")
    assert rig.segment() == "⚙ 1"
    rig.wait(lambda: (worktree / marker).exists(), pane, "the approved command to run")

    # The turn ends.
    rig.wait_state(pane, "idle")
    assert rig.segment() == "✓ 1"
    rig.wait_screen(pane, "The marker file is there.")

    # /exit: the agent has exited, the pane stays (a shell in the worktree).
    rig.wait_screen(pane, "? for shortcuts")
    tmux.run("send-keys", "-t", pane, "-l", "/exit")
    rig.wait_screen(pane, "/exit")
    tmux.run("send-keys", "-t", pane, "Enter")
    rig.wait_state(pane, "exited")
    assert rig.segment() == "✗ 1"
    rig.wait_screen(pane, "This pane is now a shell in")
    assert tmux.option(pane, "@agent_exit_status") == "0"

    # The pane goes: no agents, nothing on the bar.
    tmux.run("send-keys", "-t", pane, "exit", "Enter")
    wait_for(lambda: pane not in tmux.panes(), timeout=SLOW, message="the pane to close")
    assert rig.segment() == ""


def test_folder_trust_screen_shows_as_waiting(api: FakeAnthropic, tmux: Tmux, repo: Repo, claude_build: ClaudeBuild) -> None:
    # Nothing trusted. (Trusting the repository would do: Claude Code takes a
    # linked worktree's trust from its main checkout, even in a sibling folder.)
    rig = prepare_rig(tmux, api, [], claude_build)
    task = "Check the trust screen"
    _name, pane = spawn(rig, task)
    rig.wait_screen(pane, "Quick safety check", timeout=SLOW)
    # No hook fires before the folder is trusted: only the watcher can tell.
    rig.wait_state(pane, "waiting")
    assert rig.segment() == "⏳ 1"
    assert not rig.api.main_requests
    record("claude", claude_build.version, "trust", rig.screen(pane))
    # Nobody answers for the user: from 2.1.332 the highlighted choice is
    # "No, exit", and Enter would end Claude. It is still asking a while later.
    before = rig.tmux.display("#{pane_current_command}", pane)
    time.sleep(3)
    assert "Quick safety check" in rig.screen(pane)
    assert rig.tmux.display("#{pane_current_command}", pane) == before
    assert rig.state(pane) == "waiting"

    # Yes, I trust this folder: highlighted first in 2.1.197, second from 2.1.332.
    if "❯ No, exit" in rig.screen(pane):
        tmux.run("send-keys", "-t", pane, "Down")
        rig.wait_screen(pane, "❯ Yes, I trust this folder")
    tmux.run("send-keys", "-t", pane, "Enter")
    rig.main_request_with(task, timeout=SLOW)
    rig.wait_state(pane, "idle", timeout=SLOW)
    assert rig.segment() == "✓ 1"
    assert rig.tmux.option(pane, "@agent_transcript")


def test_esc_during_a_slow_answer_ends_as_idle(api: FakeAnthropic, tmux: Tmux, repo: Repo, claude_build: ClaudeBuild) -> None:
    # The program's own default permission mode: from 2.1.332 "auto", whose idle
    # footer is "⏵⏵ auto mode on" instead of "? for shortcuts".
    rig = prepare_rig(tmux, api, trusted_folders(repo), claude_build, ask_permissions=False)
    task = "Think for a long time"
    rig.api.add(Reply.when(task, "Too late.", delay=60.0, times=1))
    _name, pane = spawn(rig, task)
    rig.main_request_with(task, timeout=SLOW)
    rig.wait_state(pane, "working")
    rig.wait_screen(pane, "esc to interrupt")
    # The program's default mode (no permission prompts): its footer differs.
    record("claude", claude_build.version, "default-mode-working", rig.screen(pane))

    # Esc: Claude stops the turn but sends no Stop hook; the screen watcher sees it.
    tmux.run("send-keys", "-t", pane, "Escape")
    rig.wait_state(pane, "idle", timeout=20)
    assert rig.segment() == "✓ 1"
    assert "Too late." not in rig.screen(pane)
    # Stopped before any text came: the prompt goes back into the box.
    record("claude", claude_build.version, "default-mode-interrupted", rig.screen(pane))
    # Claude really dropped the answer it was waiting for.
    rig.wait(lambda: any(r.aborted for r in rig.api.log), pane, "Claude to hang up on the slow answer")
