"""The real Aider, spawned through the plugin, driven against a fake Chat Completions API on loopback.

`agents spawn --agent aider TASK` opens the real `aider` (0.86, installed by scripts/test
into .cache/agent-clis/aider) in an agent pane on its own worktree and types the task in
(Aider has no option for a first prompt that stays interactive). Aider has no hooks: the
screen watcher reads every state. Its model is tests/support/fake_chat_completions.py.
One program start serves the whole state matrix: the typed task -> working -> done ->
idle; a shell command to approve -> waiting; approved -> working (the command runs) ->
waiting (add its output?) -> idle; denied -> idle; a failed turn -> error; Ctrl+C during
a turn -> idle; exit -> exited; then `agents restart` restores the chat history.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
from conftest import Repo, Tmux

from tests.support.fake_chat_completions import FakeChatCompletions
from tests.support.fake_llm import Failure, Rule, Shell, Text
from tests.support.program_rigs import needs, prepare_aider
from tests.support.screens import record

pytestmark = needs("aider")


@pytest.fixture
def api() -> Iterator[FakeChatCompletions]:
    with FakeChatCompletions(default=Text("OK.")) as server:
        yield server


def test_aider_state_matrix(api: FakeChatCompletions, tmux: Tmux, repo: Repo) -> None:
    """Every state an Aider agent goes through, as the status line shows it, from one start."""
    rig = prepare_aider(tmux, api, repo)
    timings: dict[str, float] = {}
    first_turn = threading.Event()
    esc_turn = threading.Event()
    api.add(
        Rule.when("Write the notes", Text("Notes written."), gate=first_turn),
        Rule.when("Make the file", Shell("sleep 3; touch made-by-aider.txt; echo made")),
        Rule.when("Remove the repo", Shell("rm -rf /tmp/never-run-by-aider")),
        Rule.when("Break now", Failure(400, "the fake API refuses this turn")),
        Rule.when("Think long", Text("never shown"), gate=esc_turn),
    )

    started = time.monotonic()
    name, pane = rig.spawn("Write the notes")
    worktree = repo.path.parent / "project.agents" / name
    # the typed task -> working (the model holds the answer back)
    rig.wait_state(pane, "working")
    timings["start->working"] = time.monotonic() - started
    record("aider", "working", rig.screen(pane))
    rig.steady(pane, "working", 2.0)
    # done -> idle
    mark = time.monotonic()
    first_turn.set()
    rig.wait_state(pane, "idle")
    timings["done->idle"] = time.monotonic() - mark
    rig.wait_screen(pane, "Notes written.")
    record("aider", "idle", rig.quiet_screen(pane))
    rig.steady(pane, "idle", 2.0)

    # a shell command to approve -> waiting
    rig.type(pane, "Make the file")
    rig.wait_screen(pane, "Run shell command?")
    mark = time.monotonic()
    rig.wait_state(pane, "waiting")
    timings["approval->waiting"] = time.monotonic() - mark
    record("aider", "waiting", rig.screen(pane))
    rig.steady(pane, "waiting", 2.0)
    # approved -> working while it runs -> the next question (add its output?) -> idle
    rig.keys(pane, "y", "Enter")
    rig.wait_state(pane, "working")
    record("aider", "running", rig.screen(pane))
    rig.wait(lambda: (worktree / "made-by-aider.txt").exists(), pane, "the approved command to run")
    rig.wait_screen(pane, "Add command output to the chat?")
    rig.wait_state(pane, "waiting")
    rig.keys(pane, "n", "Enter")
    rig.wait_state(pane, "idle")

    # denied -> idle
    rig.type(pane, "Remove the repo")
    rig.wait_state(pane, "waiting")
    rig.keys(pane, "n", "Enter")
    mark = time.monotonic()
    rig.wait_state(pane, "idle")
    timings["deny->idle"] = time.monotonic() - mark
    record("aider", "denied", rig.quiet_screen(pane))

    # a failed turn -> error
    rig.type(pane, "Break now")
    rig.wait_screen(pane, "the fake API refuses this turn")
    mark = time.monotonic()
    rig.wait_state(pane, "error")
    timings["failure->error"] = time.monotonic() - mark
    record("aider", "error", rig.quiet_screen(pane))
    rig.steady(pane, "error", 2.0)

    # interrupt (Ctrl+C) during a turn -> idle
    rig.type(pane, "Think long")
    rig.wait_state(pane, "working")
    rig.keys(pane, "C-c")
    mark = time.monotonic()
    rig.wait_state(pane, "idle")
    timings["interrupt->idle"] = time.monotonic() - mark
    record("aider", "interrupted", rig.screen(pane))  # the spinner's last frame stays
    esc_turn.set()

    # exit (Ctrl+C twice) -> exited
    rig.keys(pane, "C-c")
    time.sleep(0.3)
    rig.keys(pane, "C-c")
    rig.wait_state(pane, "exited")

    # restart -> the chat history restored
    rig.tmux.agents("restart", name)
    rig.wait(lambda: "--restore-chat-history" in rig.tmux.display("#{pane_start_command}", pane)
             and rig.state(pane) != "exited", pane, "the agent to be restarted")
    rig.wait_state(pane, "idle")
    rig.type(pane, "Go on")
    body = api.wait_user("Go on", timeout=rig.slow).body
    assert "Notes written." in json.dumps(body.get("messages")), "the restored chat carries the earlier turns"
    rig.wait_state(pane, "idle")
    print("aider timings:", {k: round(v, 2) for k, v in timings.items()})
