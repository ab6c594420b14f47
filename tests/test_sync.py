"""`agents sync`: the base's new commits into an agent's branch, in the agent's worktree, never the main checkout.

Real git and tmux; the agents are `sleep` (test_lifecycle's quiet kind). The
conflict hand-off to a running agent, with the real Claude Code, is in
test_claude_sync.py.
"""

from __future__ import annotations

from conftest import Repo, Tmux, agent_panes, commit_in
from test_lifecycle import quiet, snapshot, spawn  # noqa: F401 - fixture


def parents(repo: Repo, worktree, rev: str = "HEAD") -> int:
    return len(repo.git("rev-list", "--parents", "-n", "1", rev, cwd=worktree).split()) - 1


def test_sync_merges_or_rebases_the_base_into_the_agents_worktree(tmux: Tmux, quiet: Repo) -> None:
    merged, merged_tree = spawn(tmux, "Merge the base in")
    rebased, rebased_tree = spawn(tmux, "Rebase onto the base")
    commit_in(quiet, merged_tree, "mine.txt", "mine\n", "Agent work")
    own = commit_in(quiet, rebased_tree, "other.txt", "other\n", "Other agent work")
    assert "nothing to sync" in tmux.agents("sync", merged).stdout
    base_tip = commit_in(quiet, quiet.path, "base.txt", "base\n", "New on main")
    main_before = snapshot(quiet, quiet.path)

    out = tmux.agents("sync", merged).stdout
    assert f"1 new commit of main brought into agent/{merged} by merge" in out
    assert (merged_tree / "base.txt").read_text() == "base\n" and (merged_tree / "mine.txt").exists()
    assert parents(quiet, merged_tree) == 2
    assert quiet.git("status", "--porcelain", cwd=merged_tree) == ""

    out = tmux.agents("sync", rebased, "--rebase").stdout
    assert "by rebase" in out
    assert quiet.git("rev-parse", "HEAD~1", cwd=rebased_tree).strip() == base_tip
    assert quiet.git("log", "-1", "--format=%s", cwd=rebased_tree).strip() == "Other agent work"
    assert quiet.git("rev-parse", "HEAD", cwd=rebased_tree).strip() != own
    # The main checkout never moved.
    assert snapshot(quiet, quiet.path) == main_before


def test_sync_refuses_with_uncommitted_work_and_leaves_a_conflict_in_the_worktree(tmux: Tmux, quiet: Repo) -> None:
    name, worktree = spawn(tmux, "Conflicting")
    commit_in(quiet, worktree, "app.py", "print('agent')\n", "Agent edits app.py")
    commit_in(quiet, quiet.path, "app.py", "print('main')\n", "Main edits app.py")
    main_before = snapshot(quiet, quiet.path)

    (worktree / "app.py").write_text("print('uncommitted')\n")
    proc = tmux.agents("sync", name, check=False)
    assert proc.returncode == 1 and "uncommitted work" in proc.stderr and "Traceback" not in proc.stderr
    assert (worktree / "app.py").read_text() == "print('uncommitted')\n"
    quiet.git("checkout", "--", "app.py", cwd=worktree)

    # Nobody runs to take the conflict: it stays in the agent's worktree, and the command says what to do.
    tmux.run("kill-pane", "-t", agent_panes(tmux)[name])
    proc = tmux.agents("sync", name, check=False)
    assert proc.returncode == 1 and "conflicts in app.py" in proc.stderr and "git commit --no-edit" in proc.stderr
    assert quiet.git("rev-parse", "-q", "--verify", "MERGE_HEAD", cwd=worktree, check=False).strip()
    assert "<<<<<<<" in (worktree / "app.py").read_text()
    assert snapshot(quiet, quiet.path) == main_before
    # Until it is finished, another sync is refused.
    again = tmux.agents("sync", name, check=False)
    assert again.returncode == 1 and "middle of a merge or rebase" in again.stderr


def test_sync_refuses_an_agent_whose_base_is_no_branch(tmux: Tmux, quiet: Repo) -> None:
    commit = quiet.git("rev-parse", "HEAD").strip()
    name = tmux.agents("spawn", "From a commit", "-d", "--base", commit).stdout.strip()
    proc = tmux.agents("sync", name, check=False)
    assert proc.returncode == 1 and "no base branch on record" in proc.stderr and "--base BRANCH" in proc.stderr
    assert "nothing to sync" in tmux.agents("sync", name, "--base", "main").stdout
