"""Usage figures with the real Claude Code: what the fake API reports is what the plugin shows.

The fake API answers every main-conversation request with known usage numbers
(different for each reply). After each turn (Claude's Stop hook) the agent's
pane options, `agents list`, `agents list --json`, `agents usage --json` and the
`#{agents_usage}` segment must equal the sums of the transcript Claude wrote,
worked out here independently (each reply id once), which must equal what the
fake API answered.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo, Tmux, first_pane, pane_of

from agents_tmux.config import DEFAULTS_FILE
from agents_tmux.usage import context_window

from tests.support.claude_rig import (  # noqa: F401 (claude_build: a fixture)
    ClaudeBuild,
    ClaudeRig,
    claude_build,
    needs_claude,
    prepare_rig,
    trusted_folders,
)
from tests.support.fake_api import FakeAnthropic, Reply, ToolUse

pytestmark = needs_claude

SLOW = 40.0
#: The built-in [prices] table (a user's own config does not reach the test).
DEFAULT_PRICES = tomllib.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))["prices"]
#: Opus prices of the default [prices] table (claude-opus-4*, and claude-opus* for newer ones), USD per million tokens.
OPUS = (5.0, 25.0, 6.25, 0.5)


def known_usage(n: int, body: dict[str, Any]) -> dict[str, int]:
    """Distinct, known numbers for the n-th message the fake API answers."""
    del body
    return {"input_tokens": 100 + n, "output_tokens": 10 + n, "cache_creation_input_tokens": 2000 + n,
            "cache_read_input_tokens": 30000 + 100 * n}


@pytest.fixture
def rig(tmux: Tmux, repo: Repo, claude_build: ClaudeBuild) -> Any:
    """Each installed Claude Code in turn (the pinned one and the newest)."""
    with FakeAnthropic(default="OK.", usage=known_usage) as api:
        yield prepare_rig(tmux, api, trusted_folders(repo), claude_build)


def transcript_sums(path: Path) -> tuple[list[int], str, int]:
    """Input, output, cache write, cache read over the replies (each id once), the last model and context."""
    replies: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry.get("type") == "assistant" and "usage" in entry.get("message", {}):
            replies[entry["message"]["id"]] = entry["message"]
    sums = [0, 0, 0, 0]
    last: dict[str, Any] = {}
    for message in replies.values():
        u = message["usage"]
        for i, key in enumerate(("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")):
            sums[i] += u.get(key, 0)
        last = message
    lu = last["usage"]
    return sums, last["model"], lu["input_tokens"] + lu["cache_creation_input_tokens"] + lu["cache_read_input_tokens"]


def answered(api: FakeAnthropic) -> list[int]:
    """The sums of the usage the fake API reported for the main conversation."""
    sums = [0, 0, 0, 0]
    for entry in api.log:
        if entry.main and entry.usage:
            for i, key in enumerate(("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")):
                sums[i] += entry.usage[key]
    return sums


def pane_figures(tmux: Tmux, pane: str) -> list[int]:
    names = ("@agent_tokens_in", "@agent_tokens_out", "@agent_tokens_cache_write", "@agent_tokens_cache_read")
    return [int(tmux.option(pane, name) or -1) for name in names]


def check_figures(rig: ClaudeRig, pane: str, name: str, transcript: Path, replies: int) -> list[int]:
    """Wait for the figures of ``replies`` replies, then compare every place that shows them."""
    tmux = rig.tmux
    rig.wait(lambda: len([e for e in rig.api.log if e.main]) >= replies and pane_figures(tmux, pane) == answered(rig.api),
             pane, f"the usage of {replies} replies on the pane", timeout=SLOW)
    sums, model, context = transcript_sums(transcript)
    assert pane_figures(tmux, pane) == sums == answered(rig.api)
    assert int(tmux.option(pane, "@agent_tokens")) == sum(sums)
    cost = sum(count * price for count, price in zip(sums, OPUS)) / 1_000_000
    assert tmux.option(pane, "@agent_cost") == f"{cost:.4f}"
    assert tmux.option(pane, "@agent_model") == model
    assert int(tmux.option(pane, "@agent_context_tokens")) == context
    window = context_window(model, DEFAULT_PRICES)  # the default [prices] row's context_window
    assert tmux.option(pane, "@agent_context_pct") == str(round(context * 100 / window))

    listed = json.loads(tmux.agents("list", "--json").stdout)
    mine = next(a for a in listed if a["name"] == name)
    assert (mine["tokens_in"], mine["tokens_out"], mine["tokens_cache_write"], mine["tokens_cache_read"]) == tuple(sums)
    assert mine["cost"] == pytest.approx(cost, abs=1e-4) and mine["context_pct"] == round(context * 100 / window)
    table = tmux.agents("list").stdout
    assert "TOKENS" in table and f"${cost:.2f}" in table

    report = json.loads(tmux.agents("usage", "--json").stdout)
    row = next(r for r in report["rows"] if r["agent"] == name)
    assert [row[k] for k in ("input", "output", "cache_write", "cache_read")] == sums
    assert row["cost"] == pytest.approx(cost, abs=1e-4) and report["cost_is_estimate"] is True
    return sums


def test_usage_shown_equals_the_transcript_sums(rig: ClaudeRig, repo: Repo) -> None:
    tmux = rig.tmux
    tmux.run("set-option", "-g", "status-right", "#{agents_usage}")
    tmux.load_plugin()
    name = tmux.agents("spawn", "Count the tokens", "--pane", first_pane(tmux)).stdout.strip()
    pane = pane_of(tmux, name)
    rig.wait_state(pane, "idle", timeout=SLOW)
    transcript = Path(rig.wait(lambda: tmux.option(pane, "@agent_transcript"), pane, "@agent_transcript"))
    first = check_figures(rig, pane, name, transcript, 1)
    # The segment: the live agents' tokens and estimated cost ("✓ 1" is the state segment the plugin adds).
    segment = f"{sum(first) / 1000:.1f}k ~${sum(c * p for c, p in zip(first, OPUS)) / 1_000_000:.2f}"
    rig.wait(lambda: tmux.status_right().strip() == f"✓ 1 {segment}", pane, f"the usage segment {segment!r}")

    # A second turn: the hook reads only what it added, and the figures follow.
    tmux.run("send-keys", "-t", pane, "-l", "Now count again")
    tmux.run("send-keys", "-t", pane, "Enter")
    rig.main_request_with("Now count again", timeout=SLOW)
    second = check_figures(rig, pane, name, transcript, 2)
    assert second[0] > first[0]
    segment = f"{sum(second) / 1000:.1f}k ~${sum(c * p for c, p in zip(second, OPUS)) / 1_000_000:.2f}"
    rig.wait(lambda: tmux.status_right().strip() == f"✓ 1 {segment}", pane, f"the usage segment {segment!r}")

    # A reply of two content blocks (text, then a tool use) is written as two transcript
    # lines with one id: it counts once. Then the tool's result and a closing reply.
    readme = repo.path.parent / "project.agents" / name / "README.md"
    rig.api.add(Reply.when("Read the readme", ToolUse("Read", {"file_path": str(readme)}, preface="Let me look.")),
                Reply.after_tool("Read it."))
    tmux.run("send-keys", "-t", pane, "-l", "Read the readme")
    tmux.run("send-keys", "-t", pane, "Enter")
    rig.wait(lambda: "Do you want to proceed" in rig.screen(pane) or len([e for e in rig.api.log if e.main]) >= 4,
             pane, "the tool's use", timeout=SLOW)
    if "Do you want to proceed" in rig.screen(pane):
        tmux.run("send-keys", "-t", pane, "Enter")
    check_figures(rig, pane, name, transcript, 4)
    ids = [json.loads(line)["message"]["id"] for line in transcript.read_text().splitlines()
           if json.loads(line).get("type") == "assistant"]
    assert len(ids) > len(set(ids))  # one reply really was written over two lines
