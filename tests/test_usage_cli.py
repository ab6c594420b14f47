"""`agents usage`, the budgets (spawn refuses or asks) and the budget notice, with the stand-in Claude.

The stand-in fires Claude's hooks and writes a transcript; the test adds reply
lines with known usage to that transcript (in Claude's shape, see
test_usage_reader.reply) before the turn ends, so the real hook handler, the
background reader, the registry and the command line all run for real.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pexpect
import pytest
from conftest import PREFIX, Repo, Tmux, agent_panes, first_pane, pane_of, wait_for
from test_usage_reader import reply

from agents_tmux.usage import Tally

NOW = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
OLD = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 3 * 86400))


def spawn_standin(tmux: Tmux, task: str, *extra: str) -> tuple[str, str, Path]:
    """An agent running the stand-in; its name, pane and transcript (once SessionStart named it)."""
    name = tmux.agents("spawn", task, "--pane", first_pane(tmux), *extra).stdout.strip()
    pane = pane_of(tmux, name)
    transcript = Path(wait_for(lambda: tmux.option(pane, "@agent_transcript"), timeout=20, message="@agent_transcript"))
    wait_for(lambda: tmux.option(pane, "@agent_state") == "working", timeout=20, message="the first turn")
    return name, pane, transcript


def end_turn(tmux: Tmux, pane: str, transcript: Path, lines: str) -> None:
    """Write reply lines into the transcript, then let the stand-in finish its turn (Stop)."""
    wait_for(transcript.exists, timeout=20, message="the transcript")
    with transcript.open("a", encoding="utf-8") as handle:
        handle.write(lines)
    tmux.run("send-keys", "-t", pane, "-l", "/done")
    tmux.run("send-keys", "-t", pane, "Enter")
    wait_for(lambda: tmux.option(pane, "@agent_state") == "idle", timeout=20, message="the end of the turn")


def usage_json(tmux: Tmux, *args: str) -> dict:
    return json.loads(tmux.agents("usage", "--json", *args).stdout)


def test_usage_counts_every_conversation_removed_ones_included(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    name, pane, transcript = spawn_standin(tmux, "Sum the tokens")
    end_turn(tmux, pane, transcript, reply("msg_1", (100, 20, 1000, 5000), at=NOW)
             + reply("msg_2", (7, 3, 0, 0), model="claude-haiku-4-5", at=OLD))
    wait_for(lambda: tmux.option(pane, "@agent_tokens") == str(100 + 20 + 1000 + 5000 + 7 + 3),
             timeout=20, message="the pane's figures")
    # The menu shows them too: beside the agent, and in its own menu; it opens `agents usage`.
    entries = tmux.agents("menu", "--print").stdout.splitlines()
    assert any(e.startswith("u\tUsage and cost\t") and "usage" in e.split("\t")[2] for e in entries), entries
    label = next(line for line in entries if name in line).split("\t")[1]
    assert label.endswith("6.1k $0.01")
    assert "usage: 6.1k tokens (in 107, out 23, cache 6.0k), ~$0.01 (estimate), context 0%" in tmux.agents(
        "menu", "--print", "--agent", name).stdout
    # The agent goes; its conversation stays counted, but no longer in the live agents' segment.
    assert tmux.display("#{@agents_usage}") == "6.1k ~$0.01"
    tmux.agents("rm", name)
    assert name not in agent_panes(tmux, check=False)
    assert tmux.display("#{@agents_usage}") == ""

    report = usage_json(tmux)
    assert report["by"] == "agent" and report["cost_is_estimate"] is True and report["currency"] == "USD"
    opus = (100 * 5 + 20 * 25 + 1000 * 6.25 + 5000 * 0.5) / 1e6
    haiku = (7 * 1 + 3 * 5) / 1e6
    assert report["rows"] == [{
        "agent": name, "repo": "project", "input": 107, "output": 23, "cache_write": 1000, "cache_read": 5000,
        "total": 6130, "cost": round(opus + haiku, 4),
    }]
    by_model = {row["model"]: row["total"] for row in usage_json(tmux, "--by", "model")["rows"]}
    assert by_model == {"claude-opus-4-8": 6120, "claude-haiku-4-5": 10}
    assert [row["total"] for row in usage_json(tmux, "--by", "day")["rows"]] == [10, 6120]
    assert usage_json(tmux, "--by", "repo")["rows"][0]["repo"] == str(repo.path)
    recent = usage_json(tmux, "--since", "5h")
    assert recent["total"]["total"] == 6120 and recent["total"]["input"] == 100
    assert usage_json(tmux, "--since", "today")["total"]["total"] in (6120, 6120 + 10)

    table = tmux.agents("usage").stdout.splitlines()
    assert table[0].split() == ["AGENT", "REPO", "INPUT", "OUTPUT", "CACHE", "WRITE", "CACHE", "READ", "TOTAL", "COST", "(EST.)"]
    assert table[1].split()[:3] == [name, "project", "107"] and table[1].split()[-1] == f"${opus + haiku:.2f}"
    assert table[-1].startswith("costs are estimates")

    bad = tmux.agents("usage", "--since", "yesterday-ish", check=False)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "--since" in bad.stderr and "Traceback" not in bad.stderr


def spend(env: dict[str, str], tmp_path: Path, tokens: int) -> None:
    """Spending recorded as the hook records it: a tally of a transcript with one reply of ``tokens`` input tokens."""
    transcript = tmp_path / "earlier.jsonl"
    transcript.write_text(reply("msg_x", (tokens, 0, 0, 0), at=NOW))
    tally = Tally(str(transcript))
    tally.update()
    tally.save(str(Path(env["XDG_STATE_HOME"]) / "agents-tmux" / "usage"))


def budget_config(env: dict[str, str], text: str) -> None:
    path = Path(env["XDG_CONFIG_HOME"]) / "agents-tmux" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_spawn_refuses_near_a_budget_without_force(tmux: Tmux, repo: Repo, standin_agent: Path, tmp_path: Path) -> None:
    budget_config(tmux.env, "[budget]\ntokens_5h = 1000\n")
    spend(tmux.env, tmp_path, 950)
    branches = repo.branches()
    refused = tmux.agents("spawn", "One more", "--pane", first_pane(tmux), check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "agents spawn: 95% of the 5-hour token budget (950 of 1.0k tokens): use --force to start one more anyway "
        "(see `agents usage`)"
    )
    team = tmux.agents("team", "--task", "Plan it", check=False)
    assert team.returncode == 1 and "95% of the 5-hour token budget" in team.stderr and team.stderr.count("\n") == 1
    assert agent_panes(tmux, check=False) == {} and repo.branches() == branches
    # `agents usage` says where each budget stands.
    assert usage_json(tmux)["budgets"] == [{"budget": "5-hour token budget", "share": 0.95, "spent": 950.0, "limit": 1000.0}]
    assert "budget: 95% of the 5-hour token budget" in tmux.agents("usage").stdout

    # Under the share that counts as near, nothing is asked.
    budget_config(tmux.env, "[budget]\ntokens_5h = 1000\nwarn_percent = 96\n")
    name = tmux.agents("spawn", "Under the line", "--pane", first_pane(tmux)).stdout.strip()
    budget_config(tmux.env, "[budget]\ntokens_5h = 1000\n")
    forced = tmux.agents("spawn", "One more", "--pane", first_pane(tmux), "--force").stdout.strip()
    assert set(agent_panes(tmux)) == {name, forced}


def test_spawn_key_asks_near_a_budget(tmux: Tmux, repo: Repo, client: pexpect.spawn, tmp_path: Path) -> None:
    budget_config(tmux.env, "[budget]\ncost_day = 0.01\n")
    spend(tmux.env, tmp_path, 1900)  # 1900 Opus input tokens: $0.0095, 95% of a cent
    for answer, agents in (("n", 0), ("y", 1)):
        client.send(PREFIX)
        client.send("A")
        client.expect("task:")
        client.send("Spend more\r")
        client.expect("95% of the daily cost budget")
        client.expect(r"Start one more\? \(y/n\)")
        client.send(answer)
        wait_for(lambda: len(agent_panes(tmux, check=False)) == agents, timeout=20, message=f"{agents} agents after {answer!r}")
    assert list(agent_panes(tmux)) == ["spend-more"]


def test_crossing_a_budget_notifies_once(tmux: Tmux, repo: Repo, client: pexpect.spawn, tmp_path: Path) -> None:
    budget_config(tmux.env, "[budget]\ntokens_5h = 1000\n")
    tmux.run("set-option", "-g", "status-right", "#{agents_usage}")
    tmux.load_plugin()
    marker = tmp_path / "notified"
    tmux.run("set-option", "-g", "@agents-notify-command", f"echo >>{marker}")
    name, pane, transcript = spawn_standin(tmux, "Spend it all")
    end_turn(tmux, pane, transcript, reply("msg_1", (920, 0, 0, 0), at=NOW))
    wait_for(lambda: tmux.display("#{@agents_budget_level}") == "near", timeout=20, message="the near level")
    client.expect("agents: 92% of the 5-hour token budget \\(920 of 1.0k tokens\\)")  # on the attached client
    assert tmux.status_right().strip() == "✓ 1 920 ~$0.00 92% budget"
    # Near: said on the status line, no notification (the notify command only heard "done").
    assert "budget" not in wait_for(lambda: marker.exists() and marker.read_text(), timeout=20, message="done")

    tmux.run("send-keys", "-t", pane, "-l", "more")
    tmux.run("send-keys", "-t", pane, "Enter")
    wait_for(lambda: tmux.option(pane, "@agent_state") == "working", timeout=20, message="the second turn")
    end_turn(tmux, pane, transcript, reply("msg_2", (100, 0, 0, 0), at=NOW))
    wait_for(lambda: tmux.display("#{@agents_budget_level}") == "over", timeout=20, message="the over level")
    client.expect("is spent")
    assert tmux.status_right().strip() == "✓ 1 1.0k ~$0.01 102% budget"
    spent = "agents: 102% of the 5-hour token budget (1.0k of 1.0k tokens) is spent"
    wait_for(lambda: spent in marker.read_text(), timeout=20, message="the user's notify command")
    assert marker.read_text().count("budget") == 1


def test_bad_usage_config_and_damaged_tallies_get_one_line(tmux: Tmux, repo: Repo, tmp_path: Path) -> None:
    folder = Path(tmux.env["XDG_STATE_HOME"]) / "agents-tmux" / "usage"
    folder.mkdir(parents=True)
    (folder / "damaged-0000.json").write_text('{"version": 1, "transcript": ')  # cut short: read as nothing
    assert usage_json(tmux)["rows"] == []
    for text, expected in (
        ('[prices."claude-x*"]\ninput = "cheap"\n', "prices.claude-x*.input: expected a number, got 'cheap'"),
        ('[prices."claude-*-x"]\ninput = 1\n', "expected a model name, or a prefix ending in *"),
        ("[budget]\nwarn_percent = 150\n", "budget.warn_percent: expected a percentage from 1 to 100, got 150"),
        ("[budget]\ntokens_week = 5\n", "budget.tokens_week: unknown key"),
        ("[budget]\ncost_day = -1\n", "budget.cost_day: expected a number of at least 0, got -1"),
    ):
        budget_config(tmux.env, text)
        for argv in (["usage"], ["spawn", "x", "--pane", first_pane(tmux)]):
            proc = tmux.agents(*argv, check=False)
            assert proc.returncode == 1 and proc.stdout == "", proc.stderr
            assert proc.stderr.count("\n") == 1 and expected in proc.stderr, proc.stderr
    assert agent_panes(tmux, check=False) == {}


def test_a_repository_path_holding_separators_is_read_whole(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    """The end-of-turn reading counts lengths: a tab or \\x1f in a folder's name splits nothing."""
    name, pane, transcript = spawn_standin(tmux, "Odd folder")
    odd = f"{repo.path}\x1fx\ty"
    tmux.run("set-option", "-p", "-t", pane, "@agent_repo", odd)
    end_turn(tmux, pane, transcript, reply("msg_1", (10, 2, 0, 0), at=NOW))
    wait_for(lambda: tmux.option(pane, "@agent_tokens") == "12", timeout=20, message="the pane's figures")
    wait_for(lambda: tmux.display("#{@agents_usage}").startswith("12"), timeout=20, message="the live agents' segment")
    rows = wait_for(lambda: usage_json(tmux, "--by", "repo")["rows"], timeout=20, message="the usage rows")
    assert [row["repo"] for row in rows] == [odd]
    assert [row["agent"] for row in usage_json(tmux)["rows"]] == [name]


def test_usage_table_stays_aligned_with_wide_names(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    from agents_tmux.columns import display_width

    for task in ("修复登录页面 🚀", "fix it"):
        _, pane, transcript = spawn_standin(tmux, task)
        end_turn(tmux, pane, transcript, reply(f"msg_{len(task)}", (100, 20, 1000, 5000), at=NOW))
    wait_for(lambda: len(usage_json(tmux)["rows"]) == 2, timeout=20, message="both agents' usage")
    table = tmux.agents("usage").stdout.splitlines()
    body = table[: table.index(next(line for line in table if line.startswith("costs are estimates")))]
    assert any(line.startswith("修复登录页面") for line in body), body
    # Every line (header, rows, rule, total) ends in the right-aligned cost column: the same width on a terminal.
    assert len({display_width(line) for line in body}) == 1, body



def test_a_custom_kinds_unrecorded_transcript_is_found_through_its_program(
    tmux: Tmux, repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kind named otherwise than its program: `agents usage` asks the config which adapter finds the transcript."""
    from agents_tmux import registry

    budget_config(tmux.env, '[agents.my-claude]\ncommand = ["claude"]\nprogram = "claude"\n')
    session = "403be560-9d55-4a51-8a7b-0c9f1e2d3a4b"
    monkeypatch.setenv("XDG_STATE_HOME", tmux.env["XDG_STATE_HOME"])
    # Started before the entry existed, and no hook recorded the transcript since.
    registry.record(repo.path, {"name": "mine", "kind": "my-claude", "session_id": session,
                                "worktree": str(repo.path), "status": "active"})
    # Where Claude Code keeps it: ~/.claude/projects/<the worktree's path, - for every other character>/<id>.jsonl
    folder = Path(tmux.env["HOME"]) / ".claude" / "projects" / "".join(c if c.isalnum() else "-" for c in str(repo.path))
    folder.mkdir(parents=True)
    (folder / f"{session}.jsonl").write_text(
        json.dumps({"type": "user", "message": {"role": "user", "content": "Go"}}) + "\n" + reply("msg_1", (40, 2, 0, 0), at=NOW)
    )
    rows = usage_json(tmux)["rows"]
    assert [(r["agent"], r["input"], r["output"]) for r in rows] == [("mine", 40, 2)], rows
