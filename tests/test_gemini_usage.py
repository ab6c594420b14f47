"""Usage figures with the real Gemini CLI: the chat file's token counts are what the plugin shows.

The fake Gemini API reports known usage (cached and thinking tokens included);
after each turn (Gemini's AfterAgent hook) the agent's pane options and
`agents usage --json` must equal the sums of the chat's replies (each reply id
once), worked out here independently.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Repo, Tmux

from tests.support.fake_gemini import FakeGemini
from tests.support.fake_llm import Text
from tests.support.program_rigs import needs, prepare_gemini

pytestmark = needs("gemini")


@pytest.fixture
def api() -> Iterator[FakeGemini]:
    with FakeGemini(default=Text("OK.")) as server:
        server.usage = lambda n: {"promptTokenCount": 12000 + n, "cachedContentTokenCount": 8000 + n,
                                  "candidatesTokenCount": 25 + n, "thoughtsTokenCount": 7, "totalTokenCount": 12032 + 2 * n}
        yield server


def chat_sums(path: Path) -> list[int]:
    """Uncached input, output (thinking included), cache write, cache read over the chat's replies."""
    replies: dict[str, dict[str, int]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry.get("type") == "gemini" and entry.get("tokens"):
            replies[entry["id"]] = entry["tokens"]
    sums = [0, 0, 0, 0]
    for t in replies.values():
        sums[0] += t["input"] - t.get("cached", 0) + t.get("tool", 0)
        sums[1] += t["output"] + t.get("thoughts", 0)
        sums[3] += t.get("cached", 0)
    return sums


def figures(tmux: Tmux, pane: str) -> list[int]:
    names = ("@agent_tokens_in", "@agent_tokens_out", "@agent_tokens_cache_write", "@agent_tokens_cache_read")
    return [int(tmux.option(pane, name) or -1) for name in names]


def test_gemini_usage_equals_the_chat(api: FakeGemini, tmux: Tmux, repo: Repo) -> None:
    rig = prepare_gemini(tmux, api, repo)
    name, pane = rig.spawn("Count the gemini tokens")
    rig.wait_state(pane, "idle")
    chat = Path(rig.wait(lambda: tmux.option(pane, "@agent_transcript"), pane, "@agent_transcript"))
    rig.wait(lambda: figures(tmux, pane)[3] > 0 and figures(tmux, pane) == chat_sums(chat), pane, "the chat's usage")
    first = figures(tmux, pane)
    assert first[3] >= 8000 and first[1] >= 25 + 7  # cached input apart, thinking counted as output

    rig.type(pane, "Count again")
    rig.wait(lambda: figures(tmux, pane)[3] > first[3] and figures(tmux, pane) == chat_sums(chat), pane, "the second turn's usage")
    row = next(r for r in json.loads(tmux.agents("usage", "--json").stdout)["rows"] if r["agent"] == name)
    assert [row[k] for k in ("input", "output", "cache_write", "cache_read")] == chat_sums(chat)
