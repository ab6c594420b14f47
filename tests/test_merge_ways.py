"""`agents merge --squash | --rebase | --ff-only`, the default from the config, --rm, and a conflict that offers sync.

Real git and tmux; the agents are `sleep` (test_lifecycle's quiet kind).
Every refusal is checked to leave the main checkout byte for byte as it was.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pexpect
from conftest import AGENTS, Repo, Tmux, agent_panes, client_name, expect_text, wait_for
from test_lifecycle import quiet, registry_entry, snapshot, spawn  # noqa: F401 - fixture
from test_pr import commit_in


def log(repo: Repo, rev: str = "main", fmt: str = "%s") -> list[str]:
    return repo.git("log", f"--format={fmt}", rev).splitlines()


def test_squash_rebase_and_ff_only(tmux: Tmux, quiet: Repo) -> None:
    squashed, squash_tree = spawn(tmux, "Squash these")
    commit_in(quiet, squash_tree, "one.txt", "1\n", "First step")
    commit_in(quiet, squash_tree, "two.txt", "2\n", "Second step")
    commit_in(quiet, quiet.path, "base.txt", "base\n", "Main moves on")
    out = tmux.agents("merge", squashed, "--squash").stdout
    assert "by squash" in out and f"agent/{squashed} is kept" in out
    assert log(quiet)[:2] == ["Squash these", "Main moves on"]
    assert len(quiet.git("log", "-1", "--format=%P", "main").split()) == 1
    assert "- First step\n- Second step" in quiet.git("log", "-1", "--format=%B", "main")
    assert (quiet.path / "one.txt").exists() and (quiet.path / "two.txt").exists()

    rebased, rebase_tree = spawn(tmux, "Rebase these")
    commit_in(quiet, rebase_tree, "three.txt", "3\n", "Third step")
    commit_in(quiet, quiet.path, "more.txt", "more\n", "Main moves again")
    # ff-only cannot go: nothing changes, and it says how to get there.
    before = snapshot(quiet, quiet.path)
    proc = tmux.agents("merge", rebased, "--ff-only", check=False)
    assert proc.returncode == 1 and "cannot fast-forward" in proc.stderr and f"agents sync {rebased}" in proc.stderr
    assert snapshot(quiet, quiet.path) == before
    out = tmux.agents("merge", rebased, "--rebase").stdout
    assert "by rebase" in out
    assert log(quiet)[:2] == ["Third step", "Main moves again"]
    assert quiet.git("rev-parse", "main").strip() == quiet.git("rev-parse", "HEAD", cwd=rebase_tree).strip()
    assert quiet.git("status", "--porcelain", cwd=rebase_tree) == ""

    # Once the branch has the base, ff-only goes.
    fast, fast_tree = spawn(tmux, "Fast forward")
    tip = commit_in(quiet, fast_tree, "four.txt", "4\n", "Fourth step")
    assert "by fast-forward" in tmux.agents("merge", fast, "--ff-only").stdout
    assert quiet.git("rev-parse", "main").strip() == tip


def test_default_way_from_config_and_rm_after_merge(tmux: Tmux, quiet: Repo) -> None:
    (quiet.path / ".agents.toml").write_text((quiet.path / ".agents.toml").read_text() + 'merge = "squash"\n')
    name, worktree = spawn(tmux, "Configured squash")
    commit_in(quiet, worktree, "a.txt", "a\n", "A")
    commit_in(quiet, worktree, "b.txt", "b\n", "B")
    assert "by squash" in tmux.agents("merge", name).stdout
    assert log(quiet)[0] == "Configured squash"

    other, other_tree = spawn(tmux, "Merge and go")
    commit_in(quiet, other_tree, "c.txt", "c\n", "C")
    out = tmux.agents("merge", other, "--merge-commit", "--rm").stdout
    assert "by merge commit" in out and f"removed {other}" in out
    assert not other_tree.exists() and other not in agent_panes(tmux)
    assert f"agent/{other}" not in quiet.branches()  # merged: another branch holds it
    assert registry_entry(tmux, other)["status"] == "removed"


def test_a_merge_that_would_conflict_changes_nothing_and_offers_sync(
    tmux: Tmux, quiet: Repo, attach: Callable[..., pexpect.spawn]
) -> None:
    name, worktree = spawn(tmux, "Conflict ahead")
    agent_tip = commit_in(quiet, worktree, "app.py", "print('agent')\n", "Agent edits app.py")
    commit_in(quiet, quiet.path, "app.py", "print('main')\n", "Main edits app.py")
    before = snapshot(quiet, quiet.path)
    for how in ("--merge-commit", "--squash", "--rebase"):
        proc = tmux.agents("merge", name, how, check=False)
        assert proc.returncode == 1 and "conflict in app.py" in proc.stderr and f"agents sync {name}" in proc.stderr, how
        assert snapshot(quiet, quiet.path) == before, how
        assert quiet.git("rev-parse", "HEAD", cwd=worktree).strip() == agent_tip, how
        assert quiet.git("status", "--porcelain", cwd=worktree) == "", how

    # From a key, it asks; "y" runs the sync, which leaves the conflict in the agent's worktree.
    # (As from the menu: the command runs in the background while the question is up.)
    client = attach(timeout=15)
    asking = subprocess.Popen([str(AGENTS), "-L", tmux.socket, "merge", name, "--from-key", "--client", client_name(tmux)],
                              env=tmux.env, cwd=quiet.path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        expect_text(client, f"Sync {name} so it resolves")
        client.send("y")
        assert asking.wait(timeout=30) == 0
    finally:
        if asking.poll() is None:
            asking.kill()
    wait_for(lambda: quiet.git("rev-parse", "-q", "--verify", "MERGE_HEAD", cwd=worktree, check=False).strip(),
             timeout=20, message="the sync's merge in the agent's worktree")
    assert "<<<<<<<" in (worktree / "app.py").read_text()
    assert snapshot(quiet, quiet.path) == before
