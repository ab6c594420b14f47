"""The ways an agent's branch goes into its target in the main checkout: a merge commit, squash, rebase, fast-forward.

Each either succeeds or leaves the main checkout exactly as it was. A
conflict is foreseen before anything is written where git can (``git
merge-tree --write-tree``, git 2.38 and newer), so the usual answer to a
conflict is a refusal that changed nothing and offers ``agents sync``: the
agent settles it in its own worktree. ``rebase`` replays the agent's
commits onto the target inside the agent's worktree (its branch moves,
as with ``agents sync --rebase``), then fast-forwards the target; a rebase
that stops is aborted there, leaving that worktree as it was too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agents_tmux import gitops, lifecycle
from agents_tmux.errors import AgentsError

if TYPE_CHECKING:
    from agents_tmux.lifecycle import AgentRef

#: Every way, as ``defaults.merge`` and the flags name them.
MERGE_WAYS = ("merge", "squash", "rebase", "ff-only")


class WouldConflict(AgentsError):
    """Merging would conflict; nothing was changed. ``files``: the conflicted paths (may be empty)."""

    def __init__(self, message: str, files: list[str]) -> None:
        super().__init__(message)
        self.files = files


@dataclass
class Merged:
    """What went into the target: the new HEAD and how many of the agent's commits."""

    commit: str
    count: int
    how: str
    notes: list[str] = field(default_factory=list)


def predicted_conflicts(root: Path, branch_ref: str) -> list[str] | None:
    """The paths merging ``branch_ref`` into HEAD would leave conflicted ([] when none; None when git cannot tell)."""
    proc = gitops.git(root, "merge-tree", "--write-tree", "--name-only", "--no-messages", "HEAD", branch_ref, check=False)
    if proc.returncode == 0:
        return []
    if proc.returncode == 1:
        return [line for line in proc.stdout.splitlines()[1:] if line]
    return None  # git older than 2.38, or something else: find out by merging, and abort


def _message(ref: AgentRef, target: str, how: str, subjects: list[str]) -> list[str]:
    subject = f"Merge agent {ref.name} ({ref.branch}) into {target}" if how == "merge" else (
        next((line.strip() for line in ref.task.splitlines() if line.strip()), "") or f"Work of agent {ref.name}")
    body = []
    if how == "squash":
        body.append(f"Squashed from {ref.branch} (agent {ref.name}):\n" + "\n".join(f"- {s}" for s in subjects))
    if ref.task and how == "merge":
        body.append(f"Task: {ref.task}")
    words = ["-m", subject]
    for part in body:
        words += ["-m", part]
    return words


def merge_into(ref: AgentRef, root: Path, target: str, how: str) -> Merged:
    """Bring ``ref``'s branch into ``target``, checked out and clean in ``root``; the caller holds the repository lock."""
    if how not in MERGE_WAYS:
        raise AgentsError(f"unknown way to merge {how!r} (expected one of: {', '.join(MERGE_WAYS)})")
    branch_ref = f"refs/heads/{ref.branch}"
    subjects = gitops.git(root, "log", "--reverse", "--no-merges", "--format=%s", f"HEAD..{branch_ref}").stdout.splitlines()
    count = int(gitops.git(root, "rev-list", "--count", f"HEAD..{branch_ref}").stdout.strip() or 0)
    identity = lifecycle.identity_args(root)
    up_to_date = gitops.git(root, "merge-base", "--is-ancestor", "HEAD", branch_ref, check=False).returncode == 0

    if how == "ff-only" or (how == "rebase" and up_to_date):
        if not up_to_date:
            from agents_tmux.cli import hint

            raise AgentsError(
                f"{target} has commits {ref.branch} lacks, so it cannot fast-forward: bring them in first with "
                f"`{hint('sync', ref.name)}`, or merge with --rebase, --squash or a merge commit; nothing was changed"
            )
        gitops.git(root, "merge", "--ff-only", "--quiet", branch_ref)
        return Merged(_head(root), count, "fast-forward")

    if how == "rebase":
        return _rebase_then_forward(ref, root, target, count)

    conflicts = predicted_conflicts(root, branch_ref)
    if conflicts:
        raise WouldConflict(f"merging {ref.branch} into {target} would conflict in {lifecycle.sample(conflicts)}", conflicts)
    orig_head = gitops.git(root, "rev-parse", "-q", "--verify", "ORIG_HEAD", check=False).stdout.strip()
    if how == "merge":
        proc = gitops.git(root, *identity, "merge", "--no-ff", "--no-edit", *_message(ref, target, how, subjects), branch_ref, check=False)
    else:
        proc = gitops.git(root, "merge", "--squash", "--quiet", branch_ref, check=False)
        if proc.returncode == 0 and gitops.git(root, "diff", "--cached", "--quiet", check=False).returncode == 0:
            _put_back(root, orig_head)
            raise AgentsError(f"{ref.branch} changes nothing in {target} (its changes are there already): nothing to squash")
        if proc.returncode == 0:
            proc = gitops.git(root, *identity, "commit", "--quiet", "--no-edit", *_message(ref, target, how, subjects), check=False)
    if proc.returncode != 0:
        conflicts = gitops.git(root, "diff", "--name-only", "--diff-filter=U").stdout.split("\n")
        _put_back(root, orig_head)
        conflicts = [c for c in conflicts if c]
        if conflicts:
            raise WouldConflict(f"merging {ref.branch} into {target} conflicts in {lifecycle.sample(conflicts)}", conflicts)
        lines = [line for line in (proc.stderr or proc.stdout).strip().splitlines() if line.strip()]
        detail = (lines[-1] if lines else "git failed").removeprefix("error: ").removeprefix("fatal: ")
        raise AgentsError(f"merging {ref.branch} into {target} failed ({detail}); {root} is as it was")
    notes = [f"{ref.branch} is kept: the squash commit is not one of its commits"] if how == "squash" else []
    return Merged(_head(root), count, "squash" if how == "squash" else "merge commit", notes)


def _rebase_then_forward(ref: AgentRef, root: Path, target: str, count: int) -> Merged:
    """Rebase the branch onto ``target`` in the agent's worktree, then fast-forward ``target`` to it."""
    from agents_tmux import syncing

    assert ref.worktree is not None
    syncing.check_ready(ref, target)
    worktree = ref.worktree
    before = gitops.git(worktree, "rev-parse", "HEAD").stdout.strip()
    proc = gitops.git(worktree, *lifecycle.identity_args(worktree), "rebase", "--quiet", f"refs/heads/{target}", check=False)
    if proc.returncode != 0:
        conflicts = [c for c in gitops.git(worktree, "diff", "--name-only", "--diff-filter=U").stdout.split("\n") if c]
        gitops.git(worktree, "rebase", "--abort", check=False)
        if gitops.git(worktree, "rev-parse", "HEAD").stdout.strip() != before:
            raise AgentsError(f"the rebase in {ref.worktree} stopped and could not be undone: look at it there (git status)")
        raise WouldConflict(
            f"rebasing {ref.branch} onto {target} would conflict in {lifecycle.sample(conflicts) if conflicts else 'some commit'}",
            conflicts,
        )
    gitops.git(root, "merge", "--ff-only", "--quiet", f"refs/heads/{ref.branch}")
    return Merged(_head(root), count, "rebase", [f"{ref.branch} was rebased onto {target} in {ref.worktree}"])


def _put_back(root: Path, orig_head: str) -> None:
    """Undo a merge or squash that failed half way: the checkout, the index and ORIG_HEAD as they were."""
    if gitops.git(root, "rev-parse", "-q", "--verify", "MERGE_HEAD", check=False).returncode == 0:
        gitops.git(root, "merge", "--abort", check=False)
    else:
        # A squash leaves no MERGE_HEAD: --merge resets what the merge touched (the checkout was clean).
        gitops.git(root, "reset", "--quiet", "--merge", check=False)
    squash_msg = Path(gitops.git(root, "rev-parse", "--path-format=absolute", "--git-dir").stdout.strip()) / "SQUASH_MSG"
    squash_msg.unlink(missing_ok=True)
    if orig_head:
        gitops.git(root, "update-ref", "--no-deref", "ORIG_HEAD", orig_head, check=False)
    else:
        gitops.git(root, "update-ref", "--no-deref", "-d", "ORIG_HEAD", check=False)


def _head(root: Path) -> str:
    return gitops.git(root, "rev-parse", "HEAD").stdout.strip()
