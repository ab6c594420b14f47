"""Bring the base's new commits into an agent's branch, inside the agent's own worktree.

Conflicts stay where the agent can settle them: in its worktree, never in
the main checkout. The agent is then told, in its own prompt, which files
conflict and how to finish (``git commit --no-edit`` after a merge, ``git
rebase --continue`` during a rebase); its state follows from its hooks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agents_tmux import gitops, lifecycle
from agents_tmux.errors import AgentsError

if TYPE_CHECKING:
    from agents_tmux.lifecycle import AgentRef

#: How ``agents sync`` brings the base in (``defaults.sync``).
SYNC_MODES = ("merge", "rebase")


@dataclass
class Synced:
    """What a sync did."""

    #: "up-to-date", "synced" or "conflict".
    outcome: str
    base: str
    how: str
    #: New commits of the base brought in.
    count: int = 0
    conflicts: list[str] = field(default_factory=list)


def check_ready(ref: AgentRef, base: str) -> None:
    """Refuse, changing nothing, when the agent's worktree cannot take the base's commits now."""
    if not ref.own_worktree or ref.worktree is None:
        raise AgentsError(f"{ref.name} works in the main checkout: there is no branch of its own to sync")
    if not base or gitops.git(ref.repo, "show-ref", "--verify", "--quiet", f"refs/heads/{base}", check=False).returncode != 0:
        raise AgentsError(f"{ref.name} has no base branch on record ({base or 'none'}): say which with --base BRANCH")
    if not ref.worktree.is_dir():
        from agents_tmux.cli import hint

        raise AgentsError(f"the worktree {ref.worktree} of {ref.name} is gone (parked? {hint('unpark', ref.name)})")
    work = lifecycle.inspect(ref)
    if in_progress(ref):
        raise AgentsError(
            f"{ref.worktree} is in the middle of a merge or rebase already: it (or {ref.name}) must finish it first; nothing was changed"
        )
    if work.dirty:
        raise AgentsError(
            f"{ref.name} has uncommitted work in {ref.worktree} ({'; '.join(work.losses(ref.branch)[:2])}): "
            f"it must be committed before the base comes in; nothing was changed"
        )
    if work.head_branch != ref.branch:
        raise AgentsError(f"{ref.worktree} is not on {ref.branch} (it is on {work.head_branch or 'a detached HEAD'}); nothing was changed")


def in_progress(ref: AgentRef) -> bool:
    """True while a merge, rebase or cherry-pick waits to be finished in the agent's worktree."""
    assert ref.worktree is not None
    for head in ("MERGE_HEAD", "REBASE_HEAD", "CHERRY_PICK_HEAD"):
        if gitops.git(ref.worktree, "rev-parse", "-q", "--verify", head, check=False).returncode == 0:
            return True
    git_dir = gitops.git(ref.worktree, "rev-parse", "--path-format=absolute", "--git-dir").stdout.strip()
    from pathlib import Path

    return any((Path(git_dir) / name).exists() for name in ("rebase-merge", "rebase-apply"))


def behind(ref: AgentRef, base: str) -> int:
    """How many commits of ``base`` the agent's branch lacks."""
    out = gitops.git(ref.repo, "rev-list", "--count", f"refs/heads/{ref.branch}..refs/heads/{base}").stdout.strip()
    return int(out or 0)


def sync(ref: AgentRef, base: str, how: str) -> Synced:
    """Merge or rebase ``base`` into the agent's branch in its worktree (the caller holds the repository lock)."""
    if how not in SYNC_MODES:
        raise AgentsError(f"unknown way to sync {how!r} (expected one of: {', '.join(SYNC_MODES)})")
    check_ready(ref, base)
    count = behind(ref, base)
    if not count:
        return Synced("up-to-date", base, how)
    assert ref.worktree is not None
    worktree = ref.worktree
    identity = lifecycle.identity_args(worktree)
    if how == "merge":
        message = f"Merge {base} into {ref.branch} (agents sync)"
        proc = gitops.git(worktree, *identity, "merge", "--no-ff", "--no-edit", "-m", message, f"refs/heads/{base}", check=False)
    else:
        proc = gitops.git(worktree, *identity, "rebase", f"refs/heads/{base}", check=False)
    if proc.returncode == 0:
        return Synced("synced", base, how, count)
    conflicts = gitops.git(worktree, "diff", "--name-only", "--diff-filter=U").stdout.split("\n")
    conflicts = [path for path in conflicts if path]
    if not conflicts and not in_progress(ref):
        lines = [line for line in (proc.stderr or proc.stdout).strip().splitlines() if line.strip()]
        raise AgentsError(f"git {how} in {worktree} failed: {lines[-1] if lines else proc.returncode}")
    return Synced("conflict", base, how, count, conflicts)


def conflict_message(ref: AgentRef, done: Synced) -> str:
    """What the agent is told when the sync stopped on conflicts."""
    files = ", ".join(done.conflicts) if done.conflicts else "(see git status)"
    finish = ("then run `git commit --no-edit` to finish the merge" if done.how == "merge"
              else "then run `git rebase --continue`, and repeat for each commit until the rebase is done")
    return (
        f"agents.tmux: the new commits of {done.base} were brought into your branch {ref.branch} with git {done.how}, "
        f"and git stopped on conflicts in: {files}. Resolve each conflict in your worktree, keeping the intent of both sides, "
        f"`git add` the resolved files, {finish}. Do not abort it. Run the tests, then say what you changed."
    )
