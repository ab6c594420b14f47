"""The real Codex CLI, spawned through the plugin, driven against a fake Responses API on loopback.

`agents spawn --agent codex TASK` opens the real `codex` (0.171, installed by scripts/test
into .cache/agent-clis) in an agent pane on its own worktree, with agents.tmux's hooks
given per process (`-c hooks...`, trusted by hash). Its model is
tests/support/fake_openai_responses.py, scripted per step; its CODEX_HOME is the test's.
One program start serves the whole state matrix (tests/support/state_matrix.py: every
change of `@agent_state` is recorded and must follow the expected path, then hold):
start with a task, a prompt, approval needed, approved, denied, a failed turn, Esc,
exit, and `agents restart` resuming the same session by id.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from conftest import Repo, Tmux

from tests.support.fake_llm import Text
from tests.support.fake_openai_responses import FakeResponses
from tests.support.program_rigs import VERSIONS, needs, prepare_codex
from tests.support.state_matrix import Matrix, matrix_rules

pytestmark = needs("codex")


@pytest.fixture
def api() -> Iterator[FakeResponses]:
    with FakeResponses(default=Text("OK.")) as server:
        yield server


def test_codex_state_matrix(api: FakeResponses, tmux: Tmux, repo: Repo) -> None:
    """Every state a Codex agent goes through, as the status line shows it, from one start."""
    rig = prepare_codex(tmux, api, repo)
    first_turn = threading.Event()
    approved_turn = threading.Event()
    esc_turn = threading.Event()
    api.add(*matrix_rules("codex", "touch made-by-codex.txt", first_turn=first_turn, esc_turn=esc_turn,
                          approved_turn=approved_turn))
    name, pane = rig.spawn("Write the notes")
    worktree = repo.path.parent / "project.agents" / name
    matrix = Matrix(rig, pane, VERSIONS["codex"])
    try:
        # SessionStart comes with the first prompt and sets nothing: starting -> working.
        matrix.first_task(first_turn, ["starting", "working", "idle"])
        matrix.prompt("Say hello")
        matrix.approval_needed("Would you like to run the following command?")

        matrix.approved(worktree / "made-by-codex.txt", approved_turn)

        # Denying fires no hook: the screen ("■ Conversation interrupted") says idle.
        matrix.denied("Escape")
        matrix.failed_turn()
        matrix.interrupted(esc_turn, "Escape", "interrupt (Esc)")

        session_id = rig.tmux.option(pane, "@agent_session_id")
        assert session_id, rig.describe(pane)
        matrix.scenario("exit (Ctrl+C)", lambda: rig.keys(pane, "C-c"), ["exited"])
        rig.wait_screen(pane, f"codex resume {session_id}")

        def restart() -> None:
            rig.tmux.agents("restart", name)
            rig.wait(lambda: session_id in rig.tmux.display("#{pane_start_command}", pane), pane, "the restart")

        # Resumed without a prompt, no hook fires until one: the screen says idle.
        matrix.scenario("restart (codex resume <id>)", restart, ["starting", "idle"])
        assert "resume" in rig.tmux.display("#{pane_start_command}", pane)
        matrix.prompt("Go on", "prompt after resume")
        body = api.wait_user("Go on").body
        assert "Write the notes" in str(body.get("input")), "the resumed conversation carries the first task"
        assert rig.tmux.option(pane, "@agent_session_id") == session_id
    finally:
        matrix.close()
