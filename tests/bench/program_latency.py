"""Benchmark section ``programs``: the real Codex, Gemini CLI and Aider, from an event on screen to the state shown.

For each installed program (found as the tests find them: ``.cache/agent-clis`` or
``$AGENTS_TMUX_<PROGRAM>_BIN``) one agent is spawned through the plugin against its fake
API (tests/support), prepared by tests/support/program_rigs.py, and driven through
cycles of: a command to approve, an answer, a failed turn (HTTP 400) and an interrupt.
As in section 8 (claude_latency.py, whose :class:`Poller` this reuses), one loop reads
the screen and the rendered status line in a single tmux call as fast as tmux answers,
beside the peer baseline: the same screen read once a second and classified with the
same patterns.

Called from bench.py (``--only programs``); needs the programs installed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def bench_programs(sandbox: Any, report: Any, quick: bool) -> None:
    """The section: one table row per (program, event)."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(Path(__file__).parent))
    from agents_tmux import config as config_mod
    from agents_tmux import watch
    from claude_latency import BenchPane, latency_rows

    from tests.support.fake_chat_completions import FakeChatCompletions
    from tests.support.fake_gemini import FakeGemini
    from tests.support.fake_llm import Failure, Rule, Shell, Text
    from tests.support.fake_openai_responses import FakeResponses
    from tests.support.program_rigs import VERSIONS, find_program, prepare_aider, prepare_codex, prepare_gemini

    # kind: (fake API, prepare, approval text, approve keys, error text, interrupt keys, interrupted text)
    programs = {
        "codex": (FakeResponses, prepare_codex, "Would you like to run", ["Enter"], "■ {", ["Escape"], "Conversation interrupted"),
        "gemini": (FakeGemini, prepare_gemini, "Allow execution", ["Enter"], "API Error", ["Escape"], "Request cancelled"),
        "aider": (FakeChatCompletions, prepare_aider, "Run shell command?", ["y", "Enter"], "BadRequestError", ["C-c"], "again to exit"),
    }
    cycles = 2 if quick else 5
    rows: list[list[str]] = []
    for kind, (fake, prepare, approval, approve, error, interrupt, interrupted) in programs.items():
        if find_program(kind) is None:
            rows.append([f"{kind}: skipped (not installed; scripts/test installs it)", "", "", "", ""])
            continue
        print(f"bench: real {kind} {VERSIONS[kind]}", file=sys.stderr, flush=True)
        patterns = watch.compile_patterns({s: list(p) for s, p in config_mod.load(None, builtin_only=True).agents[kind].screen.items()})
        repo = sandbox.repo(f"program-{kind}")
        with fake(default=Text("OK.")) as api:
            server = sandbox.server(repo)
            server.run("set-option", "-g", "@agents-spawn-target", "window")
            rig = prepare(server, api, SimpleNamespace(path=repo))
            agent = server.agents("spawn", "--agent", kind, "Say hello", "--pane", server.origin, "-d").stdout.strip()
            pane = next(line.split()[0] for line in server.run("list-panes", "-a", "-F", "#{pane_id} #{@agent_name}").splitlines()
                        if line.endswith(" " + agent))

            bench = BenchPane(server, pane, kind, patterns, until_timeout=90)

            def below(text: str) -> Callable[[str], str]:
                return lambda screen: screen.rpartition(text)[2]

            bench.until("idle")
            time.sleep(1)
            bench.start_poller()
            try:
                for i in range(cycles):
                    answer = f"Finished cycle {i}."
                    api.add(
                        Rule.when(f"Make marker{i}", Shell(f"touch marker{i}.txt"), times=1),
                        Rule.after_tool(Text(f"Made marker {i}."), times=1),
                        # Slow enough for a screen read to see it working first (Aider has no hooks).
                        Rule.when(f"Answer {i}", Text(answer), delay=2.5, times=1),
                        Rule.when(f"Fail {i}", Failure(400, "Simulated failure"), times=1),
                        Rule.when(f"Think {i}", Text("Too late."), delay=60.0, times=1),
                    )
                    rig.type(pane, f"Make marker{i}")
                    bench.observe("approval drawn → waiting", lambda s, p=f"Make marker{i}": approval in below(p)(s), "⏳", "waiting")
                    rig.keys(pane, *approve)
                    bench.until("idle")
                    time.sleep(1)
                    rig.type(pane, f"Answer {i}")
                    bench.until("working")  # so the idle that follows is this turn's end
                    bench.observe("answer drawn → idle", lambda s, a=answer: a in s, "✓", "idle")
                    time.sleep(1)
                    rig.type(pane, f"Fail {i}")
                    bench.observe("error drawn → error", lambda s, p=f"Fail {i}": error in below(p)(s), "⚠", "error")
                    time.sleep(1)
                    rig.type(pane, f"Think {i}")
                    bench.until("working")
                    time.sleep(2.5)  # long enough for the once-a-second poller to see the turn working
                    rig.keys(pane, *interrupt)
                    bench.observe("interrupt drawn → idle", lambda s, p=f"Think {i}": interrupted in below(p)(s), "✓", "idle")
                    time.sleep(1)
            except BaseException as exc:  # noqa: BLE001 - one program's failure (a test rig's Failed too) must not lose the others' rows
                if isinstance(exc, KeyboardInterrupt):
                    raise
                rows.append([f"{kind}: failed ({str(exc).splitlines()[0][:120]})", "", "", "", ""])
            finally:
                bench.stop_poller()
                server.kill()
        rows += latency_rows(f"{kind} {VERSIONS[kind]}", bench.results)
    report.table(
        "9. Real Codex, Gemini CLI and Aider: event on screen → state in the status line",
        ["Program, event → state", "agents.tmux median", "worst", "1 s poller median", "worst"],
        rows,
        f"{cycles} cycles per program, each a command approved, an answer, a failed turn (HTTP 400 from the fake API) and "
        "an interrupt (Esc; Ctrl+C for Aider). Counted as in section 8, from the first poll whose screen shows the event; "
        "negative: the status line showed the state first (a hook fired before the program drew it). Codex and Gemini "
        "report approvals and answers through hooks; their denials, errors and interrupts, and everything of Aider's, "
        "come from the screen watcher (with hooks it wants the screen steady for 0.4 s once it showed the hooks' state, 1.5 s before, before overriding them).",
    )
