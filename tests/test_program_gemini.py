"""The real Gemini CLI, spawned through the plugin, driven against a fake Gemini API on loopback.

`agents spawn --agent gemini TASK` opens the real `gemini` (0.61, installed by scripts/test
into .cache/agent-clis) in an agent pane on its own worktree, with agents.tmux's hooks in
the worktree's own `.gemini/settings.json` (git never sees it; the user's
~/.gemini/settings.json is not touched). Its model is tests/support/fake_gemini.py.
One program start serves the whole state matrix: start with a task -> working -> done ->
idle; a command needing approval -> waiting; approved -> working -> idle; denied -> idle;
a failed turn -> error; Esc during a turn -> idle; exit -> exited; then `agents restart`
resumes the same session by id.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
from conftest import Repo, Tmux

from tests.support.fake_gemini import FakeGemini
from tests.support.fake_llm import Failure, Rule, Shell, Text
from tests.support.program_rigs import ProgramRig, needs, prepare_gemini
from tests.support.screens import record

pytestmark = needs("gemini")


@pytest.fixture
def api() -> Iterator[FakeGemini]:
    with FakeGemini(default=Text("OK.")) as server:
        yield server


def test_gemini_state_matrix(api: FakeGemini, tmux: Tmux, repo: Repo) -> None:
    """Every state a Gemini agent goes through, as the status line shows it, from one start."""
    rig = prepare_gemini(tmux, api, repo)
    user_settings = (rig.home / ".gemini" / "settings.json").read_text()
    timings: dict[str, float] = {}
    first_turn = threading.Event()
    approved_turn = threading.Event()
    esc_turn = threading.Event()
    api.add(
        Rule.when("Write the notes", Text("Notes written."), gate=first_turn),
        Rule.when("Make the file", Shell("touch made-by-gemini.txt")),
        Rule.after_tool(Text("The file is made."), gate=approved_turn, times=1),
        Rule.when("Remove the repo", Shell("rm -rf /tmp/never-run-by-gemini")),
        Rule.when("Break now", Failure(400, "the fake API refuses this turn")),
        Rule.when("Think long", Text("never shown"), gate=esc_turn),
    )

    started = time.monotonic()
    name, pane = rig.spawn("Write the notes")
    worktree = repo.path.parent / "project.agents" / name
    # The hooks are in the worktree's own settings, which git does not see.
    hooks = json.loads((worktree / ".gemini" / "settings.json").read_text())["hooks"]
    assert "run_hook.py gemini" in hooks["AfterAgent"][0]["hooks"][0]["command"]
    assert repo.git("status", "--porcelain", cwd=worktree) == ""
    # start with a task -> working (the model holds the answer back)
    rig.wait_state(pane, "working")
    timings["start->working"] = time.monotonic() - started
    record("gemini", "working", rig.screen(pane))
    rig.steady(pane, "working", 2.0)
    session_id = rig.tmux.option(pane, "@agent_session_id")
    assert session_id and session_id in rig.tmux.display("#{pane_start_command}", pane)
    # done -> idle
    mark = time.monotonic()
    first_turn.set()
    rig.wait_state(pane, "idle")
    timings["done->idle"] = time.monotonic() - mark
    rig.wait_screen(pane, "Notes written.")
    record("gemini", "idle", rig.quiet_screen(pane))
    rig.steady(pane, "idle", 2.0)

    # prompt -> approval needed -> waiting
    rig.type(pane, "Make the file")
    rig.wait_screen(pane, "Allow execution")
    mark = time.monotonic()
    rig.wait_state(pane, "waiting")
    timings["approval->waiting"] = time.monotonic() - mark
    record("gemini", "waiting", rig.screen(pane))
    rig.steady(pane, "waiting", 2.0)
    # approved -> working (the follow-up answer is held) -> idle
    rig.keys(pane, "Enter")
    rig.wait(lambda: (worktree / "made-by-gemini.txt").exists(), pane, "the approved command to run")
    rig.wait_state(pane, "working")
    approved_turn.set()
    rig.wait_state(pane, "idle")
    rig.wait_screen(pane, "The file is made.")

    # approval denied -> idle (Gemini fires no hook: the screen says so)
    rig.type(pane, "Remove the repo")
    rig.wait_state(pane, "waiting")
    rig.keys(pane, "Escape")
    mark = time.monotonic()
    rig.wait_state(pane, "idle")
    timings["deny->idle"] = time.monotonic() - mark
    record("gemini", "denied", rig.quiet_screen(pane))

    # a failed turn -> error
    rig.type(pane, "Break now")
    rig.wait_screen(pane, "API Error")
    mark = time.monotonic()
    rig.wait_state(pane, "error")
    timings["failure->error"] = time.monotonic() - mark
    record("gemini", "error", rig.quiet_screen(pane))
    rig.steady(pane, "error", 2.0)

    # interrupt (Esc) during a turn -> idle
    rig.type(pane, "Think long")
    rig.wait_state(pane, "working")
    rig.steady(pane, "working", 1.0)
    rig.keys(pane, "Escape")
    mark = time.monotonic()
    rig.wait_state(pane, "idle")
    timings["interrupt->idle"] = time.monotonic() - mark
    record("gemini", "interrupted", rig.quiet_screen(pane))
    esc_turn.set()

    # exit (Ctrl+C twice) -> exited
    rig.keys(pane, "C-c")
    time.sleep(0.3)
    rig.keys(pane, "C-c")
    rig.wait_state(pane, "exited")

    # restart -> the same conversation, resumed by id
    rig.tmux.agents("restart", name)
    rig.wait(lambda: "--resume" in rig.tmux.display("#{pane_start_command}", pane) and rig.state(pane) != "exited",
             pane, "the agent to be restarted")
    assert session_id in rig.tmux.display("#{pane_start_command}", pane)
    rig.wait_state(pane, "idle")
    rig.type(pane, "Go on")
    body = api.wait_user("Go on", timeout=rig.slow).body
    assert "Make the file" in json.dumps(body.get("contents")), "the resumed conversation carries the earlier turns"
    rig.wait_state(pane, "idle")
    # The user's own Gemini settings were never touched.
    assert (rig.home / ".gemini" / "settings.json").read_text() == user_settings
    print("gemini timings:", {k: round(v, 2) for k, v in timings.items()})
