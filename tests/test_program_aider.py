"""The real Aider, spawned through the plugin, driven against a fake Chat Completions API on loopback.

`agents spawn --agent aider TASK` opens the real `aider` (0.86, installed by scripts/test
into .cache/agent-clis/aider) in an agent pane on its own worktree and types the task in
(Aider has no option for a first prompt that stays interactive). Aider has no hooks: the
screen watcher reads every state. Its model is tests/support/fake_chat_completions.py.
One program start serves the whole state matrix (tests/support/state_matrix.py): the
typed task, a prompt, a shell command to approve, approved (it runs, then Aider asks
whether to add its output), denied, a failed turn, Ctrl+C during a turn, exit, and
`agents restart` restoring the chat history.
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
from tests.support.program_rigs import VERSIONS, needs, prepare_aider
from tests.support.screens import record
from tests.support.state_matrix import Matrix

pytestmark = needs("aider")


@pytest.fixture
def api() -> Iterator[FakeChatCompletions]:
    with FakeChatCompletions(default=Text("OK.")) as server:
        yield server


def test_aider_state_matrix(api: FakeChatCompletions, tmux: Tmux, repo: Repo) -> None:
    """Every state an Aider agent goes through, as the status line shows it, from one start."""
    rig = prepare_aider(tmux, api, repo)
    first_turn = threading.Event()
    esc_turn = threading.Event()
    api.add(
        Rule.when("Write the notes", Text("Notes written."), gate=first_turn),
        # Long enough for a screen read to see it working (Aider has no hooks).
        Rule.when("Say hello", Text("Hello."), delay=2.5),
        Rule.when("Go on", Text("Going on."), delay=2.5),
        Rule.when("Make the file", Shell("sleep 3; touch made-by-aider.txt; echo made")),
        Rule.when("Remove the repo", Shell("rm -rf /tmp/never-run-by-aider")),
        Rule.when("Break now", Failure(400, "the fake API refuses this turn")),
        Rule.when("Think long", Text("never shown"), gate=esc_turn),
    )
    name, pane = rig.spawn("Write the notes")
    worktree = repo.path.parent / "project.agents" / name
    matrix = Matrix(rig, pane, VERSIONS["aider"])
    try:
        def first_task() -> None:
            rig.wait_state(pane, "working")
            record("aider", "working", rig.screen(pane))
            first_turn.set()

        # The prompt shows (idle) before the task is typed in.
        matrix.scenario("start, typed task", first_task, ["starting", "idle", "working", "idle"], from_start=True)
        record("aider", "idle", rig.quiet_screen(pane))
        matrix.scenario("prompt", lambda: rig.type(pane, "Say hello"), ["working", "idle"])

        def ask() -> None:
            rig.type(pane, "Make the file")
            rig.wait_screen(pane, "Run shell command?")

        matrix.scenario("approval needed", ask, ["working", "waiting"])
        record("aider", "waiting", rig.screen(pane))

        def approve() -> None:
            rig.keys(pane, "y", "Enter")
            rig.wait_state(pane, "working")
            record("aider", "running", rig.screen(pane))
            rig.wait(lambda: (worktree / "made-by-aider.txt").exists(), pane, "the approved command to run")

        # Then Aider asks whether to add the command's output to the chat.
        matrix.scenario("approved (the command runs)", approve, ["working", "waiting"])
        matrix.scenario("output not added", lambda: rig.keys(pane, "n", "Enter"), ["idle"])

        def deny() -> None:
            rig.type(pane, "Remove the repo")
            rig.wait_state(pane, "waiting")
            rig.keys(pane, "n", "Enter")

        matrix.scenario("denied", deny, ["working", "waiting", "idle"])
        record("aider", "denied", rig.quiet_screen(pane))
        matrix.scenario("failed turn (HTTP 400)", lambda: rig.type(pane, "Break now"), ["working", "error"])
        record("aider", "error", rig.quiet_screen(pane))

        def interrupt() -> None:
            rig.type(pane, "Think long")
            rig.wait_state(pane, "working")
            rig.keys(pane, "C-c")

        matrix.scenario("interrupt (Ctrl+C)", interrupt, ["working", "idle"])
        record("aider", "interrupted", rig.screen(pane))  # the spinner's last frame stays
        esc_turn.set()

        def exit_twice() -> None:
            rig.keys(pane, "C-c")
            time.sleep(0.3)
            rig.keys(pane, "C-c")

        matrix.scenario("exit (Ctrl+C twice)", exit_twice, ["exited"])

        def restart() -> None:
            rig.tmux.agents("restart", name)
            rig.wait(lambda: "--restore-chat-history" in rig.tmux.display("#{pane_start_command}", pane), pane,
                     "the restart")

        matrix.scenario("restart (--restore-chat-history)", restart, ["starting", "idle"])
        matrix.scenario("prompt after restart", lambda: rig.type(pane, "Go on"), ["working", "idle"])
        body = api.wait_user("Go on").body
        assert "Notes written." in json.dumps(body.get("messages")), "the restored chat carries the earlier turns"
    finally:
        matrix.close()
