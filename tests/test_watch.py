"""The screen watcher's fallback detector: captured screens of each state, per agent kind.

`watch.classify` reads a screen with the built-in patterns (each program
adapter's in python/src/agents_tmux/programs/, under default-config.toml's); `watch.decide` turns what it sees
into a state change, trusting hooks where the agent has them. The Claude
screens are the ones recorded from Claude Code 2.1.197 (tests/support/CLAUDE-NOTES.md,
/work/shared/CLAUDE-CODE.md); the Codex, Aider and Gemini ones follow those
tools' own texts.
"""

from __future__ import annotations

import pytest
from agents_tmux import config, programs, watch

#: The built-in kinds: default-config.toml over each program adapter's own patterns.
KINDS = config.load(None, builtin_only=True).agents


def patterns(kind: str) -> dict:
    return watch.compile_patterns({state: list(p) for state, p in KINDS[kind].screen.items()})


def screen(text: str, height: int = 40) -> str:
    """A capture-pane of a ``height``-line pane: the text at the top, blank lines below."""
    lines = text.strip("\n").splitlines()
    return "\n".join(lines + [""] * max(0, height - len(lines))) + "\n"


RULE = "─" * 100
FOCUS = "tmux focus-events off · add 'set -g focus-events on' to ~/.tmux.conf and reattach for focus tracking"

CLAUDE_BANNER = """
╭───────────────────────────────────────────────╮
│ ✻ Claude Code v2.1.197                         │
│   Welcome back!                                │
│   Opus 4.8 (1M context) · API Usage Billing    │
│   /tmp/project.agents/fix-login                │
╰───────────────────────────────────────────────╯
"""

CLAUDE = {
    "working": CLAUDE_BANNER + f"""
> Fix the login redirect

● I'll look at the redirect handler first.

● Bash(touch made-by-tool.txt)
  ⎿  Running…

✶ Flambéing… (3s · ↓ 22 tokens)
  ⎿  Tip: Use /memory to view and manage Claude memory

{RULE}
❯
{RULE}
  esc to interrupt · ← for agents
""",
    "waiting": CLAUDE_BANNER + f"""
> Fix the login redirect

● Bash(touch made-by-tool.txt)
  ⎿  Waiting…

{RULE}
 Bash command

   touch made-by-tool.txt
   Create the marker file

 Do you want to proceed?
 ❯ 1. Yes
   2. Yes, and always allow access to proj/ from this project
   3. No

 Esc to cancel · Tab to amend · ctrl+e to explain
""",
    "idle": CLAUDE_BANNER + f"""
> Fix the login redirect

● Done: the redirect now keeps the query string.

✻ Crunched for 5s

{RULE}
❯
{RULE}
  ? for shortcuts · ← for agents                                              ● high · /effort
""",
    "trust": f"""
{RULE}
 Accessing workspace:

 /tmp/project.agents/fix-login

 Quick safety check: Is this a project you created or one you trust? (Like your own code, a well-known open
 source project, or work from your team). If not, take a moment to review what's in this folder first.

 Claude Code'll be able to read, edit, and execute files here.

 ❯ 1. Yes, I trust this folder
   2. No, exit

 Enter to confirm · Esc to cancel
""",
    "interrupted": CLAUDE_BANNER + f"""
> Fix the login redirect

● Bash(sleep 30)
  ⎿  Interrupted · What should Claude do instead?

{RULE}
❯
{RULE}
  ? for shortcuts · ← for agents
""",
}


NEW_BANNER = """
 ▐▛███▛█   Claude Code v2.1.332
▝▜██████▀  Opus 5.5 · API Usage Billing
 ▝▝   ▝▝   /tmp/project.agents/fix-login
"""

#: Screens of Claude Code 2.1.332 (the newest on the registry), and of both
#: versions where they agree (questions, plan approval), as captured here.
CLAUDE_NEW = {
    "auto idle": NEW_BANNER + f"""
❯ Fix the login redirect

● Done.

✻ Churned for 1s · done 4:24 AM
{RULE}
❯
{RULE}
  ⏵⏵ auto mode on (shift+tab to cycle) · ← for agents
""",
    "auto working": NEW_BANNER + f"""
❯ slow one

✢ Cogitating…
                                                                                                    ◐ medium · /effort
{RULE}
❯
{RULE}
  ⏵⏵ auto mode on (shift+tab to cycle) · esc to interrupt · ← for agents
""",
    # Esc before any text came: the prompt goes back into the box.
    "auto interrupted": NEW_BANNER + f"""
{RULE}
❯ slow one
{RULE}
  ⏵⏵ auto mode on (shift+tab to cycle)
""",
    "manual idle with subagents": NEW_BANNER + f"""
❯ delegate

● Agent(Look around)
  ⎿  Backgrounded agent (↓ to manage · ctrl+o to expand)
● Agent "Look around" finished · 0s
● OK.
✻ Worked for 0s · done 4:28 AM
{RULE}
❯
{RULE}
  ⏸ manual mode on · /tasks to see subagents
""",
    "waiting for a background subagent": NEW_BANNER + f"""
❯ Delegate the search
● Agent(Look around)
  ⎿  Backgrounded agent (↓ to manage · ctrl+o to expand)
● The subagent is on it.
✻ Waiting for 1 background agent to finish
{RULE}
❯
{RULE}
  ⏸ manual mode on · /tasks to see subagents
""",
    "question": f"""
❯ ask me
{RULE}
 ☐ Choice
Which colour?
❯ 1. Red
     Answer Red
  2. Blue
     Answer Blue
  3. Type something.
{RULE}
  4. Chat about this
Enter to select · ↑/↓ to navigate · Esc to cancel
""",
    "elicitation": f"""
❯ Pick a colour
  Calling asker · 2s…
{RULE}
  MCP server “asker” requests your input
  Which colour do you pick?
  ❯ * Colour: Type something…
    Accept    Decline
  Esc to cancel · ↑/↓ to navigate · Backspace to unset
""",
    "plan approval": f"""
❯ plan it
{RULE}
 Exit plan mode?
  Claude wants to exit plan mode
  ❯ 1. Yes
    2. No
""",
    "trust": f"""
{RULE}
 Accessing workspace:
 /tmp/project.agents/fix-login
 Quick safety check: Is this a project you created or one you trust? (Like your own code, a well-known open source
 project, or work from your team). If not, take a moment to review what's in this folder first.
 Claude Code'll be able to read, edit, and execute files here.
 Security guide
 ❯ No, exit
   Yes, I trust this folder
 Enter to confirm · Esc to cancel
""",
}


@pytest.mark.parametrize(("name", "expected"), [("working", "working"), ("waiting", "waiting"), ("idle", "idle"), ("trust", "waiting"), ("interrupted", "idle")])
def test_claude_screens(name: str, expected: str) -> None:
    assert watch.classify(screen(CLAUDE[name]), patterns("claude")) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("auto idle", "idle"), ("auto working", "working"), ("auto interrupted", "idle"), ("manual idle with subagents", "idle"),
     ("waiting for a background subagent", "working"),
     ("question", "waiting"), ("elicitation", "waiting"), ("plan approval", "waiting"), ("trust", "waiting")],
)
def test_newest_claude_screens(name: str, expected: str) -> None:
    assert watch.classify(screen(CLAUDE_NEW[name]), patterns("claude")) == expected


@pytest.mark.parametrize("name", ["working", "waiting", "idle"])
def test_claude_screens_with_the_focus_events_notice(name: str) -> None:
    assert watch.classify(screen(CLAUDE[name] + FOCUS + "\n"), patterns("claude")) == name


def test_claude_banner_alone_is_no_state() -> None:
    assert watch.classify(screen(CLAUDE_BANNER), patterns("claude")) is None
    assert watch.classify("", patterns("claude")) is None


def test_old_question_scrolled_up_is_not_a_question() -> None:
    # A question answered long ago, followed by a whole screen of output, then the prompt.
    output = "\n".join(f"  ⎿  line {i} of the tool's output" for i in range(40))
    text = CLAUDE["waiting"] + "\n● Bash(pytest -q)\n" + output + "\n\n" + CLAUDE["idle"].split("> Fix the login redirect")[1]
    assert watch.classify(screen(text, height=120), patterns("claude")) == "idle"


def test_old_question_still_in_view_but_the_prompt_came_back() -> None:
    # Close enough to be in the lines read, but the agent is back at its prompt below it.
    text = CLAUDE["waiting"] + "\n● Bash(touch made-by-tool.txt)\n  ⎿  (No content)\n\n✻ Baked for 2s\n\n" + f"{RULE}\n❯\n{RULE}\n  ? for shortcuts\n"
    assert watch.classify(screen(text), patterns("claude")) == "idle"


def test_a_question_outranks_the_markers_above_it() -> None:
    # Still working above, a question at the bottom: the question counts.
    text = CLAUDE["working"] + "\n Do you want to proceed?\n ❯ 1. Yes\n   2. No\n\n Esc to cancel\n"
    assert watch.classify(screen(text), patterns("claude")) == "waiting"


# Codex CLI: approval overlay, "Working (… esc to interrupt)", the composer's footer.
CODEX = {
    "waiting": """
› Open the screenshot

• Running open /tmp/foo.png

  Would you like to run the following command?

  Reason: open the local screenshot to check the layout

  $ open /tmp/foo.png

› 1. Yes, proceed (y)
  2. Yes, and don't ask again for commands that start with `open /tmp` (p)
  3. No, and tell Codex what to do differently (esc)

  Press enter to confirm or esc to cancel
""",
    "edits": """
• Proposed change to src/app.py (+2 -1)

  Would you like to make the following edits?

› 1. Yes, proceed (y)
  2. No, and tell Codex what to do differently (esc)

  Press enter to confirm or esc to cancel
""",
    "working": """
› Fix the failing test

• Explored
  └ Read test_app.py

• Working (12s • esc to interrupt)

› Ask Codex to do anything

  ? for shortcuts                                                          97% context left
""",
    "idle": """
› Fix the failing test

• The test now passes: the fixture used the wrong port.

› Ask Codex to do anything

  ? for shortcuts                                                          95% context left
""",
    "idle-old": """
▌ Fix the failing test

> The test now passes.

▌ Ask Codex to do anything
 ⏎ send   ⇧⏎ newline   ⌃T transcript   ⌃C quit
""",
    "answered": """
  Would you like to run the following command?
  $ pytest -q

✔ You approved codex to run pytest -q this time

• Ran pytest -q
  └ 12 passed

• Working (3s • esc to interrupt)

› Ask Codex to do anything

  ? for shortcuts                                                          95% context left
""",
}


@pytest.mark.parametrize(
    ("name", "expected"),
    [("waiting", "waiting"), ("edits", "waiting"), ("working", "working"), ("idle", "idle"), ("idle-old", "idle"), ("answered", "working")],
)
def test_codex_screens(name: str, expected: str) -> None:
    assert watch.classify(screen(CODEX[name]), patterns("codex")) == expected


def test_codex_words_in_the_conversation_are_not_states() -> None:
    # The model saying "Working" or "Approve" or "send" must not move anything.
    text = CODEX["idle"].replace("• The test now passes", "• Working on it: Approve the PR and send the mail; the test now passes")
    assert watch.classify(screen(text), patterns("codex")) == "idle"


# Aider: a line-based REPL; questions, the "Waiting for <model>" spinner, the prompt.
AIDER = {
    "waiting": """
Aider v0.86.1
Main model: anthropic/claude-sonnet-4 with diff edit format
Git repo: .git with 12 files
Repo-map: using 4096 tokens, auto refresh

> Fix the login redirect in app.py

app.py
Add file to the chat? (Y)es/(N)o/(D)on't ask again [Yes]:
""",
    "working": """
> Fix the login redirect in app.py

app.py
Add file to the chat? (Y)es/(N)o/(D)on't ask again [Yes]: y
░█        Waiting for anthropic/claude-sonnet-4
""",
    "idle": """
> Fix the login redirect in app.py

The redirect handler dropped the query string; keep it.

app.py
<<<<<<< SEARCH
    return redirect(url)
=======
    return redirect(url + query)
>>>>>>> REPLACE

Tokens: 2.1k sent, 150 received. Cost: $0.01 message, $0.02 session.
Applied edit to app.py
Commit 1a2b3c4 fix: keep the query string on login redirect

app.py
>
""",
    "architect": """
Tokens: 2.1k sent, 150 received.

architect>
""",
    "run-shell": """
Run shell command? (Y)es/(N)o/(S)kip all/(D)on't ask again [Yes]:
""",
}


@pytest.mark.parametrize(
    ("name", "expected"),
    [("waiting", "waiting"), ("working", "working"), ("idle", "idle"), ("architect", "idle"), ("run-shell", "waiting")],
)
def test_aider_screens(name: str, expected: str) -> None:
    assert watch.classify(screen(AIDER[name]), patterns("aider")) == expected


def test_aider_typing_at_the_prompt_is_no_new_state() -> None:
    assert watch.classify(screen(AIDER["idle"].rstrip() + " now add a test\n"), patterns("aider")) is None


# Gemini CLI: tool confirmation box, "(esc to cancel, 4s)", the input placeholder.
GEMINI = {
    "waiting": """
╭──────────────────────────────────────────────────────────────╮
│ ?  Shell ls -la (List the files)                              │
│                                                                │
│ ls -la                                                         │
│                                                                │
│ Allow execution of: 'ls'?                                      │
│                                                                │
│ ● 1. Yes, allow once                                           │
│   2. Yes, allow always ...                                     │
│   3. No, suggest changes (esc)                                 │
╰──────────────────────────────────────────────────────────────╯

⠏ Waiting for user confirmation... (esc to cancel, 3s)
""",
    "edit": """
│ Apply this change?                                             │
│ ● 1. Yes, allow once                                           │
╰──────────────────────────────────────────────────────────────╯
""",
    "working": """
> Fix the login redirect

⠼ Reading the handler (esc to cancel, 4s)

╭──────────────────────────────────────────────────────────────╮
│ >   Type your message or @path/to/file                         │
╰──────────────────────────────────────────────────────────────╯
~/project (main*)        no sandbox (see /docs)        gemini-2.5-pro (99% context left)
""",
    "idle": """
✦ The redirect now keeps the query string.

╭──────────────────────────────────────────────────────────────╮
│ >   Type your message or @path/to/file                         │
╰──────────────────────────────────────────────────────────────╯
~/project (main*)        no sandbox (see /docs)        gemini-2.5-pro (98% context left)
""",
}


@pytest.mark.parametrize(("name", "expected"), [("waiting", "waiting"), ("edit", "waiting"), ("working", "working"), ("idle", "idle")])
def test_gemini_screens(name: str, expected: str) -> None:
    assert watch.classify(screen(GEMINI[name]), patterns("gemini")) == expected


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
    for name, expected in (("waiting", "waiting"), ("working", "working"), ("idle", "idle")):
        new = watch.decide(False, state, watch.classify(screen(AIDER[name]), pats), 0.0)
        assert new == expected
        state = new


def test_a_screen_that_agreed_with_the_hooks_is_trusted_sooner() -> None:
    """Esc after the spinner was seen: idle within AGREED_CONFIRM_SECONDS; a screen lagging behind a new hook: not before CONFIRM_SECONDS."""
    claude = watch.compile_patterns({k: list(v) for k, v in programs.get("claude").screen.items()})
    working_screen = "✶ Thinking… (3s)\n" + "─" * 40 + "\n❯ \n" + "─" * 40 + "\n  esc to interrupt\n"
    idle_screen = "✻ Crunched for 3s\n" + "─" * 40 + "\n❯ \n" + "─" * 40 + "\n  ? for shortcuts\n"
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
