"""Recorded screens of the real agent programs, for checking the built-in screen patterns.

The real-program tests call :func:`record` at each state they reach; with
``AGENTS_TMUX_RECORD_SCREENS=1`` the screen is saved as
``tests/screens/<program>/<version>/<name>.txt`` (the files committed there were
recorded so, against the installed versions; tests/screens/README.md says which test
and scenario produced each name). tests/test_screens.py classifies every saved screen
with the program's patterns, so a pattern that stops matching a real screen fails
without running the program; tests/test_watch.py builds its screens from them.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["SCREENS", "record", "recorded", "recording"]

SCREENS = Path(__file__).resolve().parents[1] / "screens"


def record(program: str, version: str, name: str, screen: str) -> None:
    """Save ``screen`` as ``name`` of ``program`` at ``version`` (only when recording is asked for)."""
    if os.environ.get("AGENTS_TMUX_RECORD_SCREENS") != "1":
        return
    if not version:
        raise ValueError(f"recording {program} {name}: no version")
    path = SCREENS / program / version / f"{name}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    # Trailing blanks say nothing and churn diffs; the line count (pane height) is kept.
    path.write_text("\n".join(line.rstrip() for line in screen.split("\n")), encoding="utf-8")


def recorded() -> list[tuple[str, str, str, str]]:
    """Every saved ``(program, version, name, screen)``, sorted."""
    found = []
    for path in sorted(SCREENS.glob("*/*/*.txt")):
        found.append((path.parent.parent.name, path.parent.name, path.stem, path.read_text(encoding="utf-8")))
    return found


def recording(program: str, version: str, name: str) -> str:
    """The saved screen ``name`` of ``program`` at ``version``."""
    return (SCREENS / program / version / f"{name}.txt").read_text(encoding="utf-8")
