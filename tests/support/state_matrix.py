"""The state-accuracy matrix for the real Codex, Gemini CLI and Aider tests.

A :class:`Matrix` follows one agent pane: a thread records every change of its
``@agent_state`` (what the status bar draws), and each :meth:`Matrix.scenario`
runs an action, waits for the expected final state, keeps watching for a quiet
spell, and asserts the changes seen followed the expected path (a state may be
missed between two polls, never added or repeated). With
``AGENTS_TMUX_MATRIX_OUT=<file>`` each result is appended there as a JSON line
(the README's matrix is made from them), with the seconds from the action's
end to the final state.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Matrix", "StateRecorder", "follows"]

#: How long a state must then stay put: the watcher overrides hooks only after the
#: screen showed the same thing for 1.5 s, read every 0.5-2 s.
QUIET = 2.5


class StateRecorder:
    """Polls a pane's ``@agent_state`` every 50 ms in a thread; keeps every change with its time."""

    def __init__(self, tmux: Any, pane: str) -> None:
        self.tmux, self.pane = tmux, pane
        self.changes: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="state-recorder", daemon=True)

    def start(self) -> StateRecorder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def mark(self) -> int:
        """A position in the changes, for :meth:`since`."""
        return len(self.changes)

    def since(self, mark: int) -> list[tuple[float, str]]:
        """The changes recorded after ``mark``."""
        return list(self.changes[mark:])

    def _run(self) -> None:
        last = None
        while not self._stop.is_set():
            state = self.tmux.run("display-message", "-p", "-t", self.pane, "#{@agent_state}", check=False).strip()
            if state and state != last:
                self.changes.append((time.monotonic(), state))
                last = state
            self._stop.wait(0.05)


def follows(path: list[str], expected: list[str]) -> bool:
    """True when ``path`` is ``expected`` with perhaps some states missed (never added or repeated).

    >>> follows(["working", "idle"], ["working", "waiting", "working", "idle"])
    True
    >>> follows(["working", "idle", "working", "idle"], ["working", "idle"])
    False
    """
    rest = iter(expected)
    return all(any(state == wanted for wanted in rest) for state in path)


@dataclass
class Matrix:
    """One real program's agent pane, and the scenarios run on it."""

    rig: Any  # tests.support.program_rigs.ProgramRig
    pane: str
    version: str
    recorder: StateRecorder = field(init=False)
    results: list[dict[str, object]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.recorder = StateRecorder(self.rig.tmux, self.pane).start()

    def scenario(
        self, name: str, action: Callable[[], None], expected: list[str], quiet: float = QUIET, from_start: bool = False
    ) -> None:
        """Run ``action``; the agent must end in ``expected[-1]`` by way of ``expected``, and stay there.

        ``from_start``: count the changes since the pane opened (the start scenario).
        """
        mark = 0 if from_start else len(self.recorder.changes)
        started = time.monotonic()
        action()
        acted = time.monotonic()
        final = expected[-1]

        def reached() -> bool:
            changes = self.recorder.changes[mark:]
            return bool(changes) and changes[-1][1] == final

        self.rig.wait(reached, self.pane, f"{name}: the state {final!r}")
        reached_at = self.recorder.changes[-1][0]
        time.sleep(quiet)
        path = [state for _, state in self.recorder.changes[mark:]]
        ok = follows(path, expected) and path[-1] == final and self.rig.state(self.pane) == final
        self.results.append({
            "program": self.rig.kind, "version": self.version, "scenario": name, "expected": expected,
            "observed": path, "ok": ok, "latency": round(max(0.0, reached_at - acted), 2),
            "seconds": round(time.monotonic() - started, 1),
        })
        assert ok, f"{name}: expected {expected}, the status bar went {path}\n{self.rig.describe(self.pane)}"

    def close(self) -> None:
        """Stop recording; append the results to ``$AGENTS_TMUX_MATRIX_OUT`` when set."""
        self.recorder.stop()
        out = os.environ.get("AGENTS_TMUX_MATRIX_OUT")
        if out:
            with open(out, "a", encoding="utf-8") as handle:
                for result in self.results:
                    handle.write(json.dumps(result) + "\n")
        print(f"{self.rig.kind} matrix:", [(r["scenario"], r["observed"], r["latency"]) for r in self.results])
