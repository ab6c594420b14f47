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
from collections.abc import Iterator

import pytest
from conftest import Repo, Tmux

from tests.support.fake_chat_completions import FakeChatCompletions
from tests.support.fake_llm import Text
from tests.support.program_rigs import VERSIONS, needs, prepare_aider
from tests.support.state_matrix import Matrix, matrix_rules

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
    api.add(*matrix_rules("aider", "sleep 3; touch made-by-aider.txt; echo made", first_turn=first_turn,
                          esc_turn=esc_turn))
    name, pane = rig.spawn("Write the notes")
    worktree = repo.path.parent / "project.agents" / name
    matrix = Matrix(rig, pane, VERSIONS["aider"])
    try:
        # The prompt shows (idle) before the task is typed in.
        matrix.first_task(first_turn, ["starting", "idle", "working", "idle"], "start, typed task")
        matrix.prompt("Say hello")
        matrix.approval_needed("Run shell command?")

        def approve() -> None:
            rig.keys(pane, "y", "Enter")
            rig.wait_state(pane, "working")
            matrix.record("running", rig.screen(pane))
            rig.wait(lambda: (worktree / "made-by-aider.txt").exists(), pane, "the approved command to run")

        # Then Aider asks whether to add the command's output to the chat.
        matrix.scenario("approved (the command runs)", approve, ["working", "waiting"])
        matrix.record("output-question", rig.screen(pane))
        matrix.scenario("output not added", lambda: rig.keys(pane, "n", "Enter"), ["idle"])

        matrix.denied("n", "Enter")
        matrix.failed_turn()
        # The spinner's last frame stays on the screen recorded.
        matrix.interrupted(esc_turn, "C-c", "interrupt (Ctrl+C)", quiet_screen=False)
        matrix.exit_twice()

        def restart() -> None:
            rig.tmux.agents("restart", name)
            rig.wait(lambda: "--restore-chat-history" in rig.tmux.display("#{pane_start_command}", pane), pane,
                     "the restart")

        matrix.scenario("restart (--restore-chat-history)", restart, ["starting", "idle"])
        matrix.prompt("Go on", "prompt after restart")
        body = api.wait_user("Go on").body
        assert "Notes written." in json.dumps(body.get("messages")), "the restored chat carries the earlier turns"
    finally:
        matrix.close()
