"""The screen watcher's fallback detector: screens of each state, per agent kind.

`watch.classify` reads a screen with the built-in patterns (each program
adapter's in python/src/agents_tmux/programs/, under default-config.toml's); `watch.decide` turns what it sees
into a state change, trusting hooks where the agent has them. The screens are the
ones recorded from the real programs in tests/screens/ (each read as its state by
tests/test_screens.py); the tests here put them in the situations the watcher meets
around them. The few screens typed in below model what the programs installed here
cannot be made to show (each says why).
"""

from __future__ import annotations

import re

import pytest
from agents_tmux import config, programs, watch

from tests.support.claude_home import CLAUDE_VERSION
from tests.support.program_rigs import VERSIONS
from tests.support.screens import SCREENS, recording

#: The built-in kinds: default-config.toml over each program adapter's own patterns.
KINDS = config.load(None, builtin_only=True).agents
#: Every Claude Code recorded: the pinned one first.
CLAUDES = sorted((p.name for p in (SCREENS / "claude").iterdir() if p.is_dir()), key=lambda v: (v != CLAUDE_VERSION, v))


def patterns(kind: str) -> dict:
    return watch.compile_patterns({state: list(p) for state, p in KINDS[kind].screen.items()})


def real(program: str, name: str, version: str = "") -> str:
    """The recorded screen ``name`` of ``program`` (Claude: the pinned version unless told)."""
    return recording(program, version or (CLAUDE_VERSION if program == "claude" else VERSIONS[program]), name)


def content(text: str) -> str:
    """A recorded screen without the blank lines below what is drawn."""
    return text.rstrip("\n") + "\n"


def screen(text: str, height: int = 40) -> str:
    """A capture-pane of a ``height``-line pane: the text at the top, blank lines below."""
    lines = text.strip("\n").splitlines()
    return "\n".join(lines + [""] * max(0, height - len(lines))) + "\n"


def back_at_the_prompt(version: str) -> str:
    """The end of Claude's recorded idle screen: the finished turn's last line, the prompt box and its footer."""
    idle = content(real("claude", "idle", version))
    return idle[idle.rindex("✻ "):]


#: The notice Claude draws under its footer when tmux's focus-events is off
#: (its text from CLAUDE-NOTES.md; none of the recordings here shows it).
FOCUS = "tmux focus-events off · add 'set -g focus-events on' to ~/.tmux.conf and reattach for focus tracking"


@pytest.mark.parametrize("version", CLAUDES)
@pytest.mark.parametrize(
    ("name", "expected"), [("working", "working"), ("waiting", "waiting"), ("idle", "idle"), ("default-mode-interrupted", "idle")],
)
def test_claude_screens_with_the_focus_events_notice(name: str, expected: str, version: str) -> None:
    assert watch.classify(content(real("claude", name, version)) + FOCUS + "\n", patterns("claude")) == expected


@pytest.mark.parametrize("version", CLAUDES)
def test_claude_banner_alone_is_no_state(version: str) -> None:
    # The start-up screen above the first prompt: the banner, nothing else yet.
    text = content(real("claude", "idle", version))
    banner = text[: re.search("^❯ ", text, re.M).start()]
    assert "Claude Code" in banner
    assert watch.classify(screen(banner), patterns("claude")) is None
    assert watch.classify("", patterns("claude")) is None


@pytest.mark.parametrize("version", CLAUDES)
def test_old_question_scrolled_up_is_not_a_question(version: str) -> None:
    # A question answered long ago, followed by a whole screen of output, then the prompt.
    output = "\n".join(f"  ⎿  line {i} of the tool's output" for i in range(40))
    text = content(real("claude", "waiting", version)) + "\n● Bash(pytest -q)\n" + output + "\n\n" + back_at_the_prompt(version)
    assert watch.classify(screen(text, height=120), patterns("claude")) == "idle"


@pytest.mark.parametrize("version", CLAUDES)
def test_old_question_still_in_view_but_the_prompt_came_back(version: str) -> None:
    # Close enough to be in the lines read, but the agent is back at its prompt below it.
    text = content(real("claude", "waiting", version)) + "\n● Bash(touch marker.txt)\n  ⎿  (No content)\n\n" + back_at_the_prompt(version)
    assert watch.classify(screen(text), patterns("claude")) == "idle"


@pytest.mark.parametrize("version", CLAUDES)
def test_a_question_outranks_the_markers_above_it(version: str) -> None:
    # Still working above, a question at the bottom: the question counts.
    waiting = content(real("claude", "waiting", version))
    question = waiting[waiting.index(" Do you want to proceed?"):]
    assert watch.classify(content(real("claude", "working", version)) + "\n" + question, patterns("claude")) == "waiting"


def test_blank_lines_do_not_push_a_marker_out_of_the_lines_read() -> None:
    # Claude 2.1.332 early in a conversation: the prompt box sits at the bottom of
    # the pane, a tall blank gap above it, the task list below it; "Waiting for 1
    # background agent to finish" is further up than the lines read, counting blanks.
    text = real("claude", "subagent", "2.1.332")
    lines = text.rstrip("\n").splitlines()
    marker = max(i for i, line in enumerate(lines) if "Waiting for 1 background agent to finish" in line)
    assert len(lines) - marker > watch.TAIL_LINES
    assert watch.classify(text, patterns("claude")) == "working"
    # The same screen with the gap closed up reads the same.
    assert watch.classify("\n".join(line for line in lines if line.strip()), patterns("claude")) == "working"


#: Screens the Codex installed here shows but the fake model cannot make it draw
#: (it plays shell calls only, no apply_patch), and one of older Codex versions.
CODEX = {
    "edits": """
• Proposed change to src/app.py (+2 -1)

  Would you like to make the following edits?

› 1. Yes, proceed (y)
  2. No, and tell Codex what to do differently (esc)

  Press enter to confirm or esc to cancel
""",
    # An older Codex (not installed here): its composer footer was "⏎ send".
    "idle-old": """
▌ Fix the failing test

> The test now passes.

▌ Ask Codex to do anything
 ⏎ send   ⇧⏎ newline   ⌃T transcript   ⌃C quit
""",
}


@pytest.mark.parametrize(("name", "expected"), [("edits", "waiting"), ("idle-old", "idle")])
def test_codex_screens_not_recorded(name: str, expected: str) -> None:
    assert watch.classify(screen(CODEX[name]), patterns("codex")) == expected


def test_codex_words_in_the_conversation_are_not_states() -> None:
    # The model saying "Working" or "Approve" or "send" must not move anything.
    idle = real("codex", "idle")
    assert "• Notes written." in idle
    text = idle.replace("• Notes written.", "• Working on it: Approve the PR and send the mail; the test now passes")
    assert watch.classify(text, patterns("codex")) == "idle"


def test_aider_other_modes_prompt_is_idle() -> None:
    # The recorded Aider runs in its "diff" edit format; other modes (--architect,
    # /ask) name themselves the same way in the prompt.
    idle = content(real("aider", "idle"))
    assert idle.endswith("diff>\n")
    for mode in ("architect", "ask", "code", ""):
        assert watch.classify(idle[: -len("diff>\n")] + mode + "> \n", patterns("aider")) == "idle", mode


def test_aider_typing_at_the_prompt_is_no_new_state() -> None:
    assert watch.classify(content(real("aider", "idle")).rstrip() + " now add a test\n", patterns("aider")) is None


#: Gemini's edit confirmation: the fake model plays shell calls only, no edit tool.
GEMINI_EDIT = """
│ Apply this change?                                             │
│ ● 1. Yes, allow once                                           │
╰──────────────────────────────────────────────────────────────╯
"""


def test_gemini_edit_confirmation_is_waiting() -> None:
    assert watch.classify(screen(GEMINI_EDIT), patterns("gemini")) == "waiting"


def test_every_kind_has_patterns_for_every_state_and_they_compile() -> None:
    for kind, table in KINDS.items():
        raw = table.screen
        # error: only programs that show a failed turn on their screen have it.
        assert {"waiting", "working", "idle"} <= set(raw) <= {"waiting", "error", "working", "idle"}, kind
        compiled = watch.compile_patterns(raw)
        assert all(len(compiled[state]) == len(raw[state]) for state in raw), kind


def test_bad_patterns_are_dropped_not_fatal() -> None:
    compiled = watch.compile_patterns({"waiting": ["(unclosed", "Proceed\\?"], "idle": ["^> $"]})
    assert [p.pattern for p in compiled["waiting"]] == ["Proceed\\?"]
    assert watch.classify("Proceed?\n", compiled) == "waiting"


# decide(has_hooks, pane state, screen state, seconds the screen has shown it)
@pytest.mark.parametrize(
    ("has_hooks", "current", "seen", "steady", "expected"),
    [
        # Hookless agents: the screen is the state, at once.
        (False, "starting", "working", 0.0, "working"),
        (False, "working", "waiting", 0.0, "waiting"),
        (False, "waiting", "working", 0.0, "working"),
        (False, "working", "idle", 0.0, "idle"),
        (False, "idle", "working", 0.0, "working"),
        (False, "idle", "idle", 5.0, None),
        (False, "working", None, 5.0, None),
        (False, "exited", "idle", 5.0, None),
        # Claude: the trust screen before any hook -> waiting, once steady.
        (True, "starting", "waiting", 2.0, "waiting"),
        (True, "starting", "waiting", 0.5, None),
        (True, "starting", "idle", 5.0, None),
        (True, "starting", "working", 5.0, None),
        # Esc during a turn (no Stop hook): idle once the screen says so for a while.
        (True, "working", "idle", 2.0, "idle"),
        (True, "working", "idle", 0.2, None),
        # Esc or "No" at a permission prompt: idle; approved and the tool runs: working.
        (True, "waiting", "idle", 2.0, "idle"),
        (True, "waiting", "working", 2.0, "working"),
        # A question the hooks did not report (e.g. before the late Notification).
        (True, "working", "waiting", 2.0, "waiting"),
        # Idle: the next prompt fires UserPromptSubmit; the screen is not trusted over hooks.
        (True, "idle", "working", 9.0, None),
        (True, "idle", "waiting", 9.0, None),
        (True, "exited", "idle", 9.0, None),
        (True, "working", None, 9.0, None),
    ],
)
def test_decide(has_hooks: bool, current: str, seen: str | None, steady: float, expected: str | None) -> None:
    assert watch.decide(has_hooks, current, seen, steady) == expected


def test_classify_then_decide_for_a_hookless_agent() -> None:
    pats = patterns("aider")
    state = "starting"
    for name, expected in (("waiting", "waiting"), ("running", "working"), ("idle", "idle")):
        new = watch.decide(False, state, watch.classify(real("aider", name), pats), 0.0)
        assert new == expected
        state = new


def test_a_screen_that_agreed_with_the_hooks_is_trusted_sooner() -> None:
    """Esc after the spinner was seen: idle within AGREED_CONFIRM_SECONDS; a screen lagging behind a new hook: not before CONFIRM_SECONDS."""
    claude = watch.compile_patterns({k: list(v) for k, v in programs.get("claude").screen.items()})
    working_screen, idle_screen = real("claude", "working"), real("claude", "idle")
    tracker = watch.Tracker(claude, has_hooks=True)
    assert tracker.observe("working", working_screen, 10.0) is None
    assert tracker.poll("working") == watch.POLL[(True, "working")]
    assert tracker.observe("working", idle_screen, 10.4) is None
    assert tracker.poll("working") == watch.AGREED_CONFIRM_SECONDS  # read again as soon as it may confirm
    assert tracker.observe("working", idle_screen, 10.4 + watch.AGREED_CONFIRM_SECONDS) == "idle"
    # A prompt just submitted (the hook said working), the screen not redrawn yet.
    fresh = watch.Tracker(claude, has_hooks=True)
    assert fresh.observe("working", idle_screen, 20.0) is None
    assert fresh.observe("working", idle_screen, 20.0 + watch.AGREED_CONFIRM_SECONDS) is None
    assert fresh.observe("working", idle_screen, 20.0 + watch.CONFIRM_SECONDS) == "idle"
