"""Bad input: one clear line, a non-zero exit, nothing created half-way, nothing run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import Repo, Tmux, read_standin_log, wait_for


def snapshot(repo: Repo, tmux: Tmux) -> tuple[list[str], list[Path], list[str], list[str]]:
    """Branches, worktrees, agent panes and registry files: what a failure must not change."""
    registry = sorted(str(p) for p in Path(tmux.env["XDG_STATE_HOME"]).rglob("registry.json"))
    agent_panes = [line for line in tmux.run("list-panes", "-a", "-F", "#{@agent_name}").split() if line]
    return repo.branches(), repo.worktrees(), agent_panes, registry


def assert_one_line_error(proc, *words: str) -> None:
    assert proc.returncode != 0
    err = proc.stderr.strip()
    assert err.count("\n") == 0, f"expected one line, got: {err!r}"
    assert "Traceback" not in err
    for word in words:
        assert word in err, f"{word!r} not in {err!r}"


def test_not_inside_a_git_repository(tmux: Tmux, repo: Repo, standin_agent: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "not-a-repo"
    elsewhere.mkdir()
    before = snapshot(repo, tmux)
    proc = tmux.agents("spawn", "do things", "--dir", str(elsewhere), check=False)
    assert_one_line_error(proc, "not inside a git repository")
    assert snapshot(repo, tmux) == before


def test_bare_repository(tmux: Tmux, repo: Repo, standin_agent: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    repo.git("clone", "-q", "--bare", str(repo.path), str(bare))
    proc = tmux.agents("spawn", "do things", "--dir", str(bare), check=False)
    assert_one_line_error(proc, "bare repository")
    assert not (tmp_path / "bare.agents").exists()


def test_repository_without_commits(tmux: Tmux, repo: Repo, standin_agent: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    repo.git("init", "-q", cwd=empty)
    proc = tmux.agents("spawn", "do things", "--dir", str(empty), check=False)
    assert_one_line_error(proc, "no commits")
    assert not (tmp_path / "empty.agents").exists()
    assert repo.git("branch", "--list", cwd=empty) == ""


@pytest.mark.parametrize("task,message", [("", "empty"), ("   ", "empty"), ("?!... ---", "no letters or digits")])
def test_task_without_a_name(tmux: Tmux, repo: Repo, standin_agent: Path, task: str, message: str) -> None:
    before = snapshot(repo, tmux)
    proc = tmux.agents("spawn", task, check=False)
    assert_one_line_error(proc, message)
    assert snapshot(repo, tmux) == before


def test_no_task_at_all(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    proc = tmux.agents("spawn", check=False)
    assert_one_line_error(proc, "say what the agent should do")


def test_very_long_task_is_capped(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    task = "refactor the " + "very " * 80 + "long module"
    name = tmux.agents("spawn", task, "-d").stdout.strip()
    assert len(name) <= 48 and name.startswith("refactor-the-very")
    assert not name.endswith("-")
    assert f"agent/{name}" in repo.branches()
    wait_for(lambda: any(e.get("prompt") == task for e in read_standin_log(tmux.env)), message="the whole task to reach the agent")


def test_unicode_task(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    name = tmux.agents("spawn", "Café: résumé 修复登录 ✨", "-d").stdout.strip()
    assert name == "cafe-resume-修复登录"
    assert f"agent/{name}" in repo.branches()


def test_unknown_agent_kind_and_bad_base(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    before = snapshot(repo, tmux)
    assert_one_line_error(tmux.agents("spawn", "x", "--agent", "nope", check=False), "unknown agent kind 'nope'")
    assert_one_line_error(tmux.agents("spawn", "x", "--base", "no-such-ref", check=False), "no-such-ref")
    assert_one_line_error(tmux.agents("spawn", "x", "--base=--upload-pack=touch", check=False), "not a valid base")
    assert snapshot(repo, tmux) == before


def test_no_tmux_server(test_env: dict[str, str], repo: Repo) -> None:
    import subprocess

    from conftest import AGENTS

    proc = subprocess.run(
        [str(AGENTS), "-L", "agents-test-nobody-here", "spawn", "x"], env=test_env, cwd=repo.path,
        capture_output=True, text=True, check=False,
    )
    assert_one_line_error(proc, "no tmux server")


def test_config_errors_name_file_line_and_key(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    config = repo.path / ".agents.toml"
    before = snapshot(repo, tmux)
    config.write_text('[defaults]\nbranch_prefix = "a/"\nmax_agents = "four"\n')
    assert_one_line_error(tmux.agents("spawn", "x", check=False), str(config), "line 3", "defaults.max_agents", "whole number")
    config.write_text('[defaults]\nspawn_target = "diagonal"\n')
    assert_one_line_error(tmux.agents("spawn", "x", check=False), "line 2", "defaults.spawn_target", "split-h")
    config.write_text('[defaults]\nbranch_prefix = \n')
    assert_one_line_error(tmux.agents("spawn", "x", check=False), str(config), "line 2")
    config.write_text('[agents.claude]\nprompt = "shout"\n')
    assert_one_line_error(tmux.agents("spawn", "x", check=False), "agents.claude.prompt", "line 2")
    config.write_text('[defualts]\nagent = "claude"\n')
    assert_one_line_error(tmux.agents("spawn", "x", check=False), "defualts", "unknown section")
    assert snapshot(repo, tmux) == before


def test_explicit_config_env_var_missing_file(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    proc = tmux.agents("spawn", "x", check=False, env={"AGENTS_TMUX_CONFIG": "/nonexistent/agents.toml"})
    assert_one_line_error(proc, "AGENTS_TMUX_CONFIG", "/nonexistent/agents.toml")


METACHARACTER_TASKS = [
    '"; rm -rf ~ #',
    "$(touch {marker})",
    "`touch {marker}`",
    "#{{pane_id}} #(touch {marker})",
    "fix it; kill-server ;",
    "'quote; touch {marker}",
    "a\\b $HOME ~ ; touch {marker} ;",
]


@pytest.mark.parametrize("template", METACHARACTER_TASKS)
def test_metacharacters_reach_the_agent_as_text(tmux: Tmux, repo: Repo, standin_agent: Path, tmp_path: Path, template: str) -> None:
    marker = tmp_path / "pwned"
    task = template.format(marker=marker)
    name = tmux.agents("spawn", task, "-d").stdout.strip()
    assert name and "/" not in name
    start = wait_for(
        lambda: next((e for e in read_standin_log(tmux.env) if e["event"] == "start"), None), message="the agent to start"
    )
    assert start["prompt"] == task
    pane = tmux.run("list-panes", "-a", "-F", "#{pane_id} #{@agent_name}").split("\n")
    pane_id = next(line.split()[0] for line in pane if line.endswith(" " + name))
    assert tmux.option(pane_id, "@agent_task") == task
    listed = json.loads(tmux.agents("list", "--json").stdout)
    assert listed[0]["task"] == task
    assert not marker.exists()
    assert (Path(tmux.env["HOME"])).exists()
