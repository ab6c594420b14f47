"""`agents merge --squash | --rebase | --ff-only`, the default from the config, --rm, and a conflict that offers sync.

Real git and tmux; the agents are `sleep` (test_lifecycle's quiet kind).
Every refusal is checked to leave the main checkout byte for byte as it was.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest
from conftest import AGENTS, Repo, Tmux, agent_panes, client_name, commit_in, expect_text, wait_for
from test_lifecycle import quiet, registry_entry, snapshot, spawn  # noqa: F401 - fixture


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
    assert proc.returncode == 1 and "cannot fast-forward" in proc.stderr and f"agents -L {tmux.socket} sync {rebased}" in proc.stderr
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
        assert proc.returncode == 1 and "conflict in app.py" in proc.stderr and f"agents -L {tmux.socket} sync {name}" in proc.stderr, how
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


# --------------------------------------------------------------------------
# --rm after every way, and squash merges seen by rm


def shared_file(repo: Repo) -> None:
    """A file of ten lines on main, so the agent and main can each change their own end of it."""
    commit_in(repo, repo.path, "shared.txt", "".join(f"line {n}\n" for n in range(10)), "Shared file")


def test_merge_rm_removes_the_agent_whichever_the_way(tmux: Tmux, quiet: Repo) -> None:
    shared_file(quiet)
    for number, how in enumerate(("--merge-commit", "--squash", "--rebase", "--ff-only")):
        name, worktree = spawn(tmux, f"Way {how}")
        text = (worktree / "shared.txt").read_text()
        change = f"line {9 - number} by {how}\n"
        tip = commit_in(quiet, worktree, "shared.txt", text.replace(f"line {9 - number}\n", change), f"End {how}")
        if how != "--ff-only":
            # Main moves on in the same file meanwhile: the branch is neither ahead nor equal in it.
            main_text = (quiet.path / "shared.txt").read_text()
            commit_in(quiet, quiet.path, "shared.txt", main_text.replace(f"line {number}\n", f"line {number} before {how}\n"), f"Start {how}")
        proc = tmux.agents("merge", name, how, "--rm", check=False)
        assert proc.returncode == 0, (how, proc.stderr)
        lines = proc.stdout.splitlines()
        assert lines[0].startswith(f"merged agent/{name} ") and lines[1].startswith(f"removed {name}: "), (how, lines)
        assert not worktree.exists() and name not in agent_panes(tmux)
        assert registry_entry(tmux, name)["status"] == "removed"
        assert change in (quiet.path / "shared.txt").read_text()
        if how == "--squash":
            # Its commits are not on main, their changes are: the branch stays, and the line says both.
            assert quiet.git("rev-parse", f"agent/{name}").strip() == tip
            assert f"branch agent/{name}, commit {tip[:12]}" in lines[1] and "its changes are all in main" in lines[1], lines[1]
        else:
            assert f"agent/{name}" not in quiet.branches() and "are on main" in lines[1], (how, lines[1])


def late_hook(repo: Repo, worktree: Path, action: str) -> None:
    """A post-commit hook that, once, does ``action`` in the agent's worktree right after the squash commit on main."""
    hook = repo.path / ".git" / "hooks" / "post-commit"
    hook.parent.mkdir(exist_ok=True)
    marker = repo.path / ".git" / "late-hook-ran"
    hook.write_text(
        "#!/bin/sh\n"
        f"[ -e '{marker}' ] && exit 0\n"
        f"[ \"$(git rev-parse --show-toplevel)\" = '{repo.path}' ] || exit 0\n"
        f"touch '{marker}'\n"
        "unset GIT_DIR GIT_INDEX_FILE GIT_WORK_TREE GIT_PREFIX\n"
        f"cd '{worktree}' && {action}\n"
    )
    hook.chmod(0o755)


@pytest.mark.parametrize("late", ["uncommitted", "committed"])
def test_merge_rm_refuses_work_that_came_after_the_merge(tmux: Tmux, quiet: Repo, late: str) -> None:
    name, worktree = spawn(tmux, "Late work")
    tip = commit_in(quiet, worktree, "done.txt", "done\n", "Done")
    action = "echo late > late.txt" + (" && git add late.txt && git commit -q -m 'Late commit'" if late == "committed" else "")
    late_hook(quiet, worktree, action)
    proc = tmux.agents("merge", name, "--squash", "--rm", check=False)
    assert proc.returncode == 1 and proc.stdout.startswith(f"merged agent/{name} ")
    assert proc.stderr.count("\n") == 1 and f"the merge is done, but {name} was not removed" in proc.stderr, proc.stderr
    assert ("untracked file (late.txt)" if late == "uncommitted" else "not merged into any other branch") in proc.stderr, proc.stderr
    # Nothing deleted: the worktree with the late file, the branch, the pane and the record.
    assert (worktree / "late.txt").read_text() == "late\n"
    assert name in agent_panes(tmux) and registry_entry(tmux, name).get("status", "active") == "active"
    branch_tip = quiet.git("rev-parse", f"agent/{name}").strip()
    assert (branch_tip == tip) == (late == "uncommitted")


def test_rm_and_rm_merged_see_a_branch_squash_merged_outside_the_plugin(tmux: Tmux, quiet: Repo) -> None:
    shared_file(quiet)
    # An agent that has finished (its shell is left): rm --merged leaves busy ones alone.
    with (quiet.path / ".agents.toml").open("a") as config:
        config.write('[agents.finished]\ncommand = ["true"]\nprompt = "none"\n')
    squashed = tmux.agents("spawn", "Squashed by hand", "-d", "--agent", "finished").stdout.strip()
    squashed_wt = tmux.cwd.parent / "project.agents" / squashed  # type: ignore[union-attr]
    wait_for(lambda: tmux.option(agent_panes(tmux)[squashed], "@agent_state") == "exited", timeout=30, message="the agent to exit")
    text = (squashed_wt / "shared.txt").read_text()
    commit_in(quiet, squashed_wt, "shared.txt", text.replace("line 8\n", "line 8 by the agent\n"), "Agent step 1")
    tip = commit_in(quiet, squashed_wt, "own.txt", "own\n", "Agent step 2")
    again, again_wt = spawn(tmux, "Committed after the squash")
    commit_in(quiet, again_wt, "again.txt", "first\n", "First")
    undone, undone_wt = spawn(tmux, "Squashed then reverted")
    commit_in(quiet, undone_wt, "undone.txt", "undone\n", "Undone")
    for name in (squashed, again, undone):
        quiet.git("merge", "-q", "--squash", f"agent/{name}")
        quiet.git("commit", "-q", "-m", f"Squash {name}")
    quiet.git("revert", "--no-edit", "HEAD")
    commit_in(quiet, again_wt, "again.txt", "second\n", "Second, after the squash")
    # Main moves on, in the squashed agent's file too.
    main_text = (quiet.path / "shared.txt").read_text()
    commit_in(quiet, quiet.path, "shared.txt", main_text.replace("line 1\n", "line 1 later on main\n"), "Later on main")

    out = tmux.agents("rm", "--merged").stdout
    assert len(out.splitlines()) == 1 and out.startswith(f"removed {squashed}: "), out
    assert f"branch agent/{squashed}, commit {tip[:12]}" in out and "its changes are all in main" in out
    assert not squashed_wt.exists() and quiet.git("rev-parse", f"agent/{squashed}").strip() == tip
    # Not merged: a commit after the squash, a squash main undid. Plain rm refuses them, changing nothing.
    for name, worktree in ((again, again_wt), (undone, undone_wt)):
        proc = tmux.agents("rm", name, check=False)
        assert proc.returncode == 1 and f"on agent/{name} not merged" in proc.stderr, proc.stderr
        assert worktree.is_dir() and registry_entry(tmux, name).get("status", "active") == "active"


def test_merging_a_branch_squash_merged_before_has_nothing_to_merge_and_rm_goes(tmux: Tmux, quiet: Repo) -> None:
    name, worktree = spawn(tmux, "Squashed on the forge")
    tip = commit_in(quiet, worktree, "forge.txt", "forge\n", "Forge step")
    quiet.git("merge", "-q", "--squash", f"agent/{name}")
    quiet.git("commit", "-q", "-m", "Squash on the forge")
    head = quiet.git("rev-parse", "HEAD")
    for how in ("--merge-commit", "--squash"):
        out = tmux.agents("merge", name, how).stdout
        assert out == f"nothing to merge: the changes of agent/{name} are all in main already\n", out
    assert quiet.git("rev-parse", "HEAD") == head
    out = tmux.agents("merge", name, "--rm").stdout.splitlines()
    assert out[1].startswith(f"removed {name}: ") and f"commit {tip[:12]}" in out[1] and not worktree.exists()


# --------------------------------------------------------------------------
# prune sees squash merges as rm does; --squashed deletes the branches kept


def test_prune_removes_a_gone_agent_squash_merged_by_agents_merge(tmux: Tmux, quiet: Repo) -> None:
    name, worktree = spawn(tmux, "Squash then prune")
    commit_in(quiet, worktree, "one.txt", "1\n", "First step")
    tip = commit_in(quiet, worktree, "two.txt", "2\n", "Second step")
    tmux.agents("merge", name, "--squash")
    tmux.run("kill-pane", "-t", agent_panes(tmux)[name])

    dry = tmux.agents("prune").stdout
    assert f"would remove {name}: pane gone, worktree {worktree} clean, its changes are all in main; " \
           f"branch agent/{name} kept, commit {tip[:12]}" in dry, dry
    assert "--squashed` deletes it" in dry and "kept:" not in dry, dry
    assert worktree.is_dir() and registry_entry(tmux, name).get("status", "active") == "active"
    out = tmux.agents("prune", "--yes").stdout
    assert f"done: remove {name}: " in out and "its changes are all in main" in out, out
    assert not worktree.exists() and registry_entry(tmux, name)["status"] == "removed"
    # The branch stays, as after rm: its commits are on no other branch.
    assert quiet.git("rev-parse", f"agent/{name}").strip() == tip
    assert tmux.agents("prune").stdout == "nothing to prune\n"


def test_prune_after_a_squash_by_hand_keeps_what_came_after_it(tmux: Tmux, quiet: Repo) -> None:
    shared_file(quiet)
    squashed, squashed_wt = spawn(tmux, "Squashed by hand")
    text = (squashed_wt / "shared.txt").read_text()
    squashed_tip = commit_in(quiet, squashed_wt, "shared.txt", text.replace("line 8\n", "line 8 by the agent\n"), "Agent step")
    later, later_wt = spawn(tmux, "One more commit after the squash")
    commit_in(quiet, later_wt, "later.txt", "first\n", "First")
    folderless, folderless_wt = spawn(tmux, "Squashed and folder deleted")
    folderless_tip = commit_in(quiet, folderless_wt, "folderless.txt", "gone\n", "Folderless step")
    for name in (squashed, later, folderless):
        quiet.git("merge", "-q", "--squash", f"agent/{name}")
        quiet.git("commit", "-q", "-m", f"Squash {name}")
    later_tip = commit_in(quiet, later_wt, "later.txt", "second\n", "Second, after the squash")
    # Main moves on in the squashed agent's file too.
    main_text = (quiet.path / "shared.txt").read_text()
    commit_in(quiet, quiet.path, "shared.txt", main_text.replace("line 1\n", "line 1 later on main\n"), "Later on main")
    panes = agent_panes(tmux)
    for name in (squashed, later, folderless):
        tmux.run("kill-pane", "-t", panes[name])
    subprocess.run(["rm", "-rf", str(folderless_wt)], check=True)

    out = tmux.agents("prune", "--yes").stdout
    assert f"done: remove {squashed}: " in out and f"branch agent/{squashed} kept, commit {squashed_tip[:12]}" in out, out
    assert f"done: retire {folderless} " in out and "its pane and worktree are gone; its changes are all in main" in out, out
    assert f"kept: {later} ({later_wt}): pane gone but it holds 2 commits on agent/{later} not merged" in out, out
    assert not squashed_wt.exists() and registry_entry(tmux, squashed)["status"] == "removed"
    assert registry_entry(tmux, folderless)["status"] == "removed"
    # The commit made after the squash is not in main: everything of that agent stays.
    assert (later_wt / "later.txt").read_text() == "second\n"
    assert registry_entry(tmux, later).get("status", "active") == "active"
    for name, tip in ((squashed, squashed_tip), (folderless, folderless_tip), (later, later_tip)):
        assert quiet.git("rev-parse", f"agent/{name}").strip() == tip, name


def test_prune_squashed_deletes_only_branches_no_agent_uses_whose_changes_are_in_main(tmux: Tmux, quiet: Repo) -> None:
    def squash_by_hand(branch: str) -> None:
        quiet.git("merge", "-q", "--squash", branch)
        quiet.git("commit", "-q", "-m", f"Squash {branch}")

    # Removed by merge --squash --rm: its branch was kept.
    merged, merged_wt = spawn(tmux, "Merged and removed")
    merged_tip = commit_in(quiet, merged_wt, "merged.txt", "merged\n", "Merged step")
    tmux.agents("merge", merged, "--squash", "--rm")
    # Squash-merged, then a commit of its own, then removed saving it: not all in main.
    after, after_wt = spawn(tmux, "Work after the squash")
    commit_in(quiet, after_wt, "after.txt", "one\n", "One")
    squash_by_hand(f"agent/{after}")
    after_tip = commit_in(quiet, after_wt, "after.txt", "two\n", "Two, after the squash")
    tmux.agents("rm", after, "--force")
    # Squash-merged agents still on record: one running, one parked.
    running, running_wt = spawn(tmux, "Still running")
    commit_in(quiet, running_wt, "running.txt", "run\n", "Running step")
    squash_by_hand(f"agent/{running}")
    parked, parked_wt = spawn(tmux, "Parked")
    commit_in(quiet, parked_wt, "parked.txt", "park\n", "Parked step")
    squash_by_hand(f"agent/{parked}")
    tmux.agents("park", parked)
    # A gone agent, squash-merged: removed, and with --squashed its branch goes too.
    gone, gone_wt = spawn(tmux, "Gone")
    gone_tip = commit_in(quiet, gone_wt, "gone.txt", "gone\n", "Gone step")
    squash_by_hand(f"agent/{gone}")
    tmux.run("kill-pane", "-t", agent_panes(tmux)[gone])
    # Not an agent branch: never touched.
    quiet.git("branch", "feature/mine", f"agent/{merged}")
    branches_before = {b: quiet.git("rev-parse", b).strip() for b in quiet.branches()}

    plain = tmux.agents("prune").stdout
    assert "delete branch" not in plain and f"would remove {gone}:" in plain, plain
    dry = tmux.agents("prune", "--squashed").stdout
    assert f"would delete branch agent/{merged}, commit {merged_tip[:12]} (no agent uses it): its changes are all in main" in dry, dry
    assert f"would remove {gone}: pane gone, worktree {gone_wt} clean, its changes are all in main; " \
           f"delete branch agent/{gone}, commit {gone_tip[:12]}" in dry, dry
    for name in (after, running, parked):
        assert f"agent/{name}" not in dry, dry
    assert {b: quiet.git("rev-parse", b).strip() for b in quiet.branches()} == branches_before

    out = tmux.agents("prune", "--squashed", "--yes").stdout
    assert f"done: delete branch agent/{merged}, commit {merged_tip[:12]}" in out and f"done: remove {gone}:" in out, out
    assert not gone_wt.exists() and registry_entry(tmux, gone)["status"] == "removed"
    left = set(quiet.branches())
    assert f"agent/{merged}" not in left and f"agent/{gone}" not in left
    assert {f"agent/{after}", f"agent/{running}", f"agent/{parked}", "feature/mine"} <= left, left
    assert quiet.git("rev-parse", f"agent/{after}").strip() == after_tip
    assert running_wt.is_dir() and registry_entry(tmux, parked)["status"] == "parked"
    # The commit named is still there to bring the branch back with.
    quiet.git("branch", "restored", merged_tip)
    assert quiet.git("show", "restored:merged.txt") == "merged\n"
    assert "delete branch" not in tmux.agents("prune", "--squashed").stdout
