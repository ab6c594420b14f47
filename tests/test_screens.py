"""The built-in screen patterns against screens recorded from the real programs.

tests/screens/<program>/<name>.txt were captured (capture-pane) by the real-program
tests (tests/test_program_*.py, run with AGENTS_TMUX_RECORD_SCREENS=1) at each state
of the matrix; here every one is classified with its kind's built-in patterns, so a
pattern edit that stops matching what the real program shows fails in a second.
"""

from __future__ import annotations

import pytest
from agents_tmux import config, watch

from tests.support.screens import recorded

#: The state each recorded screen shows, where its name is not that state.
EXPECTED = {"denied": "idle", "interrupted": "idle", "answered": "idle", "running": "working", "trust": "waiting"}

KINDS = config.load(None, builtin_only=True).agents
SCREENS = recorded()


@pytest.mark.parametrize(("program", "name", "text"), SCREENS, ids=[f"{p}-{n}" for p, n, _ in SCREENS])
def test_recorded_screen_reads_as_its_state(program: str, name: str, text: str) -> None:
    patterns = watch.compile_patterns({state: list(p) for state, p in KINDS[program].screen.items()})
    assert watch.classify(text, patterns) == EXPECTED.get(name, name)


def test_every_program_was_recorded_in_each_state() -> None:
    seen: dict[str, set[str]] = {}
    for program, name, _ in SCREENS:
        seen.setdefault(program, set()).add(EXPECTED.get(name, name))
    for program in ("codex", "gemini", "aider"):
        assert {"working", "waiting", "idle"} <= seen.get(program, set()), program
