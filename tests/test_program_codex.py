"""The real Codex CLI, spawned through the plugin, driven against a fake Responses API on loopback.

`agents spawn --agent codex TASK` opens the real `codex` (0.171, installed by scripts/test
into .cache/agent-clis) in an agent pane on its own worktree. Its model is
tests/support/fake_openai_responses.py, scripted per step; its CODEX_HOME is the test's.
One program start serves the whole state matrix (each step waits on the previous one):
start with a task -> working -> done -> idle; a command needing approval -> waiting;
approved -> working; done -> idle; denied -> idle; a failed turn -> error; Esc during a
turn -> idle; Ctrl+C -> exited; then `agents restart` resumes the same session by id.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from conftest import Repo, Tmux

from tests.support.fake_llm import Failure, Rule, Shell, Text
from tests.support.fake_openai_responses import FakeResponses
from tests.support.program_rigs import ProgramRig, needs, prepare_codex
from tests.support.screens import record

pytestmark = needs("codex")


@pytest.fixture
def api() -> Iterator[FakeResponses]:
    with FakeResponses(default=Text("OK.")) as server:
        yield server


@pytest.fixture
def rig(api: FakeResponses, tmux: Tmux, repo: Repo) -> ProgramRig:
    return prepare_codex(tmux, api, repo)


def test_codex_state_matrix(rig: ProgramRig, api: FakeResponses, repo: Repo) -> None:
    """Every state a Codex agent goes through, as the status line shows it, from one start."""
    timings: dict[str, float] = {}
    first_turn = threading.Event()
    approved_turn = threading.Event()
    esc_turn = threading.Event()
    api.add(
        Rule.when("Write the notes", Text("Notes written."), gate=first_turn),
        Rule.when("Make the file", Shell("touch made-by-codex.txt")),
        Rule.after_tool(Text("The file is made."), gate=approved_turn, times=1),
        Rule.when("Remove the repo", Shell("rm -rf /tmp/never-run-by-codex")),
        Rule.when("Break now", Failure(400, "the fake API refuses this turn")),
        Rule.when("Think long", Text("never shown"), gate=esc_turn),
    )

    started = time.monotonic()
    name, pane = rig.spawn("Write the notes")
    # start with a task -> working (the model holds the answer back)
    rig.wait_state(pane, "working")
    timings["start->working"] = time.monotonic() - started
    record("codex", "working", rig.screen(pane))
    rig.steady(pane, "working", 2.0)
    # done -> idle
    mark = time.monotonic()
    first_turn.set()
    rig.wait_state(pane, "idle")
    timings["done->idle"] = time.monotonic() - mark
    rig.wait_screen(pane, "Notes written.")
    record("codex", "idle", rig.quiet_screen(pane))
    rig.steady(pane, "idle", 2.0)

    # prompt -> working -> approval needed -> waiting
    rig.type(pane, "Make the file")
    rig.wait_screen(pane, "Would you like to run the following command?")
    mark = time.monotonic()
    rig.wait_state(pane, "waiting")
    timings["approval->waiting"] = time.monotonic() - mark
    record("codex", "waiting", rig.screen(pane))
    rig.steady(pane, "waiting", 2.0)
    # approved -> working (the follow-up answer is held) -> idle
    rig.keys(pane, "Enter")
    rig.wait_state(pane, "working")
    rig.wait(lambda: (repo.path.parent / "project.agents" / name / "made-by-codex.txt").exists(), pane,
             "the approved command to run")
    approved_turn.set()
    rig.wait_state(pane, "idle")
    rig.wait_screen(pane, "The file is made.")

    # approval denied -> idle (Codex fires no Stop: the screen says so)
    rig.type(pane, "Remove the repo")
    rig.wait_state(pane, "waiting")
    rig.keys(pane, "Escape")
    mark = time.monotonic()
    rig.wait_state(pane, "idle")
    timings["deny->idle"] = time.monotonic() - mark
    record("codex", "denied", rig.quiet_screen(pane))

    # a failed turn -> error
    rig.type(pane, "Break now")
    rig.wait_screen(pane, "the fake API refuses this turn")
    mark = time.monotonic()
    rig.wait_state(pane, "error")
    timings["failure->error"] = time.monotonic() - mark
    record("codex", "error", rig.quiet_screen(pane))
    rig.steady(pane, "error", 2.0)

    # interrupt (Esc) during a turn -> idle
    rig.type(pane, "Think long")
    rig.wait_state(pane, "working")
    rig.keys(pane, "Escape")
    mark = time.monotonic()
    rig.wait_state(pane, "idle")
    timings["interrupt->idle"] = time.monotonic() - mark
    record("codex", "interrupted", rig.quiet_screen(pane))
    esc_turn.set()

    # exit -> exited, the session id on record
    session_id = rig.tmux.option(pane, "@agent_session_id")
    assert session_id, rig.describe(pane)
    rig.keys(pane, "C-c")
    rig.wait_state(pane, "exited")
    rig.wait_screen(pane, f"codex resume {session_id}")

    # restart -> the same conversation, resumed by id
    rig.tmux.agents("restart", name)
    rig.wait(lambda: "resume" in rig.tmux.display("#{pane_start_command}", pane) and rig.state(pane) != "exited",
             pane, "the agent to be restarted")
    assert session_id in rig.tmux.display("#{pane_start_command}", pane)
    rig.wait_screen(pane, "? for shortcuts")
    rig.type(pane, "Go on")
    body = api.wait_user("Go on", timeout=rig.slow).body
    assert "Write the notes" in str(body.get("input")), "the resumed conversation carries the first task"
    rig.wait_state(pane, "idle")
    assert rig.tmux.option(pane, "@agent_session_id") == session_id
    print("codex timings:", {k: round(v, 2) for k, v in timings.items()})
