"""Benchmark section ``claude``: the real Claude Code, from an event on its screen to the state in the status line.

For each installed version (the pinned one and the newest, found as the tests
find them: ``.cache/claude-code*`` or ``$AGENTS_TMUX_CLAUDE_BIN`` /
``$AGENTS_TMUX_CLAUDE_LATEST_BIN``) one agent is spawned through the plugin
against the fake Anthropic API of tests/support, and driven through turns:
a permission prompt, the finished turn, a failed turn (HTTP 400) and an Esc.
One loop reads the pane's screen and the rendered status line in a single tmux
call, as fast as tmux answers, and notes when the screen first shows the event
and when the status line first shows its state. Beside it runs the peer
baseline: a detector that reads the same screen once a second and classifies
it with the same patterns (``watch.classify``), as a polling tool would.

Called from bench.py (``--only claude``); needs the real Claude Code installed.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Observation:
    """When the screen showed an event, when the status line and the 1 s poller showed its state."""

    screen: float
    status: float
    poller: float


@dataclass
class Poller:
    """The peer baseline: capture-pane once a second, classified with the program's patterns."""

    read: Callable[[], str]
    patterns: dict[str, Any]
    changes: list[tuple[float, str | None]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        from agents_tmux import watch

        last: object = object()
        while not self._stop.is_set():
            seen = watch.classify(self.read(), self.patterns)
            if seen != last:
                self.changes.append((time.monotonic(), seen))
                last = seen
            self._stop.wait(1.0)

    def first(self, state: str, after: float) -> float | None:
        """When the poller first reported a change to ``state`` at or after ``after``."""
        return next((at for at, seen in self.changes if seen == state and at >= after), None)


@dataclass
class BenchPane:
    """One agent pane under measurement: its screen and status line read together, its events timed.

    Shared by this section and section 9 (program_latency.py); ``label`` names
    the agent in errors, ``results`` collects each event's observations.
    """

    server: Any  # bench.py's sandbox server
    pane: str
    label: str
    patterns: dict[str, Any]
    until_timeout: float = 60.0
    results: dict[str, list[Observation]] = field(default_factory=dict)
    status_format: str = ""
    poller: Poller | None = None
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.status_format = self.server.option("status-right")

    def read(self) -> tuple[str, str]:
        """The pane's screen and the rendered status line, from one tmux call."""
        out = self.server.run("capture-pane", "-p", "-t", self.pane, ";", "display-message", "-p", self.status_format,
                              check=False)
        screen, _, status = out.rstrip("\n").rpartition("\n")
        return screen, status

    def until(self, what: str) -> None:
        """Wait for the agent's state to be ``what``."""
        deadline = time.monotonic() + self.until_timeout
        while time.monotonic() < deadline:
            if self.server.option("@agent_state", self.pane) == what:
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.label} never became {what}:\n{self.read()[0]}")

    def start_poller(self) -> None:
        """Start the once-a-second peer baseline on this pane's screen."""
        self.poller = Poller(lambda: self.read()[0], self.patterns)
        self._thread = threading.Thread(target=self.poller.run, daemon=True)
        self._thread.start()

    def stop_poller(self) -> None:
        if self.poller is not None:
            self.poller._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def observe(self, event: str, on_screen: Callable[[str], bool], icon: str, state: str) -> None:
        """Poll screen and status together until both showed the event; record the times."""
        assert self.poller is not None, "start_poller first"
        screen_at = status_at = None
        deadline = time.monotonic() + 60
        while (screen_at is None or status_at is None) and time.monotonic() < deadline:
            screen, status = self.read()
            now = time.monotonic()
            if screen_at is None and on_screen(screen):
                screen_at = now
            if status_at is None and f"{icon} 1" in status:
                status_at = now
        if screen_at is None or status_at is None:
            shown, status = self.read()
            raise RuntimeError(f"{self.label} {event}: never seen (screen {screen_at}, status {status_at}); "
                               f"status {status!r}, screen:\n{shown}")
        # Give the once-a-second poller its chance (at most a period and a read).
        for _ in range(40):
            found = self.poller.first(state, screen_at)
            if found is not None:
                break
            time.sleep(0.1)
        else:
            found = float("nan")
        self.results.setdefault(event, []).append(Observation(screen_at, status_at, found))


def latency_rows(name: str, results: dict[str, list[Observation]]) -> list[list[str]]:
    """One table row per event: agents.tmux's median and worst, the 1 s poller's median and worst."""
    rows = []
    for event, observed in results.items():
        ours = [o.status - o.screen for o in observed]
        peer = [o.poller - o.screen for o in observed if o.poller == o.poller]
        rows.append([
            f"{name} {event}",
            f"{statistics.median(ours) * 1000:.0f} ms", f"{max(ours) * 1000:.0f} ms",
            f"{statistics.median(peer) * 1000:.0f} ms" if peer else "never", f"{max(peer) * 1000:.0f} ms" if peer else "never",
        ])
    return rows


def bench_claude(sandbox: Any, report: Any, quick: bool) -> None:
    """The section: one table row per (version, event)."""
    sys.path.insert(0, str(ROOT))
    from agents_tmux import config as config_mod
    from agents_tmux import watch

    from tests.support.claude_home import CLAUDE_VERSION, claude_env, claude_version, fake_api_key, find_claude, find_latest_claude, prepare_claude_home
    from tests.support.fake_api import ApiError, FakeAnthropic, Reply, bash, last_user_text

    builds = [("pinned", find_claude(), f"Claude Code {CLAUDE_VERSION} is not installed")]
    latest, why = find_latest_claude()
    builds.append(("latest", latest, why))
    patterns = watch.compile_patterns({s: list(p) for s, p in config_mod.load(None, builtin_only=True).agents["claude"].screen.items()})
    cycles = 2 if quick else 5
    rows: list[list[str]] = []
    for label, binary, missing in builds:
        if binary is None:
            rows.append([f"{label}: skipped ({missing})", "", "", "", ""])
            continue
        version = claude_version(binary)
        print(f"bench: real Claude Code {version}", file=sys.stderr, flush=True)
        repo = sandbox.repo(f"claude-{label}")
        with FakeAnthropic(default="OK.") as api:
            server = sandbox.server(repo)
            # A HOME of its own per version: one version's ~/.claude must not steer the next.
            home = Path(server.env["HOME"]).with_name(f"home-{label}")
            home.mkdir()
            key = fake_api_key("agents-tmux-bench")
            prepare_claude_home(home, key, [repo, repo.parent / "project.agents"], version)
            for name, value in claude_env(home, api.url, key).items():
                server.run("set-environment", "-g", name, value)
            # The segment alone on the right (placed before the plugin fills it in).
            server.run("set-option", "-g", "status-right", "#{agents_status}")
            server.load_plugin(**{"@agents-command": binary, "@agents-spawn-target": "window"})
            agent = server.agents("spawn", "Say hello", "--pane", server.origin, "-d").stdout.strip()
            pane = next(line.split()[0] for line in server.run("list-panes", "-a", "-F", "#{pane_id} #{@agent_name}").splitlines() if line.endswith(" " + agent))

            bench = BenchPane(server, pane, f"Claude Code {version}", patterns)

            def type_line(text: str) -> None:
                server.run("send-keys", "-t", pane, "C-u")
                server.run("send-keys", "-t", pane, "-l", text)
                server.run("send-keys", "-t", pane, "Enter")

            bench.until("idle")
            time.sleep(1)
            bench.start_poller()
            try:
                for i in range(cycles):
                    marker, answer = f"marker{i}.txt", f"Finished cycle {i}."
                    api.add(
                        Reply.when(f"Make {marker}", bash(f"touch {marker}", "Make the marker"), times=1),
                        Reply.after_tool(answer, delay=1.0, times=1),
                        Reply.matching(lambda body, i=i: last_user_text(body).endswith(f"Fail {i}"), ApiError(400, "Simulated failure")),
                        Reply.when(f"Think {i}", "Too late.", delay=60.0, times=1),
                    )
                    type_line(f"Make {marker}")
                    bench.observe("permission prompt → waiting", lambda s: "Do you want to proceed?" in s, "⏳", "waiting")
                    server.run("send-keys", "-t", pane, "1")
                    bench.observe("answer drawn → idle", lambda s, a=answer: a in s, "✓", "idle")
                    time.sleep(1)
                    type_line(f"Fail {i}")
                    bench.observe("API Error drawn → error", lambda s, i=i: "API Error: 400" in s.rpartition(f"Fail {i}")[2], "⚠", "error")
                    time.sleep(1)
                    type_line(f"Think {i}")
                    bench.until("working")
                    deadline = time.monotonic() + 30
                    while "esc to interrupt" not in bench.read()[0] and time.monotonic() < deadline:
                        time.sleep(0.05)
                    time.sleep(2.5)  # long enough for the once-a-second poller to see the turn working
                    server.run("send-keys", "-t", pane, "Escape")
                    bench.observe("Esc: prompt back → idle", lambda s: "esc to interrupt" not in s, "✓", "idle")
                    time.sleep(1)
            finally:
                bench.stop_poller()
                server.kill()
        rows += latency_rows(version, bench.results)
    report.table(
        "8. Real Claude Code: event on screen → state in the status line",
        ["Version, event → state", "agents.tmux median", "worst", "1 s poller median", "worst"],
        rows,
        f"{cycles} cycles per version, each a permission prompt approved, a finished turn, a failed turn (HTTP 400 from the "
        "fake API) and an Esc. Both columns count from the first poll (one tmux call, screen and status together, as fast "
        "as tmux answers) whose screen shows the event; a negative time means the status line showed the state before "
        "the screen showed the event (the hook fired before Claude drew it). The 1 s poller reads the same screen once a "
        "second and classifies it with the same patterns. Esc fires no hook: agents.tmux's screen watcher decides; it reads a "
        "working agent's screen every second, and once that screen has shown the agent working, a change it shows is read "
        "again and taken after 0.4 s (a screen not yet redrawn after a hook must stay the same for 1.5 s, so a hook and its "
        "screen never race). "
        "\"never\": Claude's screen patterns have no error state (the error comes from the StopFailure hook).",
    )
