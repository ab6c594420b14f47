"""The spawn key, pressed for real: a tmux client attached in a pseudo-terminal (pexpect)."""

from __future__ import annotations

from pathlib import Path

import pexpect
import pytest

from conftest import PREFIX, Repo, Tmux, agent_panes, agent_start, expect_text, wait_for


def press_spawn_key(child: pexpect.spawn, task: str) -> None:
    # What an earlier prompt drew must not pass for this one (it opens after a repository check).
    try:
        while child.read_nonblocking(65536, timeout=0.3):
            pass
    except pexpect.TIMEOUT:
        pass
    child.send(PREFIX)
    child.send("A")
    child.expect("task:")
    child.send(task)
    child.send("\r")


def test_prefix_A_spawns_an_agent(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    origin = tmux.panes()[0]
    press_spawn_key(client, "Fix the login redirect")
    panes = wait_for(lambda: agent_panes(tmux), message="the agent pane")
    assert list(panes) == ["fix-the-login-redirect"]
    pane = panes["fix-the-login-redirect"]
    worktree = repo.path.parent / "project.agents" / "fix-the-login-redirect"
    assert worktree.is_dir()
    assert "agent/fix-the-login-redirect" in repo.branches()
    assert tmux.display("#{pane_current_path}", pane) == str(worktree)
    assert tmux.display("#{window_id}", pane) == tmux.display("#{window_id}", origin)
    for option in ("@agent_branch", "@agent_worktree", "@agent_repo", "@agent_kind", "@agent_state"):
        assert tmux.option(pane, option), option
    start = agent_start(tmux.env)
    assert start["cwd"] == str(worktree)
    assert start["prompt"] == "Fix the login redirect"
    # The task buffer is consumed, and the new pane has the focus.
    assert "agents-task" not in tmux.run("list-buffers", "-F", "#{buffer_name}")
    wait_for(lambda: tmux.display("#{pane_id}") == pane, message="focus on the new pane")


@pytest.mark.parametrize(
    "template",
    ['"; rm -rf ~ #', "$(touch {marker})", "`touch {marker}`", "#{{pane_id}} #(touch {marker})", "'quote", "a;b ; run-shell 'touch {marker}' ;", "~ $HOME \\"],
)
def test_typed_metacharacters_stay_text(tmux: Tmux, repo: Repo, client: pexpect.spawn, tmp_path: Path, template: str) -> None:
    marker = tmp_path / "pwned"
    task = template.format(marker=marker)
    press_spawn_key(client, task)
    start = agent_start(tmux.env)
    assert start["prompt"] == task
    assert not marker.exists()
    (name,) = agent_panes(tmux)
    assert tmux.option(agent_panes(tmux)[name], "@agent_task") == task


def test_bad_task_from_the_key_shows_one_line_and_creates_nothing(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    branches = repo.branches()
    press_spawn_key(client, "!!!")
    client.expect("no letters or digits")
    assert agent_panes(tmux) == {}
    assert repo.branches() == branches
    assert len(tmux.panes()) == 1


def test_cap_asks_before_spawning_one_more(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    tmux.run("set-option", "-g", "@agents-max", "1")
    press_spawn_key(client, "first")
    wait_for(lambda: len(agent_panes(tmux)) == 1, message="the first agent")
    tmux.run("select-pane", "-t", tmux.panes()[0])
    press_spawn_key(client, "second")
    client.expect("Start one more")
    client.send("n")
    assert len(agent_panes(tmux)) == 1
    press_spawn_key(client, "second")
    client.expect("Start one more")
    client.send("y")
    wait_for(lambda: len(agent_panes(tmux)) == 2, message="the second agent after confirming")
    assert "second" in agent_panes(tmux)


def test_prefix_A_outside_a_repository_says_so_before_asking(tmux: Tmux, repo: Repo, client: pexpect.spawn, tmp_path: Path) -> None:
    elsewhere = tmp_path / "not-a-repo"
    elsewhere.mkdir()
    tmux.run("new-window", "-c", str(elsewhere))
    wait_for(lambda: tmux.display("#{pane_current_path}") == str(elsewhere), message="the new window to be current")
    client.send(PREFIX)
    client.send("A")
    expect_text(client, "is not in a git repository")
    # Said before any prompt opened (before, the prompt came first and the typed task was lost).
    assert agent_panes(tmux) == {}
    assert tmux.run("show-buffer", "-b", "agents-task", check=False) == ""


def test_prefix_A_keeps_a_trailing_semicolon(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    # From pane %1: the prompt's template must not read the pane id as its first answer.
    origin = tmux.run("split-window", "-P", "-F", "#{pane_id}", "-c", str(repo.path)).strip()
    assert origin == "%1"
    press_spawn_key(client, "Fix it;")
    panes = wait_for(lambda: agent_panes(tmux), message="the agent pane")
    assert tmux.option(panes["fix-it"], "@agent_task") == "Fix it;"
    assert tmux.display("#{window_id}", panes["fix-it"]) == tmux.display("#{window_id}", origin)
