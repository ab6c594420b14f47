"""What the rigs running a real agent program in a test pane share: reading that pane and waiting on it.

:class:`~tests.support.claude_rig.ClaudeRig` (Claude Code) and
:class:`~tests.support.program_rigs.ProgramRig` (Codex, Gemini CLI, Aider) differ in
how they set a program up and in what a failure message tells beyond the pane's state
and screen (:meth:`PaneRig.describe`); a wait that times out fails the test with it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

__all__ = ["PaneRig"]


class PaneRig:
    """Reads an agent's pane on ``self.tmux`` and waits on it (a mixin for the rigs' dataclasses)."""

    tmux: Any  # conftest.Tmux (tests/ is not a package)
    #: Seconds a wait lasts unless it says otherwise.
    slow: float = 30.0

    def state(self, pane: str) -> str:
        return str(self.tmux.option(pane, "@agent_state"))

    def screen(self, pane: str) -> str:
        return str(self.tmux.run("capture-pane", "-p", "-t", pane, check=False))

    def describe(self, pane: str) -> str:
        """The pane's state and screen, for failure messages (a rig adds what it knows more)."""
        return f"state={self.state(pane)!r}\n--- screen of {pane} ---\n{self.screen(pane)}"

    def wait(self, predicate: Callable[[], Any], pane: str, what: str, timeout: float | None = None) -> Any:
        """Poll ``predicate`` until truthy and return its value; on timeout fail with :meth:`describe`."""
        limit = timeout or self.slow
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        pytest.fail(f"timed out after {limit}s waiting for {what}\n{self.describe(pane)}")

    def wait_state(self, pane: str, *states: str, timeout: float | None = None) -> str:
        """Wait until the pane's state is one of ``states``; return it."""
        return str(self.wait(lambda: self.state(pane) if self.state(pane) in states else "", pane,
                             f"@agent_state in {states}", timeout))

    def wait_screen(self, pane: str, text: str, timeout: float | None = None) -> None:
        self.wait(lambda: text in self.screen(pane), pane, f"{text!r} on the screen", timeout)
