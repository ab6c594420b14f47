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

from tests.support.fake_llm import Failure, Rule, Shell, Text
from tests.support.fake_openai_responses import FakeResponses
from tests.support.program_rigs import VERSIONS, needs, prepare_codex
from tests.support.screens import record
from tests.support.state_matrix import Matrix

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
    api.add(
        Rule.when("Write the notes", Text("Notes written."), gate=first_turn),
        # Long enough for a screen read to see it working (Aider has no hooks).
        Rule.when("Say hello", Text("Hello."), delay=2.5),
        Rule.when("Go on", Text("Going on."), delay=2.5),
        Rule.when("Make the file", Shell("touch made-by-codex.txt")),
        Rule.after_tool(Text("The file is made."), gate=approved_turn, times=1),
        Rule.when("Remove the repo", Shell("rm -rf /tmp/never-run-by-codex")),
        Rule.when("Break now", Failure(400, "the fake API refuses this turn")),
        Rule.when("Think long", Text("never shown"), gate=esc_turn),
    )
    name, pane = rig.spawn("Write the notes")
    worktree = repo.path.parent / "project.agents" / name
    matrix = Matrix(rig, pane, VERSIONS["codex"])
    try:
        def first_task() -> None:
            rig.wait_state(pane, "working")
            record("codex", "working", rig.screen(pane))
            first_turn.set()

        # SessionStart comes with the first prompt and sets nothing: starting -> working.
        matrix.scenario("start, first task", first_task, ["starting", "working", "idle"], from_start=True)
        record("codex", "idle", rig.quiet_screen(pane))
        matrix.scenario("prompt", lambda: rig.type(pane, "Say hello"), ["working", "idle"])

        def ask() -> None:
            rig.type(pane, "Make the file")
            rig.wait_screen(pane, "Would you like to run the following command?")

        matrix.scenario("approval needed", ask, ["working", "waiting"])
        record("codex", "waiting", rig.screen(pane))

        def approve() -> None:
            rig.keys(pane, "Enter")
            rig.wait(lambda: (worktree / "made-by-codex.txt").exists(), pane, "the approved command to run")
            rig.wait_state(pane, "working")
            approved_turn.set()

        matrix.scenario("approved", approve, ["working", "idle"])

        def deny() -> None:
            rig.type(pane, "Remove the repo")
            rig.wait_state(pane, "waiting")
            rig.keys(pane, "Escape")

        # Denying fires no hook: the screen ("■ Conversation interrupted") says idle.
        matrix.scenario("denied", deny, ["working", "waiting", "idle"])
        record("codex", "denied", rig.quiet_screen(pane))
        matrix.scenario("failed turn (HTTP 400)", lambda: rig.type(pane, "Break now"), ["working", "error"])
        record("codex", "error", rig.quiet_screen(pane))

        def interrupt() -> None:
            rig.type(pane, "Think long")
            rig.wait_state(pane, "working")
            rig.keys(pane, "Escape")

        matrix.scenario("interrupt (Esc)", interrupt, ["working", "idle"])
        record("codex", "interrupted", rig.quiet_screen(pane))
        esc_turn.set()

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
        matrix.scenario("prompt after resume", lambda: rig.type(pane, "Go on"), ["working", "idle"])
        body = api.wait_user("Go on").body
        assert "Write the notes" in str(body.get("input")), "the resumed conversation carries the first task"
        assert rig.tmux.option(pane, "@agent_session_id") == session_id
    finally:
        matrix.close()
