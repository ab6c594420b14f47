"""Usage figures with the real Codex CLI: the rollout's token counts are what the plugin shows.

The fake Responses API reports known usage (cached input included in the input,
as the API does); after each turn (Codex's Stop hook) the agent's pane options
and `agents usage --json` must equal the sums of the rollout's
`token_usage_record` lines, worked out here independently.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Repo, Tmux

from tests.support.fake_llm import Text
from tests.support.fake_openai_responses import FakeResponses
from tests.support.program_rigs import MODEL, ProgramRig, needs, prepare_codex

pytestmark = needs("codex")


@pytest.fixture
def api() -> Iterator[FakeResponses]:
    with FakeResponses(default=Text("OK.")) as server:
        server.usage = lambda n: {"input_tokens": 9000 + n, "cached_tokens": 6000 + n, "output_tokens": 30 + n}
        yield server


def rollout_sums(path: Path) -> list[int]:
    """Uncached input, output, cache write, cache read over the rollout's responses."""
    sums = [0, 0, 0, 0]
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry.get("type") == "token_usage_record":
            u = entry["payload"]["usage"]
            sums[0] += u["input_tokens"] - u["cached_input_tokens"] - u.get("cache_write_input_tokens", 0)
            sums[1] += u["output_tokens"]
            sums[2] += u.get("cache_write_input_tokens", 0)
            sums[3] += u["cached_input_tokens"]
    return sums


def figures(tmux: Tmux, pane: str) -> list[int]:
    names = ("@agent_tokens_in", "@agent_tokens_out", "@agent_tokens_cache_write", "@agent_tokens_cache_read")
    return [int(tmux.option(pane, name) or -1) for name in names]


def test_codex_usage_equals_the_rollout(api: FakeResponses, tmux: Tmux, repo: Repo) -> None:
    rig: ProgramRig = prepare_codex(tmux, api, repo)
    name, pane = rig.spawn("Count the codex tokens")
    rig.wait_state(pane, "idle")
    rollout = Path(rig.wait(lambda: tmux.option(pane, "@agent_transcript"), pane, "@agent_transcript"))
    assert rollout.name.startswith("rollout-")
    rig.wait(lambda: figures(tmux, pane)[3] > 0 and figures(tmux, pane) == rollout_sums(rollout), pane, "the rollout's usage")
    first = figures(tmux, pane)
    assert first[3] >= 6000 and first[0] >= 3000  # cached input is counted apart from the rest

    rig.type(pane, "Count again")
    rig.wait(lambda: figures(tmux, pane)[3] > first[3] and figures(tmux, pane) == rollout_sums(rollout), pane, "the second turn's usage")
    sums = rollout_sums(rollout)
    assert tmux.option(pane, "@agent_model") == MODEL and tmux.option(pane, "@agent_cost") == ""  # no price for it
    assert int(tmux.option(pane, "@agent_context_pct")) > 0
    row = next(r for r in json.loads(tmux.agents("usage", "--json").stdout)["rows"] if r["agent"] == name)
    assert [row[k] for k in ("input", "output", "cache_write", "cache_read")] == sums and row["cost"] is None
