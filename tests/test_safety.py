"""Nothing is lost: rm and prune never delete work, a branch or someone else's worktree.

Each test sets up a situation where a looser check would delete or rewrite
something (a tag named like the branch, a worktree folder that is no longer
a worktree inside another repository, an agent of the same name in another
repository, an agent running in another tmux server, a user's own worktree
next to the agents') and checks that it all stays.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Repo, Tmux, commit_in, stop_server


def spawn(tmux: Tmux, task: str, *extra: str, cwd: Path | None = None) -> tuple[str, str]:
    name = tmux.agents("spawn", task, "-d", *extra, cwd=cwd).stdout.strip()
    out = tmux.run("list-panes", "-a", "-F", "#{pane_id}\t#{@agent_name}\t#{@agent_repo}")
    for line in out.splitlines():
        pane, agent, where = line.split("\t")
        if agent == name and (cwd is None or where == str(cwd)):
            return name, pane
    raise AssertionError(f"no pane carries agent {name}")


def worktree_of(repo: Repo, name: str) -> Path:
    return repo.path.parent / f"{repo.path.name}.agents" / name


def test_a_tag_named_like_the_branch_does_not_hide_its_commits(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    name, _pane = spawn(tmux, "tagged work")
    worktree = worktree_of(repo, name)
    tip = commit_in(repo, worktree, "only-here.txt", "only-here.txt\n")
    # A tag with the branch's name, on main: `git rev-list agent/tagged-work` would read the tag.
    repo.git("tag", f"agent/{name}", "main")
    proc = tmux.agents("rm", name, check=False)
    assert proc.returncode == 1, proc.stdout
    assert "1 commit" in proc.stderr and "not merged" in proc.stderr
    assert repo.git("rev-parse", f"refs/heads/agent/{name}").strip() == tip
    assert worktree.is_dir()
    # --force keeps the branch too (its commit is on no other branch).
    tmux.agents("rm", name, "--force")
    assert repo.git("rev-parse", f"refs/heads/agent/{name}").strip() == tip


def test_a_folder_that_is_no_longer_a_worktree_is_never_committed_from(tmux: Tmux, repo: Repo, tmp_path: Path, standin_agent: Path) -> None:
    # The folder above the repository is itself a git repository (a dotfiles repo in HOME, say).
    outer = Repo(path=tmp_path, env=repo.env)
    outer.git("init", "-q", "-b", "main")
    outer.git("commit", "-q", "--allow-empty", "-m", "outer")
    name, pane = spawn(tmux, "lost link")
    worktree = worktree_of(repo, name)
    tmux.run("kill-pane", "-t", pane)
    # The worktree's link to the repository is gone (deleted, or the folder recreated by a tool).
    (worktree / ".git").unlink()
    (worktree / "notes.txt").write_text("keep me\n")
    before = outer.git("rev-parse", "HEAD").strip()
    proc = tmux.agents("rm", name, "--force", check=False)
    assert proc.returncode == 1
    assert "not a worktree" in proc.stderr
    assert outer.git("rev-parse", "HEAD").strip() == before, "rm committed into the repository around the folder"
    assert outer.git("diff", "--cached", "--name-only").strip() == ""
    assert (worktree / "notes.txt").read_text() == "keep me\n"
    # prune leaves it alone as well, and says why.
    out = tmux.agents("prune", "--yes").stdout
    assert "not a worktree" in out
    assert (worktree / "notes.txt").is_file()
    assert outer.git("rev-parse", "HEAD").strip() == before


def test_rm_picks_the_agent_of_this_repository_not_a_namesake(tmux: Tmux, repo: Repo, tmp_path: Path, standin_agent: Path) -> None:
    other = Repo(path=tmp_path / "other", env=repo.env)
    other.path.mkdir()
    other.git("init", "-q", "-b", "main")
    other.git("commit", "-q", "--allow-empty", "-m", "first")
    name_a, pane_a = spawn(tmux, "same task", "--dir", str(repo.path), cwd=repo.path)
    name_b, _pane_b = spawn(tmux, "same task", "--dir", str(other.path), cwd=other.path)
    assert name_a == name_b
    # From the other repository, `agents rm same-task` means that repository's agent.
    tmux.agents("rm", name_b, cwd=other.path)
    assert pane_a in tmux.panes(), "the namesake in another repository was closed"
    assert worktree_of(repo, name_a).is_dir()
    assert not worktree_of(other, name_b).exists()
    # From a folder outside both, the name is ambiguous: refused, nothing touched.
    name_c, pane_c = spawn(tmux, "same task", "--dir", str(other.path), cwd=other.path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    assert name_c == name_a
    proc = tmux.agents("rm", name_a, cwd=outside, check=False)
    assert proc.returncode == 1 and "--repo" in proc.stderr
    assert pane_a in tmux.panes() and pane_c in tmux.panes()


@pytest.fixture
def second_server(tmux: Tmux) -> Iterator[Tmux]:
    socket = f"agents-test-{uuid.uuid4().hex[:10]}"
    server = Tmux(socket=socket, env=tmux.env, home=tmux.home, cwd=tmux.cwd)
    subprocess.run(["tmux", "-L", socket, "-f", "/dev/null", "new-session", "-d", "-s", "other", "-c", str(tmux.cwd)],
                   env=tmux.env, cwd=tmux.cwd, check=True)
    try:
        yield server
    finally:
        stop_server(socket, tmux.env)


def test_prune_leaves_an_agent_that_runs_in_another_tmux_server(tmux: Tmux, repo: Repo, second_server: Tmux, standin_agent: Path) -> None:
    name, pane = spawn(tmux, "running elsewhere")
    worktree = worktree_of(repo, name)
    # Clean and merged (a fresh branch): from a server that does not see it, it looks gone.
    out = second_server.agents("prune", "--yes").stdout
    assert worktree.is_dir(), f"prune removed a running agent's worktree: {out}"
    assert f"agent/{name}" in repo.branches()
    assert name in out and "another tmux server" in out
    assert pane in tmux.panes()


def test_prune_leaves_the_users_own_worktrees_next_to_the_agents(tmux: Tmux, repo: Repo, tmp_path: Path, standin_agent: Path) -> None:
    # Agents' worktrees next to the repository: ../project-<name>.
    (repo.path / ".agents.toml").write_text('[defaults]\nworktree_dir = "{repo_parent}/{repo_name}-{slug}"\n')
    (repo.path / ".gitignore").write_text(".env\n.agents.toml\n")
    repo.git("add", ".gitignore")
    repo.git("commit", "-q", "-m", "ignore")
    mine = tmp_path / "project-hotfix"
    repo.git("worktree", "add", "-q", "-b", "hotfix", str(mine))
    (mine / ".env").write_text("SECRET=1\n")  # ignored: git would delete it without a word
    name, pane = spawn(tmux, "an agent")
    agent_worktree = tmp_path / f"project-{name}"
    assert agent_worktree.is_dir()
    tmux.run("kill-pane", "-t", pane)
    # The agent's registry entry is lost: its worktree becomes an orphan prune may remove.
    registry_files = list(Path(tmux.env["XDG_STATE_HOME"]).rglob("registry.json"))
    for path in registry_files:
        path.unlink()
    out = tmux.agents("prune", "--yes").stdout
    assert (mine / ".env").read_text() == "SECRET=1\n", f"prune removed the user's own worktree: {out}"
    assert "hotfix" in repo.branches()
    # The agent's own orphan (its branch agent/<name>, its folder from the template) does go.
    assert not agent_worktree.exists(), out



def test_merge_merges_the_branch_not_a_tag_of_the_same_name(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    name, _pane = spawn(tmux, "tagged merge")
    worktree = worktree_of(repo, name)
    tip = commit_in(repo, worktree, "merged-file.txt", "merged-file.txt\n")
    repo.git("tag", f"agent/{name}", "main")
    out = tmux.agents("merge", name).stdout
    assert "merged" in out and "nothing to merge" not in out
    assert (repo.path / "merged-file.txt").is_file()
    assert repo.git("merge-base", "--is-ancestor", tip, "main", check=False) == ""


def test_rm_force_typed_in_the_agents_own_pane_finishes_before_the_pane_closes(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    import json

    from conftest import wait_for

    name, pane = spawn(tmux, "own pane")
    worktree = worktree_of(repo, name)
    wait_for(lambda: tmux.option(pane, "@agent_state") in ("working", "idle"), message="the agent to start")
    tmux.run("send-keys", "-t", pane, "/exit", "Enter")
    wait_for(lambda: "is now a shell" in tmux.capture(pane), message="the shell after the agent")
    (worktree / "unsaved.txt").write_text("precious\n")
    # The user removes the agent from the shell it left behind: `agents` is on that shell's PATH.
    tmux.load_plugin()
    tmux.run("send-keys", "-t", pane, "-l", f"{tmux.run('show-options', '-gv', '@agents-cli').strip()} rm --force {name}")
    tmux.run("send-keys", "-t", pane, "Enter")
    wait_for(lambda: pane not in tmux.panes(), timeout=30, message="the pane to close at the end")
    assert not worktree.exists()
    assert repo.git("show", f"agent/{name}:unsaved.txt") == "precious\n"
    registry = next(Path(tmux.env["XDG_STATE_HOME"]).rglob("registry.json"))
    assert json.loads(registry.read_text())["agents"][name]["status"] == "removed"


def test_rm_reports_an_edited_ignored_env_but_not_an_unchanged_copy(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    (repo.path / ".gitignore").write_text(".env\n")
    repo.git("add", ".gitignore")
    repo.git("commit", "-q", "-m", "ignore .env")
    (repo.path / ".env").write_text("TOKEN=1\n")
    same, _ = spawn(tmux, "same env")
    edited, _ = spawn(tmux, "edited env")
    assert (worktree_of(repo, same) / ".env").read_text() == "TOKEN=1\n"
    (worktree_of(repo, edited) / ".env").write_text("TOKEN=2\n")
    out_same = tmux.agents("rm", "--force", same).stdout
    out_edited = tmux.agents("rm", "--force", edited).stdout
    assert " saved in " not in out_same
    assert "ignored files (.env) saved in " in out_edited
    assert (repo.path / ".env").read_text() == "TOKEN=1\n"
