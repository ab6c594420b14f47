"""prefix + J (jump to the agent waiting longest) and prefix + a (the agents menu), pressed for real."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest
from conftest import PREFIX, Repo, Tmux, agent_panes, attach_client, client_name, expect_text, first_pane, read_standin_log, wait_for
from test_state import send, spawn, wait_state


@pytest.fixture
def client(tmux: Tmux, standin_agent: Path, attach: Callable[..., pexpect.spawn]) -> pexpect.spawn:
    """A real client attached to the test server (15 s expect timeout), with the plugin loaded."""
    tmux.load_plugin()
    return attach(timeout=15)


def shown(tmux: Tmux) -> str:
    """The pane the (only) client shows."""
    return tmux.run("list-clients", "-F", "#{pane_id}").strip()


def press(child: pexpect.spawn, key: str) -> None:
    child.send(PREFIX)
    child.send(key)


def test_prefix_J_jumps_to_the_waiting_agent_and_cycles(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    origin = first_pane(tmux)
    press(client, "J")
    expect_text(client, "no agent is waiting")
    assert shown(tmux) == origin

    _, pane_a = spawn(tmux, "alpha task")
    name_b, pane_b = spawn(tmux, "beta task", "--target", "window")
    wait_state(tmux, pane_a, "working")
    wait_state(tmux, pane_b, "working")
    send(tmux, pane_b, "/tool")
    wait_state(tmux, pane_b, "waiting")
    press(client, "J")
    wait_for(lambda: shown(tmux) == pane_b, message="the jump to the waiting agent in another window")
    expect_text(client, f"{name_b} waiting")

    # A second one waits (later): J cycles B -> A -> B.
    b_since = int(tmux.option(pane_b, "@agent_state_since"))
    wait_for(lambda: int(time.time()) > b_since, message="the next second")
    send(tmux, pane_a, "/tool")
    wait_state(tmux, pane_a, "waiting")
    press(client, "J")
    wait_for(lambda: shown(tmux) == pane_a, message="the jump to the next waiting agent")
    press(client, "J")
    wait_for(lambda: shown(tmux) == pane_b, message="the jump back to the first")


def test_prefix_a_opens_the_menu_and_choosing_jumps(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    name_a, pane_a = spawn(tmux, "alpha task")
    name_b, pane_b = spawn(tmux, "beta task", "--target", "window")
    wait_state(tmux, pane_a, "working")
    send(tmux, pane_b, "/tool")
    wait_state(tmux, pane_b, "waiting")

    # The entries, most urgent first (the waiting agent is key 1).
    entries = [line.split("\t") for line in tmux.agents("menu", "--print").stdout.splitlines()]
    agents = [(key, label) for key, label, _ in entries[:2]]
    assert agents[0][0] == "1" and name_b in agents[0][1] and "⏳" in agents[0][1] and "agent/beta-task" in agents[0][1]
    assert agents[1][0] == "2" and name_a in agents[1][1] and "⚙" in agents[1][1]
    assert "Spawn agent…" in [label for _, label, _ in entries]

    press(client, "a")
    expect_text(client, name_b)
    expect_text(client, "Spawn agent")
    client.send("1")
    wait_for(lambda: shown(tmux) == pane_b, message="the jump to the chosen agent")

    press(client, "a")
    expect_text(client, name_a)
    client.send("2")
    wait_for(lambda: shown(tmux) == pane_a, message="the jump to the second agent")


def test_menu_spawn_entry_uses_the_spawn_prompt(tmux: Tmux, repo: Repo, client: pexpect.spawn, tmp_path: Path) -> None:
    # The client sits on pane %1: the spawn command must not let the prompt read it as "%1".
    _, pane_a = spawn(tmux, "alpha task")
    assert pane_a == "%1"
    tmux.run("select-pane", "-t", pane_a)
    wait_for(lambda: shown(tmux) == pane_a, message="the client on %1")
    marker = tmp_path / "pwned"
    press(client, "a")
    expect_text(client, "Spawn agent")
    client.send("s")
    expect_text(client, "task:")
    task = f"from the menu $(touch {marker}) #{{pane_id}} ;"
    client.send(task)
    client.send("\r")

    def started() -> dict | None:
        return next((e for e in read_standin_log(tmux.env) if e["event"] == "start" and e["prompt"] == task), None)

    start = wait_for(started, timeout=30, message="the agent spawned from the menu")
    assert "from-the-menu" in start["cwd"]
    assert not marker.exists()
    # It split the pane the menu was opened from (the agent's own window).
    new_pane = start["tmux_pane"]
    assert tmux.display("#{window_id}", new_pane) == tmux.display("#{window_id}", pane_a)


def test_menu_actions_of_the_current_agent(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    name, pane = spawn(tmux, "alpha task")
    out = tmux.agents("menu", "--print", "--pane", pane).stdout
    labels = [line.split("\t")[1] for line in out.splitlines()]
    assert f"Actions on {name}…" in labels
    # The actions menu lists only commands that exist in this installation.
    actions = tmux.agents("menu", "--print", "--agent", name).stdout
    assert actions.splitlines()[0].split("\t")[:2] == ["j", "Jump to it"]
    from agents_tmux.commands.menu import installed

    for command, label in (("diff", "Diff"), ("log", "Log"), ("rm", "Remove"), ("merge", "Merge"), ("restart", "Restart")):
        assert (label in actions) == installed(command), command
    # Opened from a key on the agent's pane, "x" opens it.
    tmux.run("select-pane", "-t", pane)
    press(client, "a")
    expect_text(client, "Actions on")
    client.send("x")
    expect_text(client, "Jump to it")
    client.send("\x1b")


def test_menu_and_jump_without_a_client(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    proc = tmux.agents("menu", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("agents menu: no tmux client is attached")
    out = tmux.agents("menu", "--print").stdout
    assert "no agents yet" in out
    proc = tmux.agents("menu", "--agent", "nobody", check=False)
    assert (proc.returncode, proc.stderr.strip()) == (1, "agents menu: no running agent is called 'nobody' (see `agents list`)")


def test_menu_caps_long_lists_to_the_client_height(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    # Thirty fake agents (pane options only) in a 20-row client: the menu keeps to the screen.
    for i in range(30):
        pane = tmux.run("split-window", "-d", "-t", "main", "-P", "-F", "#{pane_id}", "sleep 300").strip() if i < 5 else tmux.run(
            "new-window", "-d", "-t", "main", "-P", "-F", "#{pane_id}", "sleep 300"
        ).strip()
        for option, value in (("@agent_name", f"fake-{i:02d}"), ("@agent_state", "idle"), ("@agent_state_since", "1"), ("@agent_branch", f"agent/fake-{i:02d}")):
            tmux.run("set-option", "-p", "-t", pane, option, value)
    child = attach_client(tmux, size=(20, 120))
    try:
        out = tmux.agents("menu", "--print", "--client", client_name(tmux)).stdout.splitlines()
        agent_rows = [line for line in out if "fake-" in line.split("\t")[1] and not line.split("\t")[1].startswith("-")]
        assert 1 <= len(agent_rows) <= 10
        assert any("more: see agents list" in line for line in out)
        assert len(out) <= 20 - 2
        tmux.agents("menu", "--client", client_name(tmux))
    finally:
        child.terminate(force=True)


def test_a_failed_agent_needs_you_like_a_waiting_one(tmux: Tmux) -> None:
    """``error`` (a failed turn) is jumped to, listed first and counted in the status bar like ``waiting``."""
    states = {"done": ("idle", "10"), "asks": ("waiting", "200"), "failed": ("error", "100")}
    pane_of: dict[str, str] = {}
    for name, (state, since) in states.items():
        pane = tmux.run("new-window", "-d", "-t", "main", "-P", "-F", "#{pane_id}", "sleep 300").strip()
        for option, value in (("@agent_name", name), ("@agent_state", state), ("@agent_state_since", since), ("@agent_branch", f"agent/{name}")):
            tmux.run("set-option", "-p", "-t", pane, option, value)
        pane_of[name] = pane
    # The failed agent has waited longest (since 100 < 200): the jump goes there first.
    assert tmux.agents("jump", "--print").stdout.strip() == pane_of["failed"]
    rows = [line.split("\t")[1] for line in tmux.agents("menu", "--print").stdout.splitlines()]
    agent_rows = [row for row in rows if any(name in row for name in states)]
    assert [next(n for n in states if n in row) for row in agent_rows] == ["failed", "asks", "done"]
    assert agent_rows[0].startswith("⚠")
    tmux.run("set-option", "-g", "status-right", "#{agents_status}")
    tmux.load_plugin()
    assert " ".join(tmux.status_right().split()) == "⏳ 1 ⚠ 1 ✓ 1"


def test_menu_team_entry_asks_for_the_task(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    # With no agent yet: the menu's first entry is the greyed "-no agents yet", never read as a flag.
    press(client, "a")
    expect_text(client, "no agents yet")
    expect_text(client, "Start a team")
    client.send("t")
    expect_text(client, "team task:")
    client.send("menu team")
    client.send("\r")
    wait_for(lambda: len(agent_panes(tmux)) == 3, timeout=30, message="the team's three panes")
    assert {"agent/menu-team-planner", "agent/menu-team-coder"} <= set(repo.branches())
