"""The built-in screen patterns against screens recorded from the real programs.

tests/screens/<program>/<version>/<name>.txt were captured (capture-pane) by the
real-program tests (tests/test_program_*.py, tests/test_claude_states.py and
tests/test_claude_e2e.py, run with AGENTS_TMUX_RECORD_SCREENS=1) at each state they
reach (tests/screens/README.md lists which scenario made each name); here every one is
classified with its kind's built-in patterns, so a pattern edit that stops matching what
the real program shows fails in a second.
"""

from __future__ import annotations

import pytest
from agents_tmux import config, watch

from tests.support.claude_home import CLAUDE_VERSION
from tests.support.program_rigs import VERSIONS
from tests.support.screens import recorded

#: The state each recorded screen shows, where its name is not that state.
EXPECTED = {
    "denied": "idle", "interrupted": "idle", "default-mode-interrupted": "idle",
    "running": "working", "approved": "working", "subagent": "working", "compacting": "working",
    "default-mode-working": "working",
    "trust": "waiting", "output-question": "waiting", "question": "waiting", "elicitation": "waiting", "plan": "waiting",
}
#: Where a program's screen shows something else than its name says.
EXPECTED_FOR = {
    # Claude reports a failed turn by its StopFailure hook; its screen is back at
    # the prompt below the "API Error" line, and the watcher leaves "error" alone.
    ("claude", "error"): "idle",
}

KINDS = config.load(None, builtin_only=True).agents
SCREENS = recorded()


def expected(program: str, name: str) -> str:
    return EXPECTED_FOR.get((program, name), EXPECTED.get(name, name))


@pytest.mark.parametrize(("program", "version", "name", "text"), SCREENS, ids=[f"{p}-{v}-{n}" for p, v, n, _ in SCREENS])
def test_recorded_screen_reads_as_its_state(program: str, version: str, name: str, text: str) -> None:
    patterns = watch.compile_patterns({state: list(p) for state, p in KINDS[program].screen.items()})
    assert watch.classify(text, patterns) == expected(program, name)


def test_every_program_was_recorded_in_each_state() -> None:
    """Each state a program's patterns read, recorded from every version tested (both Claudes)."""
    seen: dict[tuple[str, str], set[str]] = {}
    for program, version, name, _ in SCREENS:
        seen.setdefault((program, version), set()).add(expected(program, name))
    wanted = [(program, version) for program, version in VERSIONS.items()] + [("claude", CLAUDE_VERSION)]
    # The newest Claude Code tested besides the pinned one.
    wanted += [key for key in seen if key[0] == "claude" and key[1] != CLAUDE_VERSION]
    assert len([key for key in wanted if key[0] == "claude"]) >= 2, sorted(seen)
    for program, version in wanted:
        assert set(KINDS[program].screen) <= seen.get((program, version), set()), (program, version)
