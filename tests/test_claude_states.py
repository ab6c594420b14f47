"""The state-accuracy matrix: real Claude Code (pinned and newest), one scenario after another.

One Claude per version is spawned through the plugin and driven through every
scenario a user meets (tests/support/fake_api.py plays the model): a prompt, a
permission prompt approved and denied, a failed turn (HTTP 400), an Esc, a
question, an MCP elicitation, a plan to approve, a subagent, /compact, /clear and /exit. Each
scenario asserts the state the status bar ends on, and that it got there
without flapping: a background thread records every change of the pane's
``@agent_state`` (what the status bar draws), and the changes seen during the
scenario, plus a quiet spell after it, must follow the expected path (a state
may be missed between two polls, never added or repeated).

The scenarios share the Claude: they run in file order and each starts where
the last one left the agent (idle, except after the failed turn). With
``AGENTS_TMUX_MATRIX_OUT=<file>`` each result is appended there as a JSON line
(the README's matrix is made from it). With ``AGENTS_TMUX_RECORD_SCREENS=1`` the
screen of each state is saved under tests/screens/claude/<version>/ (see
tests/screens/README.md).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import Tmux, first_pane, init_repo, isolated_env, pane_of, private_server

from tests.support.claude_rig import BUILDS, ClaudeBuild, ClaudeRig, prepare_rig, trusted_folders
from tests.support.fake_api import (
    ApiError,
    FakeAnthropic,
    Reply,
    ToolUse,
    ask_user,
    bash,
    exit_plan_mode,
    last_user_text,
    subagent,
)
from tests.support.screens import record
from tests.support.state_matrix import StateRecorder, follows

#: Generous: Claude takes 1-2 s to start here, on 2 busy cores.
SLOW = 40.0
#: How long a state must then stay put. The watcher overrides hooks only after
#: the screen showed the same thing for 1.5 s, polled every 1-2 s: a wrong
#: override would show within this spell.
QUIET = 3.0


@dataclass
class Session:
    """One real Claude in an agent pane, and what the scenarios recorded."""

    build: ClaudeBuild
    rig: ClaudeRig
    name: str
    pane: str
    recorder: StateRecorder
    results: list[dict[str, object]] = field(default_factory=list)

    @property
    def tmux(self) -> Tmux:
        return self.rig.tmux

    def type(self, text: str) -> None:
        """Type ``text`` into Claude's prompt and submit it (a slash command once its menu shows).

        The prompt box is emptied first: after an Esc, Claude puts the stopped
        prompt back into it.
        """
        self.tmux.run("send-keys", "-t", self.pane, "C-u")
        self.tmux.run("send-keys", "-t", self.pane, "-l", text)
        self.rig.wait_screen(self.pane, text)
        if text.startswith("/"):
            time.sleep(0.5)  # the slash-command menu takes Enter once it has filtered
        self.tmux.run("send-keys", "-t", self.pane, "Enter")

    def keys(self, *keys: str) -> None:
        self.tmux.run("send-keys", "-t", self.pane, *keys)

    def record(self, name: str) -> None:
        """Save the screen as this version's recorded ``name`` (with AGENTS_TMUX_RECORD_SCREENS=1)."""
        record("claude", self.build.version, name, self.rig.screen(self.pane))

    def scenario(self, name: str, action: Callable[[], None], expected: list[str], quiet: float = QUIET) -> list[tuple[float, str]]:
        """Run ``action``; the agent must end in ``expected[-1]`` by way of ``expected``, and stay there."""
        mark = self.recorder.mark()
        started = time.monotonic()
        action()
        final = expected[-1] if expected else self.rig.state(self.pane)
        if expected:
            # Reached through a change seen since the action, not the state it started in.
            self.rig.wait(lambda: (self.recorder.since(mark) or [(0, "")])[-1][1] == final, self.pane, f"the state {final!r}", SLOW)
        time.sleep(quiet)
        changes = self.recorder.since(mark)
        path = [state for _, state in changes]
        ok = follows(path, expected) and (not expected or (bool(path) and path[-1] == final)) and self.rig.state(self.pane) == final
        self.results.append({
            "version": self.build.version, "label": self.build.label, "scenario": name, "expected": expected,
            "observed": path, "ok": ok, "seconds": round(time.monotonic() - started, 1),
        })
        assert ok, f"{name}: expected {expected}, the status bar went {path}\n{self.rig.describe(self.pane)}"
        return changes


def add_asker(home: Path, log: Path) -> None:
    """Give Claude the MCP server of tests/support/fake_mcp.py (user scope), its tool allowed without asking."""
    config_path = home / ".claude.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    server = Path(__file__).parent / "support" / "fake_mcp.py"
    config["mcpServers"] = {"asker": {"type": "stdio", "command": sys.executable, "args": [str(server), str(log)]}}
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    settings_path = home / ".claude" / "settings.json"
    settings = json.loads(settings_path.read_text(encoding="utf-8"))
    settings.setdefault("permissions", {})["allow"] = ["mcp__asker__pick_colour"]
    settings_path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")


@pytest.fixture(
    scope="module",
    params=[pytest.param(b, id=b.label, marks=pytest.mark.skipif(b.binary is None, reason=b.missing)) for b in BUILDS],
)
def session(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """A Claude of one version, spawned on a first task, for every scenario of this module."""
    build = request.param
    tmp = tmp_path_factory.mktemp(f"states-{build.label}")
    env = isolated_env(tmp, tmp / "home")
    repo = init_repo(tmp / "project", env, {"README.md": "# project\n"})
    with FakeAnthropic(default="OK.") as api, private_server(env, repo) as tmux:
        rig = prepare_rig(tmux, api, trusted_folders(repo), build)
        add_asker(rig.home, tmp / "mcp.log")
        name = tmux.agents("spawn", "Say hello", "--pane", first_pane(tmux)).stdout.strip()
        pane = pane_of(tmux, name)
        recorder = StateRecorder(tmux, pane).start()
        session = Session(build, rig, name, pane, recorder)
        try:
            yield session
        finally:
            recorder.stop()
            out = os.environ.get("AGENTS_TMUX_MATRIX_OUT")
            if out:
                with open(out, "a", encoding="utf-8") as handle:
                    for result in session.results:
                        handle.write(json.dumps(result) + "\n")


def test_start_then_first_task(session: Session) -> None:
    # The spawn's task is the first prompt: starting, idle (SessionStart), working, idle.
    def first_answer() -> None:
        session.rig.main_request_with("Say hello", timeout=SLOW)
        session.rig.wait_screen(session.pane, "OK.")

    session.scenario("start -> idle/working", first_answer, ["starting", "idle", "working", "idle"], quiet=1.0)
    assert session.rig.segment() == "✓ 1"
    session.record("idle")


def test_prompt_works_then_is_done(session: Session) -> None:
    session.rig.api.add(Reply.when("Take your time", "Done taking my time.", delay=3.0, times=1))

    def prompt() -> None:
        session.type("Take your time")
        session.rig.main_request_with("Take your time", timeout=SLOW)
        session.rig.wait_screen(session.pane, "esc to interrupt")
        session.record("working")

    path = session.scenario("prompt -> working -> done idle", prompt, ["working", "idle"], quiet=1.0)
    assert [state for _, state in path] == ["working", "idle"]


def test_send_works_then_is_done(session: Session) -> None:
    # `agents send`: a bracketed paste, then Enter (typed keys are the scenario above).
    session.rig.api.add(Reply.when("Sent from outside", "Done with the sent message.", delay=3.0, times=1))
    message = "Sent from outside: " + "a long message that wraps over several lines of the prompt box. " * 6
    path = session.scenario(
        "send -> working -> done idle", lambda: session.tmux.agents("send", session.name, message), ["working", "idle"], quiet=1.0,
    )
    assert [state for _, state in path] == ["working", "idle"]


def test_send_while_working_stays_working_until_both_are_done(session: Session) -> None:
    # A prompt sent during a turn is queued: 2.1.332 fires its UserPromptSubmit
    # at once and the running turn's Stop before the queued turn starts.
    session.rig.api.add(
        Reply.when("First of two", "First answer.", delay=2.0, times=1),
        Reply.when("Second of two", "Second answer.", delay=4.0, times=1),
    )

    def both() -> None:
        session.type("First of two")
        session.rig.main_request_with("First of two", timeout=SLOW)
        session.tmux.agents("send", session.name, "Second of two: " + "the queued message, long enough to wrap. " * 4)
        session.rig.main_request_with("Second of two", timeout=SLOW)
        session.rig.wait_screen(session.pane, "First answer.")
        time.sleep(1.0)  # the first turn's Stop has fired; the second answer is 3 s away
        assert session.rig.state(session.pane) == "working", session.rig.describe(session.pane)
        session.rig.wait_screen(session.pane, "Second answer.", timeout=SLOW)

    # 2.1.197 fires the queued prompt's UserPromptSubmit only when its turn
    # starts, ~0.3 s after the first turn's Stop: a blink of idle no hook can
    # foresee. 2.1.332 fires it at once, and the agent stays working throughout.
    blink = ["working", "idle"] if session.build.label == "pinned" else []
    path = session.scenario("send while working -> working until both done -> idle", both, [*blink, "working", "idle"], quiet=1.0)
    if not blink:
        assert [state for _, state in path] == ["working", "idle"]


def test_permission_needed_then_approved(session: Session) -> None:
    worktree = Path(session.tmux.option(session.pane, "@agent_worktree"))
    session.rig.api.add(
        Reply.when("Make the marker", bash("touch marker.txt", "Make the marker"), times=1),
        Reply.after_tool("The marker is made.", delay=2.0, times=1),
    )
    session.scenario("permission needed -> waiting", lambda: session.type("Make the marker"), ["working", "waiting"])
    assert session.rig.segment() == "⏳ 1"
    assert not (worktree / "marker.txt").exists()
    session.record("waiting")

    def approve() -> None:
        session.keys("1")
        # The answer to the tool's result is 2 s away: the turn goes on below the answered question.
        session.rig.wait(lambda: (worktree / "marker.txt").exists(), session.pane, "the approved command to run")
        session.rig.wait_screen(session.pane, "esc to interrupt")
        session.record("approved")

    path = session.scenario("approved -> working -> done idle", approve, ["working", "idle"], quiet=1.0)
    assert [state for _, state in path] == ["working", "idle"]
    assert (worktree / "marker.txt").exists()


def test_failed_turn_is_an_error(session: Session) -> None:
    # Every time: 2.1.332 tries a failed request a second time before it gives up.
    # Only the failing prompt itself: the next prompt's request still carries it
    # (2.1.332 merges it into the next user message), and must not fail too.
    session.rig.api.add(Reply.matching(lambda body: last_user_text(body).endswith("Break on purpose"), ApiError(400, "Simulated failure")))
    session.scenario("failed turn (HTTP 400) -> error", lambda: session.type("Break on purpose"), ["working", "error"])
    session.rig.wait_screen(session.pane, "API Error: 400")
    assert session.rig.segment() == "⚠ 1"
    session.record("error")


def test_interrupt_ends_idle(session: Session) -> None:
    session.rig.api.add(Reply.when("Think slowly", "Too late.", delay=60.0, times=1))

    def interrupt() -> None:
        session.type("Think slowly")
        session.rig.main_request_with("Think slowly", timeout=SLOW)
        session.rig.wait_screen(session.pane, "esc to interrupt")
        session.keys("Escape")

    # From error: the next prompt works, Esc stops it (no hook: the screen watcher tells).
    session.scenario("interrupt (Esc) -> idle", interrupt, ["working", "idle"])
    session.record("interrupted")
    session.rig.wait(lambda: any(r.aborted for r in session.rig.api.log), session.pane, "Claude to hang up on the slow answer")


def test_denied_permission_ends_idle(session: Session) -> None:
    session.rig.api.add(Reply.when("Make a second marker", bash("touch second.txt", "Make a second marker"), times=1))
    session.scenario("permission needed -> waiting", lambda: session.type("Make a second marker"), ["working", "waiting"], quiet=1.0)

    def deny() -> None:
        # "No" is 3. in 2.1.197 and 4. from 2.1.332 (after "switch to auto mode").
        choice = re.search(r"(\d)\. No\b", session.rig.screen(session.pane))
        assert choice, session.rig.screen(session.pane)
        session.keys(choice.group(1))

    # Claude drops the turn and asks what to do instead: the user's turn (no hook fires).
    session.scenario("denied permission -> idle", deny, ["idle"])
    session.rig.wait_screen(session.pane, "What should Claude do instead?")
    session.record("denied")


def test_question_waits_for_the_answer(session: Session) -> None:
    session.rig.api.add(
        Reply.when("Ask me a question", ask_user("Which colour?", ["Red", "Blue"]), times=1),
        Reply.after_tool("Red it is.", contains="Red", delay=1.0, times=1),
    )
    session.scenario("question (AskUserQuestion) -> waiting", lambda: session.type("Ask me a question"), ["working", "waiting"])
    session.rig.wait_screen(session.pane, "Which colour?")
    session.record("question")
    session.scenario("answered -> working -> done idle", lambda: session.keys("Enter"), ["working", "idle"], quiet=1.0)
    session.rig.wait_screen(session.pane, "Red it is.")


def test_mcp_elicitation_waits_for_the_answer(session: Session) -> None:
    session.rig.api.add(
        Reply.when("Pick a colour", ToolUse("mcp__asker__pick_colour", {}), times=1),
        Reply.after_tool("You picked it.", contains="The user chose", delay=1.0, times=1),
    )
    # The MCP server asks the user (elicitation/create): Claude's Elicitation hook.
    session.scenario("question (MCP elicitation) -> waiting", lambda: session.type("Pick a colour"), ["working", "waiting"])
    session.rig.wait_screen(session.pane, "Which colour do you pick?")
    session.record("elicitation")

    def answer() -> None:
        session.tmux.run("send-keys", "-t", session.pane, "-l", "Red")
        session.rig.wait_screen(session.pane, "Colour: Red")
        time.sleep(0.5)  # the form takes keys once it has drawn what was typed
        session.keys("Enter")  # to the Accept button
        session.rig.wait_screen(session.pane, "❯ Accept")
        time.sleep(0.5)
        session.keys("Enter")

    session.scenario("answered -> working -> done idle", answer, ["working", "idle"], quiet=1.0)
    session.rig.wait_screen(session.pane, "You picked it.")


def test_plan_approval_waits(session: Session) -> None:
    for _ in range(6):  # shift+tab cycles the permission modes; plan is two or three away
        if "plan mode on" in session.rig.screen(session.pane):
            break
        session.keys("BTab")
        time.sleep(0.7)
    session.rig.wait_screen(session.pane, "plan mode on")
    session.rig.api.add(
        Reply.when("Plan the work", exit_plan_mode("1. Read the README\n2. Improve it"), times=1),
        Reply.after_tool("Plan approved, starting.", delay=1.0, times=1),
    )
    session.scenario("plan-mode approval -> waiting", lambda: session.type("Plan the work"), ["working", "waiting"])
    session.rig.wait_screen(session.pane, "Exit plan mode?")
    session.record("plan")
    session.scenario("plan approved -> working -> done idle", lambda: session.keys("Enter"), ["working", "idle"], quiet=1.0)
    assert "plan mode on" not in session.rig.screen(session.pane)


def test_subagent_stop_does_not_end_the_turn(session: Session) -> None:
    api = session.rig.api
    api.add(
        Reply.when("Delegate the search", subagent("Find the README and report"), times=1),
        # The subagent's own conversation, slow so its Stop comes well before the end.
        Reply.when("Find the README and report", "The README says: project.", delay=4.0, times=1),
        Reply.after_tool("The subagent is on it.", contains="", times=1),
    )
    def delegate() -> None:
        session.type("Delegate the search")
        session.rig.main_request_with("Find the README and report", timeout=SLOW)
        # The subagent answers 4 s after it asked: 2.1.197 waits for it, 2.1.332
        # has ended the main turn by then ("The subagent is on it.") and waits in the background.
        time.sleep(2.0)
        session.record("subagent")

    changes = session.scenario("subagent -> working until the main turn ends", delegate, ["working", "idle"])
    asked = next(r for r in api.log if r.main and r.body and "Find the README and report" in last_user_text(r.body))
    idle_at = changes[-1][0]
    # 2.1.197 waits for its subagent; 2.1.332 runs it in the background and
    # resumes when it reports: either way idle comes after the subagent answered.
    assert idle_at >= asked.at + 4.0, f"idle {idle_at - asked.at:.1f}s after the subagent was asked"


def test_compact_ends_idle(session: Session) -> None:
    session.rig.api.add(
        Reply.matching(lambda body: "summary" in last_user_text(body).lower(), "Summary: a README was read.", delay=2.0, times=1),
    )
    def compact() -> None:
        session.type("/compact")
        session.rig.api.wait_for_request(lambda body: "summary" in last_user_text(body).lower(), timeout=SLOW)
        time.sleep(0.5)
        session.record("compacting")

    session.scenario("/compact -> working -> idle", compact, ["working", "idle"])
    session.rig.wait_screen(session.pane, "Compacted")


def test_clear_stays_idle_with_a_new_session(session: Session) -> None:
    before = session.tmux.option(session.pane, "@agent_session_id")
    # /clear ends one session and starts the next in the same Claude: no exit, no change.
    session.scenario("/clear -> idle (new session)", lambda: session.type("/clear"), [], quiet=2.0)
    assert session.rig.state(session.pane) == "idle"
    session.rig.wait(lambda: session.tmux.option(session.pane, "@agent_session_id") not in ("", before), session.pane, "the new session id")


def test_exit_ends_exited(session: Session) -> None:
    session.scenario("exit -> exited", lambda: session.type("/exit"), ["exited"], quiet=1.0)
    assert session.rig.segment() == "✗ 1"
