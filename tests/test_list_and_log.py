"""`agents list` with wide characters and numbers in --json; `agents log` as a conversation (issue 12, point 6)."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

from conftest import Repo, Tmux, pane_of, wait_for


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def test_list_aligns_wide_characters_and_json_has_numbers(tmux: Tmux, repo: Repo) -> None:
    tmux.run("set-option", "-g", "@agents-command", "sleep")
    tmux.run("new-session", "-d", "-s", "🚀火箭", "-c", str(repo.path))
    rocket_pane = tmux.run("list-panes", "-t", "=🚀火箭:", "-F", "#{pane_id}").split()[0]
    tmux.agents("spawn", "修复登录页面", "-d")
    tmux.agents("spawn", "fix login", "-d", "--pane", rocket_pane)
    table = tmux.agents("list").stdout.splitlines()
    header, rows = table[0], table[1:]
    assert len(rows) == 2 and any(row.startswith("修复登录页面") for row in rows), table
    for column in ("STATE", "FOR", "KIND", "BRANCH", "PANE", "WORKTREE"):
        start = header.index(column)
        for row in rows:
            # The text before the column takes exactly as many terminal cells as in the header.
            cells = 0
            for index, char in enumerate(row):
                if cells == start:
                    assert row[index - 2:index] == "  " and char != " ", (column, row)
                    break
                cells += _width(char)
            else:
                raise AssertionError(f"{column} not aligned in {row!r}")

    listed = json.loads(tmux.agents("list", "--json").stdout)
    for agent in listed:
        assert isinstance(agent["state_since"], int) and agent["state_since"] > 1_600_000_000
        assert isinstance(agent["window_index"], int) and isinstance(agent["pane_pid"], int)
        assert isinstance(agent["name"], str)
    assert {agent["name"] for agent in listed} == {"修复登录页面", "fix-login"}
    # `sleep TASK` fails at once: the exit status is a pane fact, a number as the others.
    wait_for(lambda: all(a["state"] == "exited" for a in json.loads(tmux.agents("list", "--json").stdout)), message="both to exit")
    for agent in json.loads(tmux.agents("list", "--json").stdout):
        assert agent["exit_status"] == 1, agent


def test_log_renders_the_conversation_and_raw_gives_the_file(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    name = tmux.agents("spawn", "Explain the parser", "-d").stdout.strip()
    pane = pane_of(tmux, name)
    wait_for(lambda: tmux.option(pane, "@agent_state") == "working", timeout=30, message="the agent working")
    tmux.run("send-keys", "-t", pane, "/done", "Enter")
    wait_for(lambda: tmux.option(pane, "@agent_state") == "idle", timeout=30, message="the agent idle")
    shown = tmux.agents("log", name).stdout
    assert shown == "user: Explain the parser\nassistant: Done: Explain the parser\n"
    raw = tmux.agents("log", name, "--raw").stdout
    path = Path(tmux.agents("log", name, "--path").stdout.strip())
    assert raw == path.read_text() and all(json.loads(line) for line in raw.splitlines())


def test_log_shows_a_transcript_its_adapter_does_not_render_as_it_is(tmux: Tmux, repo: Repo) -> None:
    """Codex's rollout is not Claude's transcript: shown as it is, not as an empty conversation."""
    config = Path(tmux.env["XDG_CONFIG_HOME"]) / "agents-tmux" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    # Codex's adapter, a command that ignores Codex's arguments and waits.
    config.write_text('[agents.cx]\ncommand = ["sh", "-c", "sleep 600", "sh"]\nprogram = "codex"\n')
    name = tmux.agents("spawn", "Read the rollout", "-d", "--agent", "cx").stdout.strip()
    pane = pane_of(tmux, name)
    rollout = Path(tmux.env["HOME"]) / ".codex" / "sessions" / "2026" / "12" / "01" / "rollout-2026-12-01T04-18-17-01a2.jsonl"
    rollout.parent.mkdir(parents=True)
    rollout.write_text(
        json.dumps({"type": "turn_context", "payload": {"model": "gpt-5-codex"}}) + "\n"
        + json.dumps({"type": "response_item", "payload": {"type": "message", "role": "user", "content": [{"text": "Read"}]}}) + "\n"
    )
    tmux.run("set-option", "-p", "-t", pane, "@agent_transcript", str(rollout))
    assert tmux.agents("log", name, "--path").stdout.strip() == str(rollout)
    assert tmux.agents("log", name).stdout == rollout.read_text()


def test_log_renders_claudes_transcript_when_the_config_cannot_say_whose_it_is(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    name = tmux.agents("spawn", "Explain the lexer", "-d").stdout.strip()
    pane = pane_of(tmux, name)
    wait_for(lambda: tmux.option(pane, "@agent_state") == "working", timeout=30, message="the agent working")
    tmux.run("send-keys", "-t", pane, "/done", "Enter")
    wait_for(lambda: tmux.option(pane, "@agent_state") == "idle", timeout=30, message="the agent idle")
    config = Path(tmux.env["XDG_CONFIG_HOME"]) / "agents-tmux" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[agents\n")  # no longer loads: the transcript's path tells its program
    assert tmux.agents("log", name).stdout == "user: Explain the lexer\nassistant: Done: Explain the lexer\n"
