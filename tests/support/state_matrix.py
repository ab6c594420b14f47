"""The state-accuracy matrix for the real Codex, Gemini CLI and Aider tests.

A :class:`Matrix` follows one agent pane: a thread records every change of its
``@agent_state`` (what the status bar draws), and each :meth:`Matrix.scenario`
runs an action, waits for the expected final state, keeps watching for a quiet
spell, and asserts the changes seen followed the expected path (a state may be
missed between two polls, never added or repeated). With
``AGENTS_TMUX_MATRIX_OUT=<file>`` each result is appended there as a JSON line
(the README's matrix is made from them), with the seconds from the action's
end to the final state.

The scenarios every program goes through the same way (a first task, a
prompt, an approval asked and denied, a failed turn, an interrupt, an exit)
are methods here, scripted by :func:`matrix_rules`; a test adds what its
program does its own way.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.fake_llm import Failure, Rule, Shell, Text
from tests.support.screens import record

__all__ = ["Matrix", "StateRecorder", "follows", "matrix_rules"]

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


def matrix_rules(kind: str, make_command: str, *, first_turn: threading.Event, esc_turn: threading.Event,
                 approved_turn: threading.Event | None = None) -> list[Rule]:
    """The fake model's script for the matrix: each typed line below gets its scenario's answer.

    ``make_command`` is the shell command asked for by "Make the file" (the one
    for "Remove the repo" names ``kind`` and is never run);
    ``approved_turn`` (when given) holds the answer to its result, so the
    approved turn is seen working.
    """
    return [
        Rule.when("Write the notes", Text("Notes written."), gate=first_turn),
        # Long enough for a screen read to see it working (Aider has no hooks).
        Rule.when("Say hello", Text("Hello."), delay=2.5),
        Rule.when("Go on", Text("Going on."), delay=2.5),
        Rule.when("Make the file", Shell(make_command)),
        *([Rule.after_tool(Text("The file is made."), gate=approved_turn, times=1)] if approved_turn else []),
        Rule.when("Remove the repo", Shell(f"rm -rf /tmp/never-run-by-{kind}")),
        Rule.when("Break now", Failure(400, "the fake API refuses this turn")),
        Rule.when("Think long", Text("never shown"), gate=esc_turn),
    ]


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

    def record(self, name: str, screen: str) -> None:
        """Save ``screen`` as this program's recorded ``name`` (with AGENTS_TMUX_RECORD_SCREENS=1)."""
        record(self.rig.kind, self.version, name, screen)

    # -- the scenarios every program shares (typed lines as in matrix_rules) --

    def first_task(self, first_turn: threading.Event, expected: list[str], name: str = "start, first task") -> None:
        """The spawn's own task ("Write the notes"), held working until the screen is recorded."""
        rig, pane = self.rig, self.pane

        def first_task() -> None:
            rig.wait_state(pane, "working")
            self.record("working", rig.screen(pane))
            first_turn.set()

        self.scenario(name, first_task, expected, from_start=True)
        self.record("idle", rig.quiet_screen(pane))

    def prompt(self, text: str, name: str = "prompt") -> None:
        """Type ``text``: a turn that works, then idles."""
        self.scenario(name, lambda: self.rig.type(self.pane, text), ["working", "idle"])

    def approval_needed(self, question: str) -> None:
        """Ask for the shell command ("Make the file") and wait for the program's ``question``."""
        def ask() -> None:
            self.rig.type(self.pane, "Make the file")
            self.rig.wait_screen(self.pane, question)

        self.scenario("approval needed", ask, ["working", "waiting"])
        self.record("waiting", self.rig.screen(self.pane))

    def approved(self, made: Path, approved_turn: threading.Event) -> None:
        """Approve the asked command with Enter: ``made`` appears, the turn works on and ends idle."""
        def approve() -> None:
            self.rig.keys(self.pane, "Enter")
            self.rig.wait(made.exists, self.pane, "the approved command to run")
            self.rig.wait_state(self.pane, "working")
            # The question answered, still in view above the running turn.
            self.record("approved", self.rig.screen(self.pane))
            approved_turn.set()

        self.scenario("approved", approve, ["working", "idle"])

    def denied(self, *keys: str) -> None:
        """Ask for a destructive command ("Remove the repo") and refuse it with ``keys``."""
        def deny() -> None:
            self.rig.type(self.pane, "Remove the repo")
            self.rig.wait_state(self.pane, "waiting")
            self.rig.keys(self.pane, *keys)

        self.scenario("denied", deny, ["working", "waiting", "idle"])
        self.record("denied", self.rig.quiet_screen(self.pane))

    def failed_turn(self) -> None:
        """A turn the fake API answers with HTTP 400 ("Break now")."""
        self.scenario("failed turn (HTTP 400)", lambda: self.rig.type(self.pane, "Break now"), ["working", "error"])
        self.record("error", self.rig.quiet_screen(self.pane))

    def interrupted(self, esc_turn: threading.Event, key: str, name: str, *, quiet_screen: bool = True) -> None:
        """Interrupt a turn that never ends ("Think long") with ``key``, then let the fake's answer go."""
        def interrupt() -> None:
            self.rig.type(self.pane, "Think long")
            self.rig.wait_state(self.pane, "working")
            self.rig.keys(self.pane, key)

        self.scenario(name, interrupt, ["working", "idle"])
        screen = self.rig.quiet_screen(self.pane) if quiet_screen else self.rig.screen(self.pane)
        self.record("interrupted", screen)
        esc_turn.set()

    def exit_twice(self, name: str = "exit (Ctrl+C twice)") -> None:
        """Ctrl+C twice: the program exits."""
        def exit_twice() -> None:
            self.rig.keys(self.pane, "C-c")
            time.sleep(0.3)
            self.rig.keys(self.pane, "C-c")

        self.scenario(name, exit_twice, ["exited"])

    def close(self) -> None:
        """Stop recording; append the results to ``$AGENTS_TMUX_MATRIX_OUT`` when set."""
        self.recorder.stop()
        out = os.environ.get("AGENTS_TMUX_MATRIX_OUT")
        if out:
            with open(out, "a", encoding="utf-8") as handle:
                for result in self.results:
                    handle.write(json.dumps(result) + "\n")
        print(f"{self.rig.kind} matrix:", [(r["scenario"], r["observed"], r["latency"]) for r in self.results])
