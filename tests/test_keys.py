"""The spawn key, pressed for real: a tmux client attached in a pseudo-terminal (pexpect)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest

from conftest import PREFIX, Repo, Tmux, agent_panes, agent_start, expect_text, server_processes, wait_for


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


def test_a_cancelled_prompt_leaves_no_spawn_behind(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    # The spawn starts as the prompt opens (it gets ready while the task is typed).
    client.send(PREFIX)
    client.send("A")
    client.expect("task:")
    client.send("never mind")
    wait_for(lambda: _waiting_pids(tmux), timeout=30, message="the spawn waiting for Enter")
    client.send("\x1b")  # Escape: the prompt closes, no Enter will come
    press_spawn_key(client, "the real one")
    panes = wait_for(lambda: agent_panes(tmux), message="the agent pane")
    assert list(panes) == ["the-real-one"]
    # The first prompt's spawn ended when the second prompt opened: nothing waits any more.
    wait_for(lambda: not _waiting_pids(tmux), timeout=30, message="no spawn left waiting")
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


# -- the spawn key under faults and races: two clients, double presses, kills ----------------------------------


def _waiting_pids(tmux: Tmux) -> list[int]:
    """Pids of this server's spawn-key processes (the ones started as the prompt opens)."""
    return list(server_processes(tmux, lambda words: b"--key-token" in words))


def _flush(child: pexpect.spawn) -> None:
    try:
        while child.read_nonblocking(65536, timeout=0.3):
            pass
    except pexpect.TIMEOUT:
        pass


def _clients(tmux: Tmux, count: int, attach: Callable[..., pexpect.spawn]) -> list[pexpect.spawn]:
    tmux.load_plugin()
    children = []
    for _ in range(count):
        children.append(attach())
        wait_for(lambda: len(tmux.run("list-clients", "-F", "#{client_name}").split()) == len(children), message="the clients")
    return children


def _open_prompt(child: pexpect.spawn) -> None:
    _flush(child)
    child.send(PREFIX)
    child.send("A")
    child.expect("task:")


def _tasks(tmux: Tmux) -> dict[str, str]:
    return {name: tmux.option(pane, "@agent_task") for name, pane in agent_panes(tmux).items()}


def test_prefix_A_pressed_twice_at_once_opens_one_prompt_and_its_task_is_spawned(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    # Both presses start a spawn before either prompt is drawn; tmux shows the first prompt only.
    # Whichever spawn got ready last must not be the only one left listening.
    # A loaded machine: scripts/ask-task takes a while before its prompt opens (its first tmux call is held).
    tmux.run("set-hook", "-g", "after-display-message", "run-shell 'sleep 0.4'")
    for round_ in range(4):
        _flush(client)
        # Apart enough not to count as a paste (assume-paste-time), close enough to beat the first prompt.
        client.send(PREFIX + "A")
        time.sleep(0.05)
        client.send(PREFIX + "A")
        client.expect("task:")
        time.sleep(2.0)  # both spawns ready, each on its own prompt
        client.send(f"round {round_}\r")
        wait_for(lambda: f"round-{round_}" in agent_panes(tmux), timeout=30, message=f"the agent of round {round_}")
        tmux.run("select-pane", "-t", tmux.panes()[0])
    wait_for(lambda: not _waiting_pids(tmux), timeout=30, message="no spawn left waiting")
    assert sorted(_tasks(tmux).values()) == [f"round {i}" for i in range(4)]
    assert not [b for b in tmux.run("list-buffers", "-F", "#{buffer_name}").split() if b.startswith("agents-task")]


def test_a_cancelled_prompt_ends_its_spawn_at_once(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    _open_prompt(client)
    client.send("never mind")
    wait_for(lambda: _waiting_pids(tmux), timeout=30, message="the spawn waiting for Enter")
    client.send("\x1b")
    # No other prompt opens: the Escape alone ends it (a Python process per cancelled prompt otherwise).
    wait_for(lambda: not _waiting_pids(tmux), timeout=5, message="the cancelled prompt's spawn to end")
    assert agent_panes(tmux) == {} and repo.branches() == ["main"]


def test_the_spawn_killed_while_the_task_is_typed_keeps_the_task_and_says_so(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    _open_prompt(client)
    (waiter,) = wait_for(lambda: _waiting_pids(tmux), timeout=30, message="the spawn waiting for Enter")
    os.kill(waiter, signal.SIGKILL)
    client.send("Fix the 'quoted' #{pane_id} ; thing\r")
    expect_text(client, "agents-task buffer")
    assert tmux.run("show-buffer", "-b", "agents-task") == "Fix the 'quoted' #{pane_id} ; thing"
    assert agent_panes(tmux) == {} and len(tmux.panes()) == 1
    assert tmux.run("list-buffers", "-F", "#{buffer_name}").split() == ["agents-task"]


def test_the_spawn_killed_while_it_makes_the_agent_closes_its_pane_and_keeps_the_task(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    marker = repo.path.parent / "checking-out"
    hook = repo.path / ".git" / "hooks" / "post-checkout"
    hook.write_text(f'#!/bin/sh\ntouch "{marker}"\nsleep 4\n')
    hook.chmod(0o755)
    _open_prompt(client)
    (waiter,) = wait_for(lambda: _waiting_pids(tmux), timeout=30, message="the spawn waiting for Enter")
    client.send("Slow checkout\r")
    wait_for(marker.exists, timeout=30, message="the checkout to start")
    assert len(tmux.panes()) == 2  # the placeholder
    os.kill(waiter, signal.SIGKILL)
    wait_for(lambda: len(tmux.panes()) == 1, timeout=10, message="the placeholder pane to close")
    expect_text(client, "agents-task buffer")
    assert tmux.run("show-buffer", "-b", "agents-task") == "Slow checkout"
    assert agent_panes(tmux) == {}


def test_killing_the_server_ends_a_waiting_spawn(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    _open_prompt(client)
    client.send("half typed")
    wait_for(lambda: _waiting_pids(tmux), timeout=30, message="the spawn waiting for Enter")
    tmux.run("kill-server")
    wait_for(lambda: not _waiting_pids(tmux), timeout=10, message="the waiting spawn to end with its server")


def test_two_clients_over_the_cap_at_once_each_start_their_own_task_on_yes(tmux: Tmux, repo: Repo, standin_agent: Path, attach: Callable[..., pexpect.spawn]) -> None:
    tmux.run("set-option", "-g", "@agents-max", "1")
    tmux.run("set-option", "-g", "@agents-focus", "off")
    one, two = _clients(tmux, 2, attach)
    tmux.agents("spawn", "already running", "-d")
    _open_prompt(one)
    _open_prompt(two)
    wait_for(lambda: len(_waiting_pids(tmux)) == 2, timeout=30, message="both spawns waiting for Enter")
    one.send("alpha task")
    two.send("beta task")
    time.sleep(0.5)
    one.send("\r")
    two.send("\r")
    expect_text(one, "Start one more")
    expect_text(two, "Start one more")
    one.send("y")
    wait_for(lambda: len(agent_panes(tmux)) == 2, timeout=30, message="the first yes")
    two.send("y")
    wait_for(lambda: len(agent_panes(tmux)) == 3, timeout=30, message="the second yes")
    assert sorted(_tasks(tmux).values()) == ["alpha task", "already running", "beta task"]


def test_two_clients_at_once_under_a_cap_of_one_start_one_and_ask_the_other(tmux: Tmux, repo: Repo, standin_agent: Path, attach: Callable[..., pexpect.spawn]) -> None:
    tmux.run("set-option", "-g", "@agents-max", "1")
    tmux.run("set-option", "-g", "@agents-focus", "off")
    clients = _clients(tmux, 2, attach)
    for child in clients:
        _open_prompt(child)
    wait_for(lambda: len(_waiting_pids(tmux)) == 2, timeout=30, message="both spawns waiting for Enter")
    clients[0].send("task one")
    clients[1].send("task two")
    time.sleep(0.5)
    clients[0].send("\r")
    clients[1].send("\r")
    wait_for(lambda: agent_panes(tmux), timeout=30, message="one agent")
    seen = ["", ""]

    def asked() -> int | None:
        for i, child in enumerate(clients):
            try:
                seen[i] += child.read_nonblocking(65536, timeout=0.1)
            except pexpect.TIMEOUT:
                pass
            if "Start one more" in seen[i]:
                return i + 1
        return None

    which = wait_for(asked, timeout=30, message="the other client asked") - 1
    assert len(agent_panes(tmux)) == 1
    started = list(_tasks(tmux).values())
    assert started == [f"task {('one', 'two')[1 - which]}"]
    clients[which].send("y")
    wait_for(lambda: len(agent_panes(tmux)) == 2, timeout=30, message="the yes")
    assert sorted(_tasks(tmux).values()) == ["task one", "task two"]
    wait_for(lambda: not _waiting_pids(tmux), timeout=30, message="no spawn left waiting")


def test_a_task_over_4000_characters_is_refused_and_kept(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    task = ("#{pane_id} \"q\" 'q' ; $HOME " * 200)[:4001].strip()
    assert len(task) > 4000
    _open_prompt(client)
    client.send(task)
    time.sleep(1.0)
    client.send("\r")
    expect_text(client, "longer than 4000")
    assert tmux.run("show-buffer", "-b", "agents-task") == task
    assert agent_panes(tmux) == {}


def test_the_spawn_key_does_not_go_through_the_users_shell_after_the_prompt(tmux: Tmux, repo: Repo, client: pexpect.spawn, tmp_path: Path) -> None:
    # A default-shell that is not bash: only tmux's run-shell of the binding may use it.
    log = tmp_path / "shell.log"
    shell = tmp_path / "myshell"
    shell.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec /bin/dash "$@"\n')
    shell.chmod(0o755)
    tmux.run("set-option", "-g", "default-shell", str(shell))
    press_spawn_key(client, "Shell check")
    panes = wait_for(lambda: agent_panes(tmux), timeout=30, message="the agent pane")
    assert list(panes) == ["shell-check"]
    used = log.read_text() if log.exists() else ""
    assert "starting" not in used and "--key-token" not in used, used


def test_a_client_that_goes_with_its_prompt_open_leaves_nothing_running(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    # tmux never ends the `command-prompt` of a client that detached: the waiting spawn ends it, and itself.
    _open_prompt(client)
    client.send("half typed")
    wait_for(lambda: _waiting_pids(tmux), timeout=30, message="the spawn waiting for Enter")

    def prompts() -> list[int]:
        return list(server_processes(tmux, lambda words: b"command-prompt" in words))

    assert prompts()
    tmux.run("detach-client", "-s", "main")
    wait_for(lambda: not _waiting_pids(tmux) and not prompts(), timeout=40, message="the spawn and its prompt to end")
    assert tmux.run("list-buffers", "-F", "#{buffer_name}", check=False).strip() == ""


def test_the_cap_question_leaves_no_process_waiting_for_the_answer(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    # tmux 3.3 holds a confirm-before until it is answered, forever if the client goes: nothing may wait on it.
    tmux.run("set-option", "-g", "@agents-max", "1")
    tmux.agents("spawn", "already running", "-d")
    press_spawn_key(client, "one more")
    expect_text(client, "Start one more")
    wait_for(lambda: not _waiting_pids(tmux), timeout=10, message="the spawn to end once it asked")
    tmux.run("detach-client", "-s", "main")
    assert len(agent_panes(tmux)) == 1
    assert tmux.run("show-buffer", "-b", "agents-task") == "one more"


def test_a_spawn_that_cannot_start_at_all_keeps_the_task_and_says_so(tmux: Tmux, repo: Repo, client: pexpect.spawn, tmp_path: Path) -> None:
    # A broken Python environment: the spawn started with the prompt exits at once, before Enter.
    scripts = tmp_path / "plugin" / "scripts"
    scripts.mkdir(parents=True)
    for name in ("ask-task", "variables.sh"):
        (scripts / name).write_bytes((Path(__file__).parent.parent / "scripts" / name).read_bytes())
        (scripts / name).chmod(0o755)
    (scripts / "agents").write_text("#!/bin/sh\nsleep 0.2\nexit 3\n")
    (scripts / "agents").chmod(0o755)
    tmux.run("bind-key", "-T", "prefix", "A", "run-shell", "-b", f"'{scripts / 'ask-task'}' '#{{pane_id}}' '#{{client_name}}'")
    press_spawn_key(client, "Keep this; #{pane_id}")
    expect_text(client, "failed (exit status 3)")
    assert tmux.run("show-buffer", "-b", "agents-task") == "Keep this; #{pane_id}"
    assert tmux.run("list-buffers", "-F", "#{buffer_name}").split() == ["agents-task"]
