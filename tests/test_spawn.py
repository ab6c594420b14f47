"""`agents spawn` from the command line: worktree, branch, pane, options, the agent running."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

from conftest import PLAIN_AGENT, STANDIN, Repo, Tmux, agent_start, first_pane, pane_of, wait_for


def test_spawn_creates_worktree_branch_pane_and_starts_agent(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    origin = first_pane(tmux)
    out = tmux.agents("spawn", "Fix the login redirect", "--pane", origin)
    name = out.stdout.strip()
    assert name == "fix-the-login-redirect"

    worktree = repo.path.parent / "project.agents" / name
    assert worktree.is_dir() and (worktree / "app.py").is_file()
    assert "agent/fix-the-login-redirect" in repo.branches()
    assert worktree in repo.worktrees()
    assert repo.git("rev-parse", "--abbrev-ref", "HEAD", cwd=worktree).strip() == "agent/fix-the-login-redirect"

    pane = pane_of(tmux, name)
    assert tmux.option(pane, "@agent_branch") == "agent/fix-the-login-redirect"
    assert tmux.option(pane, "@agent_worktree") == str(worktree)
    assert tmux.option(pane, "@agent_repo") == str(repo.path)
    assert tmux.option(pane, "@agent_kind") == "claude"
    assert tmux.option(pane, "@agent_task") == "Fix the login redirect"
    assert tmux.display("#{pane_current_path}", pane) == str(worktree)
    assert tmux.display("#{pane_title}", pane) == name
    # Split of the origin's window, side by side by default.
    assert tmux.display("#{window_id}", pane) == tmux.display("#{window_id}", origin)
    assert tmux.display("#{pane_left}", pane) != tmux.display("#{pane_left}", origin)

    start = agent_start(tmux.env, name)
    assert start["cwd"] == str(worktree)
    assert start["prompt"] == "Fix the login redirect"
    assert start["tmux_pane"] == pane
    # Claude's hooks come from a generated settings file, never the user's own.
    settings = start["argv"][start["argv"].index("--settings") + 1]
    assert Path(settings).is_file() and "agents-tmux" in settings
    assert not (Path(tmux.env["HOME"]) / ".claude" / "settings.json").exists()
    assert not (worktree / ".claude").exists()


def test_first_state_is_starting(tmux: Tmux, repo: Repo) -> None:
    # An agent that never reports anything, nor shows a known screen, stays "starting".
    (repo.path / ".agents.toml").write_text('[agents.quiet]\ncommand = ["sleep", "30"]\nprompt = "none"\n')
    name = tmux.agents("spawn", "quiet one", "--agent", "quiet", "--pane", first_pane(tmux)).stdout.strip()
    pane = pane_of(tmux, name)
    assert tmux.option(pane, "@agent_state") == "starting"
    assert int(tmux.option(pane, "@agent_state_since")) > 0


def test_same_task_twice_gets_a_numbered_branch(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    first = tmux.agents("spawn", "Add tests", "-d").stdout.strip()
    second = tmux.agents("spawn", "Add tests", "-d").stdout.strip()
    assert (first, second) == ("add-tests", "add-tests-2")
    assert {"agent/add-tests", "agent/add-tests-2"} <= set(repo.branches())


def test_existing_branch_or_folder_is_never_reused(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    repo.git("branch", "agent/refactor")
    (repo.path.parent / "project.agents" / "refactor-2").mkdir(parents=True)
    (repo.path.parent / "project.agents" / "refactor-2" / "keep.txt").write_text("mine")
    name = tmux.agents("spawn", "Refactor", "-d").stdout.strip()
    assert name == "refactor-3"
    assert repo.git("rev-parse", "agent/refactor").strip() == repo.git("rev-parse", "main").strip()
    assert (repo.path.parent / "project.agents" / "refactor-2" / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("target,expect", [("split-v", "below"), ("window", "window"), ("split-h", "right")])
def test_spawn_targets(tmux: Tmux, repo: Repo, standin_agent: Path, target: str, expect: str) -> None:
    origin = first_pane(tmux)
    name = tmux.agents("spawn", f"target {target}", "--target", target, "--pane", origin).stdout.strip()
    pane = pane_of(tmux, name)
    if expect == "window":
        assert tmux.display("#{window_id}", pane) != tmux.display("#{window_id}", origin)
        assert tmux.display("#{window_name}", pane) == name
    elif expect == "below":
        assert tmux.display("#{pane_top}", pane) != tmux.display("#{pane_top}", origin)
        assert tmux.display("#{pane_left}", pane) == tmux.display("#{pane_left}", origin)
    else:
        assert tmux.display("#{pane_left}", pane) != tmux.display("#{pane_left}", origin)


def test_target_option_in_tmux_overrides_default(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    tmux.run("set-option", "-g", "@agents-spawn-target", "window")
    origin = first_pane(tmux)
    name = tmux.agents("spawn", "in a window", "--pane", origin).stdout.strip()
    assert tmux.display("#{window_id}", pane_of(tmux, name)) != tmux.display("#{window_id}", origin)


def test_base_ref_and_list(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    (repo.path / "feature.txt").write_text("f")
    repo.git("add", ".")
    repo.git("commit", "-q", "-m", "feature")
    repo.git("checkout", "-q", "main")
    name = tmux.agents("spawn", "on feature", "--base", "feature", "-d").stdout.strip()
    worktree = repo.path.parent / "project.agents" / name
    assert (worktree / "feature.txt").exists()
    listed = json.loads(tmux.agents("list", "--json").stdout)
    assert [a["name"] for a in listed] == [name]
    assert listed[0]["base"] == "feature"
    assert listed[0]["branch"] == "agent/on-feature"
    assert listed[0]["worktree"] == str(worktree)
    assert listed[0]["pane_id"].startswith("%")
    table = tmux.agents("list").stdout
    assert name in table and "agent/on-feature" in table


def test_spawn_from_a_linked_worktree_uses_the_main_repository(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    first = tmux.agents("spawn", "first", "-d").stdout.strip()
    inner = repo.path.parent / "project.agents" / first
    second = tmux.agents("spawn", "second", "-d", "--dir", str(inner)).stdout.strip()
    assert (repo.path.parent / "project.agents" / second).is_dir()
    assert tmux.option(pane_of(tmux, second), "@agent_repo") == str(repo.path)


def test_copy_files_and_setup_from_repo_config(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    (repo.path / ".env").write_text("SECRET=1\n")
    (repo.path / ".agents.toml").write_text('[defaults]\nsetup = "touch setup-ran"\ncopy_files = [".env"]\n')
    name = tmux.agents("spawn", "with setup", "-d").stdout.strip()
    worktree = repo.path.parent / "project.agents" / name
    assert (worktree / ".env").read_text() == "SECRET=1\n"
    wait_for(lambda: (worktree / "setup-ran").exists(), message="the setup command")
    agent_start(tmux.env, name)


def test_agent_exit_leaves_a_shell_in_the_worktree(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    name = tmux.agents("spawn", "exit soon", "-d").stdout.strip()
    pane = pane_of(tmux, name)
    agent_start(tmux.env, name)
    tmux.run("send-keys", "-t", pane, "/exit", "Enter")
    wait_for(lambda: tmux.option(pane, "@agent_state") == "exited", message="state exited")
    assert pane in tmux.panes()
    wait_for(lambda: "is now a shell" in tmux.capture(pane), message="the exit message")
    tmux.run("send-keys", "-t", pane, "pwd > where.txt", "Enter")
    worktree = repo.path.parent / "project.agents" / name
    wait_for(
        lambda: (worktree / "where.txt").exists() and (worktree / "where.txt").read_text().strip() == str(worktree),
        message="the shell to run pwd in the worktree",
    )


def test_agent_not_installed_is_refused_before_anything_is_made(tmux: Tmux, repo: Repo) -> None:
    tmux.run("set-option", "-g", "@agents-command", "no-such-agent-xyz")
    panes_before = tmux.panes()
    proc = tmux.agents("spawn", "missing agent", "-d", check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "'no-such-agent-xyz'" in proc.stderr and "not installed" in proc.stderr
    assert tmux.panes() == panes_before
    assert repo.branches() == ["main"] and repo.worktrees() == [repo.path]
    assert not (repo.path.parent / "project.agents").exists() or not any((repo.path.parent / "project.agents").iterdir())


def test_agent_that_vanished_after_the_spawn_says_so_and_pane_stays(tmux: Tmux, repo: Repo, tmp_path: Path) -> None:
    # restore and restart start the program later: run-agent still says so in the pane.
    program = tmp_path / "short-lived-agent"
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o755)
    tmux.run("set-option", "-g", "@agents-command", str(program))
    name = tmux.agents("spawn", "missing agent", "-d").stdout.strip()
    pane = pane_of(tmux, name)
    wait_for(lambda: tmux.option(pane, "@agent_state") == "exited", message="the agent to exit")
    program.unlink()
    tmux.agents("restart", name)
    wait_for(lambda: "not installed" in tmux.run("capture-pane", "-pJ", "-t", pane), message="the not-installed message")
    assert pane in tmux.panes()


def test_plain_agent_kind_from_config(tmux: Tmux, repo: Repo) -> None:
    (repo.path / ".agents.toml").write_text(
        f'[agents.plain]\ncommand = ["{PLAIN_AGENT}"]\nprompt = "arg"\n[agents.plain.screen]\nworking = ["esc to interrupt"]\nidle = ["for shortcuts"]\n'
    )
    name = tmux.agents("spawn", "plain work", "--agent", "plain", "-d").stdout.strip()
    pane = pane_of(tmux, name)
    assert tmux.option(pane, "@agent_kind") == "plain"
    start = agent_start(tmux.env, name)
    assert start["program"] == "plain-agent"
    assert "--settings" not in start["argv"]
    assert start["prompt"] == "plain work"


def test_concurrent_spawns_of_the_same_task_get_distinct_branches(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    results: list[subprocess.CompletedProcess[str]] = []

    def go() -> None:
        results.append(tmux.agents("spawn", "Same task", "-d", check=False))

    threads = [threading.Thread(target=go) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    names = sorted(r.stdout.strip() for r in results if r.returncode == 0)
    assert names == ["same-task", "same-task-2", "same-task-3"], [r.stderr for r in results]
    for name in names:
        path = repo.path.parent / "project.agents" / name
        assert repo.git("status", "--porcelain", cwd=path) == ""
    assert len(repo.worktrees()) == 4
    repo.git("worktree", "list")  # git itself finds every worktree sound


def test_agent_command_and_cli_on_path_in_new_panes(tmux: Tmux, repo: Repo) -> None:
    tmux.load_plugin()
    path = tmux.run("show-environment", "-g", "PATH").strip()
    bin_dir = path.split("=", 1)[1].split(":")[0]
    assert os.path.realpath(os.path.join(bin_dir, "agents")) == os.path.realpath(STANDIN.parents[2] / "scripts" / "agents")
