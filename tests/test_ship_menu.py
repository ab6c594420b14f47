"""The menu's road from an agent's work to its base: sync, pull request, park, chosen with real keys."""

from __future__ import annotations

from collections.abc import Callable

import pexpect
from conftest import PREFIX, Repo, Tmux, agent_panes, client_name, commit_in, expect_text, wait_for
from test_lifecycle import quiet, registry_entry, spawn  # noqa: F401 - fixture


def test_menu_syncs_and_parks_the_current_agent_and_shows_its_pull_request(
    tmux: Tmux, quiet: Repo, attach: Callable[..., pexpect.spawn]
) -> None:
    tmux.load_plugin()
    name, worktree = spawn(tmux, "Menu road")
    pane = agent_panes(tmux)[name]
    actions = tmux.agents("menu", "--print", "--agent", name).stdout
    labels = {line.split("\t")[0]: line.split("\t")[1] for line in actions.splitlines()}
    assert labels["s"].startswith("Sync") and labels["p"].startswith("Pull request") and labels["P"].startswith("Park")
    assert "pull request:" not in actions
    tmux.run("set-option", "-p", "-t", pane, "@agent_pr", "https://github.com/example/project/pull/9")
    assert "pull request: https://github.com/example/project/pull/9" in tmux.agents("menu", "--print", "--agent", name).stdout

    commit_in(quiet, quiet.path, "base.txt", "base\n", "New on main")
    client = attach(timeout=15)
    tmux.run("select-pane", "-t", pane)
    # prefix + a, x (actions on this agent), s (sync): the base's commit arrives in the worktree.
    client.send(PREFIX)
    client.send("a")
    expect_text(client, "Actions on")
    client.send("x")
    expect_text(client, "Sync with its base")
    client.send("s")
    wait_for(lambda: (worktree / "base.txt").exists(), timeout=20, message="the sync from the menu")
    # P, then y at the confirmation: parked.
    client.send(PREFIX)
    client.send("a")
    expect_text(client, "Actions on")
    client.send("x")
    expect_text(client, "Park (saves its work")
    client.send("P")
    expect_text(client, "Park " + name)
    client.send("y")
    wait_for(lambda: registry_entry(tmux, name).get("status") == "parked", timeout=20, message="the park from the menu")
    assert not worktree.exists() and name not in agent_panes(tmux)


def test_menu_lists_the_parked_agents_and_unparks_the_one_chosen(
    tmux: Tmux, quiet: Repo, attach: Callable[..., pexpect.spawn]
) -> None:
    tmux.load_plugin()
    name, worktree = spawn(tmux, "Park then menu")
    other, other_tree = spawn(tmux, "Stays parked")
    # No parked agent: no entry.
    assert "Parked agents" not in tmux.agents("menu", "--print").stdout
    (worktree / "wip.txt").write_text("saved by park\n")
    for agent in (other, name):
        tmux.agents("park", agent)
    entries = [line.split("\t") for line in tmux.agents("menu", "--print").stdout.splitlines()]
    assert [key for key, label, _ in entries if label.startswith("Parked agents (2): unpark")] == ["U"]
    parked = [line.split("\t") for line in tmux.agents("menu", "--print", "--parked").stdout.splitlines()]
    assert [(key, label.split()[0]) for key, label, _ in parked] == [("1", name), ("2", other)]
    assert all(f"agent/{label.split()[0]}" in label and "parked " in label for _, label, _ in parked)

    # The window opens in the session of the client that chose it.
    tmux.run("new-session", "-d", "-s", "elsewhere")
    client = attach(timeout=15)
    tmux.run("switch-client", "-c", client_name(tmux), "-t", "elsewhere")
    # prefix + a, U (the parked agents, by name), 1: that one comes back, and says so on the status line.
    client.send(PREFIX)
    client.send("a")
    expect_text(client, "Parked agents (2)")
    client.send("U")
    expect_text(client, "choose one to unpark")
    client.send("1")
    pane = wait_for(lambda: agent_panes(tmux).get(name), timeout=20, message="the agent unparked from the menu")
    expect_text(client, f"unparked {name}")
    assert registry_entry(tmux, name)["status"] == "active"
    assert (worktree / "wip.txt").read_text() == "saved by park\n"
    assert tmux.display("#{session_name}", pane) == "elsewhere"
    assert registry_entry(tmux, other)["status"] == "parked" and not other_tree.exists()
    assert [label.split()[0] for _, label, _ in
            (line.split("\t") for line in tmux.agents("menu", "--print", "--parked").stdout.splitlines())] == [other]
