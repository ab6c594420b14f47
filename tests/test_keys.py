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


def _waiting_spawns(tmux: Tmux) -> list[str]:
    """Command lines of the spawn key's processes still waiting for an Enter, on this test's server."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            words = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"--key-token" in words and tmux.socket.encode() in environ:
            found.append(" ".join(w.decode(errors="replace") for w in words))
    return found


def test_a_cancelled_prompt_leaves_no_spawn_behind(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    # The spawn starts as the prompt opens (it gets ready while the task is typed).
    client.send(PREFIX)
    client.send("A")
    client.expect("task:")
    client.send("never mind")
    wait_for(lambda: _waiting_spawns(tmux), timeout=30, message="the spawn waiting for Enter")
    client.send("\x1b")  # Escape: the prompt closes, no Enter will come
    press_spawn_key(client, "the real one")
    panes = wait_for(lambda: agent_panes(tmux), message="the agent pane")
    assert list(panes) == ["the-real-one"]
    # The first prompt's spawn ended when the second prompt opened: nothing waits any more.
    wait_for(lambda: not _waiting_spawns(tmux), timeout=30, message="no spawn left waiting")
    assert list(agent_panes(tmux)) == ["the-real-one"]
    assert [b for b in repo.branches() if b.startswith("agent/")] == ["agent/the-real-one"]


def test_a_refused_spawn_keeps_the_typed_task(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    # Found while the task is typed, said after Enter: the typed task stays in a buffer.
    tmux.run("set-option", "-g", "@agents-command", "no-such-agent-program --flag")
    branches = repo.branches()
    press_spawn_key(client, "Fix the flaky test")
    expect_text(client, "no-such-agent-program")
    assert tmux.run("show-buffer", "-b", "agents-task") == "Fix the flaky test"
    assert agent_panes(tmux) == {}
    assert repo.branches() == branches
    assert len(tmux.panes()) == 1


def test_the_pane_shows_before_the_worktree_is_ready(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    # A checkout that takes seconds (a large repository): the pane is there, saying so, all along.
    marker = repo.path.parent / "checking-out"
    hook = repo.path / ".git" / "hooks" / "post-checkout"
    hook.write_text(f'#!/bin/sh\ntouch "{marker}"\nsleep 3\n')
    hook.chmod(0o755)
    origin = set(tmux.panes())
    press_spawn_key(client, "Big checkout")
    wait_for(marker.exists, timeout=30, message="the checkout to start")
    new = set(tmux.panes()) - origin
    assert len(new) == 1, "the pane opens before the worktree is made"
    (pane,) = new
    assert "starting big-checkout" in tmux.run("capture-pane", "-p", "-t", pane)
    assert agent_panes(tmux) == {}
    # Then the agent replaces the placeholder, in the same pane, in its worktree.
    panes = wait_for(lambda: agent_panes(tmux), timeout=30, message="the agent")
    assert panes == {"big-checkout": pane}
    start = agent_start(tmux.env)
    assert start["cwd"] == str(repo.path.parent / "project.agents" / "big-checkout")
