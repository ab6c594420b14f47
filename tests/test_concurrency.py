"""Commands that race, and commands killed part-way, lose nothing (issue 10: items 1, 2, 3, 12, 15).

Real git, real tmux. Slow git hooks (post-checkout, reference-transaction)
and tmux hooks hold a command at a chosen step, so a race or a kill lands
exactly where it used to do harm; the agents are `sleep` (a quiet kind).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import AGENTS, Repo, Tmux, agent_panes, attach_client, commit_in, expect_text, use_quiet_agents, wait_for


@pytest.fixture
def quiet(tmux: Tmux, repo: Repo) -> Repo:
    """A repository whose agents are `sleep`, with a high cap."""
    return use_quiet_agents(tmux, repo)


def registry(tmux: Tmux) -> dict[str, dict]:
    """Every agent on record, of every repository of this test."""
    found: dict[str, dict] = {}
    for path in (Path(tmux.env["XDG_STATE_HOME"]) / "agents-tmux" / "repos").glob("*/registry.json"):
        found.update(json.loads(path.read_text())["agents"])
    return found


def state_dir(tmux: Tmux) -> Path:
    dirs = list((Path(tmux.env["XDG_STATE_HOME"]) / "agents-tmux" / "repos").glob("project-*"))
    assert len(dirs) == 1, dirs
    return dirs[0]


def start(tmux: Tmux, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`agents ARGS` in the background, in a process group of its own (so a test can SIGKILL all of it)."""
    return subprocess.Popen(
        [str(AGENTS), "-L", tmux.socket, *args], env={**tmux.env, **(env or {})}, cwd=tmux.cwd,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 90) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def hook(repo: Repo, name: str, body: str) -> Path:
    """Install the git hook ``name`` (a shell script) in ``repo``."""
    path = repo.path / ".git" / "hooks" / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def worktree_of(tmux: Tmux, name: str) -> Path:
    return tmux.cwd.parent / "project.agents" / name  # type: ignore[union-attr]


# --------------------------------------------------------------------------
# races


def test_concurrent_spawns_start_no_more_than_the_cap(tmux: Tmux, quiet: Repo) -> None:
    """Item 2: the cap is checked inside the lock, so 8 spawns at once with a cap of 3 start exactly 3."""
    tmux.run("set-option", "-g", "@agents-max", "3")
    procs = [start(tmux, "spawn", f"job {i}", "-d") for i in range(8)]
    results = [finish(p) for p in procs]
    started = [out.strip() for rc, out, _ in results if rc == 0]
    refused = [err for rc, _, err in results if rc != 0]
    assert len(started) == 3, results
    # One line each (after, maybe, one saying it waited for another spawn).
    assert all("the cap is 3" in err.strip().splitlines()[-1] for err in refused), refused
    assert all(line.startswith("agents: waiting for another agents command") for err in refused
               for line in err.strip().splitlines()[:-1]), refused
    assert sorted(agent_panes(tmux)) == sorted(started)
    assert sorted(n for n, e in registry(tmux).items() if e["status"] == "active") == sorted(started)
    assert sorted(b for b in quiet.branches() if b.startswith("agent/")) == sorted(f"agent/{n}" for n in started)


def test_prune_while_a_spawn_is_making_its_worktree_leaves_it_alone(tmux: Tmux, quiet: Repo) -> None:
    """Item 1: prune waits for a spawn at work (it used to remove its fresh worktree and branch: "no agent on record")."""
    marker = quiet.path.parent / "checked-out"
    hook(quiet, "post-checkout", f'touch "{marker}"; sleep 3\n')
    spawning = start(tmux, "spawn", "slow start", "-d")
    wait_for(marker.exists, timeout=30, message="the spawn's worktree to be checked out")
    prune = start(tmux, "prune", "--yes")
    rc, out, err = finish(spawning)
    assert rc == 0, err
    prune_rc, prune_out, prune_err = finish(prune)
    assert prune_rc == 0, prune_err
    name = out.strip()
    assert "waiting for another agents command" in prune_err and "spawn slow start" in prune_err, prune_err
    assert "remove" not in prune_out, prune_out
    assert worktree_of(tmux, name).is_dir()
    assert f"agent/{name}" in quiet.branches()
    assert name in agent_panes(tmux)
    assert registry(tmux)[name]["status"] == "active"


def test_two_removals_at_once_keep_a_commit_that_only_their_two_branches_hold(tmux: Tmux, quiet: Repo) -> None:
    """Item 3: B is based on A with no commits of its own; `rm A & rm B` leaves exactly one branch holding A's commit."""
    a = tmux.agents("spawn", "first", "-d").stdout.strip()
    commit_in(quiet, worktree_of(tmux, a), "work.txt", "the only copy\n", "work of A")
    commit = quiet.git("rev-parse", f"agent/{a}").strip()
    b = tmux.agents("spawn", "second", "-d", "--base", f"agent/{a}").stdout.strip()
    # Deleting a branch dawdles between "decided" and "done", as a loaded machine may.
    hook(quiet, "reference-transaction",
         'if [ "$1" = prepared ] && grep -q "^[^ ]* 0000000000000000000000000000000000000000 refs/heads/agent/" ; then sleep 2; fi\n')
    results = [finish(p) for p in (start(tmux, "rm", a), start(tmux, "rm", b))]
    holders = quiet.git("branch", "--contains", commit, "--format=%(refname:short)").split()
    assert len(holders) == 1, (holders, results)
    assert holders[0] in (f"agent/{a}", f"agent/{b}")
    assert sorted(rc for rc, _, _ in results) == [0, 1], results
    refusal = next(err for rc, _, err in results if rc == 1)
    assert "would lose" in refusal and "1 commit" in refusal, refusal


# --------------------------------------------------------------------------
# waiting for the lock (item 15)


def test_a_command_waiting_for_the_lock_says_who_holds_it_and_gives_up_after_the_bound(tmux: Tmux, quiet: Repo) -> None:
    marker = quiet.path.parent / "checked-out"
    hook(quiet, "post-checkout", f'touch "{marker}"; sleep 8\n')
    tmux.run("set-option", "-g", "@agents-lock-timeout", "2")
    slow = start(tmux, "spawn", "slow one", "-d")
    wait_for(marker.exists, timeout=30, message="the slow spawn to hold the lock")
    began = time.monotonic()
    waiter = tmux.agents("spawn", "second one", "-d", check=False)
    took = time.monotonic() - began
    assert waiter.returncode == 1
    lines = waiter.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert f"held by pid {slow.pid}" in lines[0] and "spawn slow one" in lines[0], lines
    assert "gave up after 2 s" in lines[1] and "nothing was changed" in lines[1] and "@agents-lock-timeout" in lines[1], lines
    assert took < 7, took
    # The one that gave up made nothing; the slow one finishes as if alone.
    rc, out, err = finish(slow)
    assert rc == 0, err
    assert [b for b in quiet.branches() if b.startswith("agent/")] == [f"agent/{out.strip()}"]
    assert list(registry(tmux)) == [out.strip()]


def test_from_a_key_the_wait_shows_on_the_status_line(tmux: Tmux, quiet: Repo) -> None:
    marker = quiet.path.parent / "checked-out"
    hook(quiet, "post-checkout", f'touch "{marker}"; sleep 6\n')
    client = attach_client(tmux)
    try:
        slow = start(tmux, "spawn", "slow one", "-d")
        wait_for(marker.exists, timeout=30, message="the slow spawn to hold the lock")
        tmux.run("set-buffer", "-b", "agents-task", "from the key")
        name = tmux.run("list-clients", "-F", "#{client_name}").strip()
        keyed = start(tmux, "spawn", "--from-key", "--client", name, "-d")
        expect_text(client, "waiting for another agents command", timeout=20)
        assert finish(keyed)[0] == 0
        assert finish(slow)[0] == 0
        wait_for(lambda: len(agent_panes(tmux)) == 2, timeout=20, message="both agents")
    finally:
        client.terminate(force=True)


# --------------------------------------------------------------------------
# faults (item 12, and SIGKILL part-way)


@contextmanager
def unwritable(folder: Path) -> Iterator[None]:
    """Make ``folder`` refuse new entries (chattr +i as root, who ignores modes; else chmod)."""
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False).returncode != 0:
            pytest.skip("running as root and chattr +i is not available here")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=False)
    else:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(mode)


def test_state_folder_not_writable_refuses_before_making_anything(tmux: Tmux, quiet: Repo) -> None:
    first = tmux.agents("spawn", "first", "-d").stdout.strip()
    panes_before = tmux.panes()
    with unwritable(state_dir(tmux)):
        result = tmux.agents("spawn", "second", "-d", check=False)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "cannot write the agent registry" in result.stderr and "writable" in result.stderr, result.stderr
    assert "unexpected" not in result.stderr
    assert tmux.panes() == panes_before
    assert [b for b in quiet.branches() if b.startswith("agent/")] == [f"agent/{first}"]
    assert not worktree_of(tmux, "second").exists()
    assert list(registry(tmux)) == [first]


def test_a_state_folder_that_cannot_be_made_is_one_line_before_anything(tmux: Tmux, quiet: Repo) -> None:
    repos = Path(tmux.env["XDG_STATE_HOME"]) / "agents-tmux" / "repos"
    repos.mkdir(parents=True)
    with unwritable(repos):
        result = tmux.agents("spawn", "first", "-d", check=False)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "cannot write the state folder" in result.stderr and "nothing was changed" in result.stderr, result.stderr
    assert quiet.branches() == ["main"] and not agent_panes(tmux)
    assert not (tmux.cwd.parent / "project.agents").exists()  # type: ignore[union-attr]


def test_worktree_parent_not_writable_leaves_no_branch(tmux: Tmux, quiet: Repo) -> None:
    parent = tmux.cwd.parent / "project.agents"  # type: ignore[union-attr]
    parent.mkdir()
    with unwritable(parent):
        result = tmux.agents("spawn", "blocked", "-d", check=False)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "project.agents" in result.stderr and "nothing was left behind" in result.stderr, result.stderr
    assert quiet.branches() == ["main"]
    assert registry(tmux) == {}
    assert not agent_panes(tmux)


def test_spawn_killed_while_making_its_worktree_is_reported_then_pruned_without_loss(tmux: Tmux, quiet: Repo) -> None:
    marker = quiet.path.parent / "checked-out"
    hook(quiet, "post-checkout", f'touch "{marker}"; sleep 60\n')
    doomed = start(tmux, "spawn", "doomed", "-d")
    wait_for(marker.exists, timeout=30, message="the worktree to be checked out")
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait(timeout=10)
    (quiet.path / ".git" / "hooks" / "post-checkout").unlink()
    worktree = worktree_of(tmux, "doomed")
    assert registry(tmux)["doomed"]["status"] == "starting"
    listed = tmux.agents("list").stdout
    assert "doomed: not running" in listed and "stopped part-way" in listed, listed
    # A commit made there since (by hand, say) keeps its branch and worktree.
    commit_in(quiet, worktree, "precious.txt", "keep me\n", "precious")
    kept = tmux.agents("prune", "--yes").stdout
    assert "kept: doomed" in kept and "1 commit" in kept, kept
    assert worktree.is_dir() and "agent/doomed" in quiet.branches()
    # Once that commit is held elsewhere, prune takes back what the dead spawn made.
    quiet.git("merge", "-q", "--ff-only", "agent/doomed")
    pruned = tmux.agents("prune", "--yes").stdout
    assert "done: remove doomed" in pruned and "stopped part-way" in pruned, pruned
    assert not worktree.exists() and "agent/doomed" not in quiet.branches()
    assert registry(tmux)["doomed"]["status"] == "removed"
    assert quiet.git("cat-file", "-p", "main:precious.txt") == "keep me\n"


def test_spawn_killed_right_after_its_pane_opened_leaves_nothing_behind(tmux: Tmux, quiet: Repo) -> None:
    # Spawn opens the pane first (its placeholder shows at once), then makes the
    # worktree. tmux runs this hook inside that split-window: spawn has not heard back.
    tmux.run("set-hook", "-g", "after-split-window", "run-shell 'sleep 60'")
    origin = set(tmux.panes())
    doomed = start(tmux, "spawn", "half born", "-d")
    wait_for(lambda: set(tmux.panes()) - origin, timeout=30, message="the agent's pane to open")
    (pane,) = set(tmux.panes()) - origin
    wait_for(lambda: "starting half-born" in tmux.run("capture-pane", "-p", "-t", pane, check=False), message="the placeholder's line")
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait(timeout=10)
    tmux.run("set-hook", "-gu", "after-split-window")
    # The placeholder ends with its spawner, and its pane with it.
    wait_for(lambda: set(tmux.panes()) == origin, timeout=10, message="the placeholder pane to close")
    # Nothing else was made yet (the record comes next, then the worktree): nothing to clean up, the name is free.
    assert "half-born" not in registry(tmux)
    assert not worktree_of(tmux, "half-born").exists() and "agent/half-born" not in quiet.branches()
    assert "half-born" not in tmux.agents("list").stdout
    assert tmux.agents("spawn", "half born", "-d").stdout.strip() == "half-born"


def _blobs_on_branches(repo: Repo) -> set[str]:
    return {line.split()[0] for line in repo.git("rev-list", "--objects", "--branches").splitlines()}


def _blob(repo: Repo, data: str) -> str:
    return subprocess.run(["git", "hash-object", "--stdin"], input=data, cwd=repo.path, env=repo.env,
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.parametrize("delay", [0.15, 0.35, 0.6, 0.9])
def test_rm_force_killed_part_way_loses_nothing_and_the_next_rm_finishes(tmux: Tmux, quiet: Repo, delay: float) -> None:
    name = tmux.agents("spawn", "victim", "-d").stdout.strip()
    worktree = worktree_of(tmux, name)
    commit_in(quiet, worktree, "committed.txt", "committed work\n", "committed")
    work = {"untracked.txt": f"untracked {delay}\n", "README.md": f"changed {delay}\n"}
    for rel, text in work.items():
        (worktree / rel).write_text(text)
    # Removing the worktree dawdles a little, so some kills land between the save and the removal.
    hook(quiet, "reference-transaction", "sleep 0.2\n")
    doomed = start(tmux, "rm", name, "--force")
    time.sleep(delay)
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait(timeout=10)
    # Right after the kill every piece of work is in the worktree or on a branch.
    blobs = _blobs_on_branches(quiet)
    for rel, text in {**work, "committed.txt": "committed work\n"}.items():
        on_disk = (worktree / rel).is_file() and (worktree / rel).read_text() == text
        assert on_disk or _blob(quiet, text) in blobs, (rel, delay)
    # The next command finishes the job (or says it was done), and everything is on the branch.
    again = tmux.agents("rm", name, "--force", check=False)
    assert again.returncode == 0 or "removed already" in again.stderr, again.stderr
    assert not worktree.exists()
    blobs = _blobs_on_branches(quiet)
    assert all(_blob(quiet, text) in blobs for text in [*work.values(), "committed work\n"])
    assert registry(tmux)[name]["status"] == "removed"


def test_rm_after_one_killed_inside_git_clears_gits_stale_locks(tmux: Tmux, quiet: Repo) -> None:
    # What an rm killed during its `git add` or `git commit` leaves: git's own lock files.
    name = tmux.agents("spawn", "victim", "-d").stdout.strip()
    worktree = worktree_of(tmux, name)
    (worktree / "untracked.txt").write_text("untracked work\n")
    git_dir = Path(quiet.git("rev-parse", "--absolute-git-dir", cwd=worktree).strip())
    stale = [git_dir / "index.lock", quiet.path / ".git" / "refs" / "heads" / "agent" / f"{name}.lock"]
    for lock in stale:
        lock.write_text("")
    # A git still at work in the worktree holds them for real: nothing is touched.
    busy = subprocess.Popen(["git", "hash-object", "--stdin"], cwd=worktree, stdin=subprocess.PIPE, env=quiet.env)
    try:
        wait_for(lambda: os.readlink(f"/proc/{busy.pid}/cwd") == str(worktree), message="git to run in the worktree")
        refused = tmux.agents("rm", name, "--force", check=False)
        assert refused.returncode == 1 and f"git is running in {worktree} (pid {busy.pid})" in refused.stderr, refused.stderr
        assert all(lock.exists() for lock in stale)
        assert (worktree / "untracked.txt").read_text() == "untracked work\n"
    finally:
        busy.communicate(b"", timeout=10)
    # Once no git runs there, they are leftovers: rm clears them and finishes, saving the work.
    done = tmux.agents("rm", name, "--force", check=False)
    assert done.returncode == 0, done.stderr
    assert not any(lock.exists() for lock in stale)
    assert not worktree.exists()
    assert quiet.git("show", f"agent/{name}:untracked.txt") == "untracked work\n"


@pytest.mark.parametrize("delay", [0.3, 0.6, 0.9, 1.2])
def test_merge_killed_part_way_loses_nothing_and_the_next_command_says_where_things_are(tmux: Tmux, quiet: Repo, delay: float) -> None:
    name = tmux.agents("spawn", "feature", "-d").stdout.strip()
    worktree = worktree_of(tmux, name)
    commit_in(quiet, worktree, "feature.txt", "the feature\n", "feature")
    commit = quiet.git("rev-parse", f"agent/{name}").strip()
    hook(quiet, "reference-transaction", "sleep 0.3\n")
    doomed = start(tmux, "merge", name)
    time.sleep(delay)
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait(timeout=10)
    (quiet.path / ".git" / "hooks" / "reference-transaction").unlink()
    assert quiet.git("rev-parse", f"agent/{name}").strip() == commit
    before = quiet.git("status", "--porcelain", "--untracked-files=all")
    again = tmux.agents("merge", name, check=False)
    if again.returncode == 0:
        quiet.git("merge-base", "--is-ancestor", commit, "main")
    else:
        # A merge killed after it began leaves git's own state (a lock file, a merge in progress):
        # the next merge names it in one line and changes nothing.
        assert len(again.stderr.strip().splitlines()) == 1, again.stderr
        assert "lock file .git/" in again.stderr or "middle of a merge" in again.stderr, again.stderr
        assert "nothing was changed" in again.stderr.lower()
        assert quiet.git("status", "--porcelain", "--untracked-files=all") == before
    assert quiet.git("rev-parse", f"agent/{name}").strip() == commit


def test_spawn_killed_after_its_pane_was_tagged_is_listed_and_prune_records_it_active(tmux: Tmux, quiet: Repo) -> None:
    # With the pane log on, spawn's last tmux call before it marks the agent active is pipe-pane,
    # right after the agent replaced the placeholder in its pane: hold it there.
    tmux.run("set-option", "-g", "@agents-log", "on")
    tmux.run("set-hook", "-g", "after-pipe-pane", "run-shell 'sleep 60'")
    doomed = start(tmux, "spawn", "almost there", "-d")
    wait_for(lambda: "almost-there" in agent_panes(tmux), timeout=30, message="the tagged pane")
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait(timeout=10)
    tmux.run("set-hook", "-gu", "after-pipe-pane")
    assert registry(tmux)["almost-there"]["status"] == "starting"
    assert "almost-there" in tmux.agents("list").stdout
    out = tmux.agents("prune", "--yes").stdout
    assert "done: record almost-there as active" in out, out
    assert registry(tmux)["almost-there"]["status"] == "active"
    assert worktree_of(tmux, "almost-there").is_dir() and "agent/almost-there" in quiet.branches()
    # From here it is an ordinary agent: rm removes it.
    assert tmux.agents("rm", "almost-there").returncode == 0
