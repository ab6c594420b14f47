"""Merge an agent's branch into its base (or --into REF) in the repository's main checkout.

The main checkout must be on the target branch and clean: it is never
switched or stashed behind your back, and a refusal says what to do. The
agent's own uncommitted work is not merged silently either: commit it, or
save it with `agents rm NAME --force`. The merge is a merge commit
(--no-ff) naming the agent, or --squash (one commit), --rebase (the agent's
commits replayed onto the target in its worktree, then a fast-forward) or
--ff-only; the default is defaults.merge in the config. A merge that would
conflict changes nothing and offers `agents sync NAME` instead, which hands
the conflict to the agent in its own worktree. With --rm the agent is
then removed as `agents rm NAME` would (refusing to lose anything; ignored
files that are not disposable are checked before the merge, so it does
not stop half way), whichever the way: after a squash its branch stays,
its changes being in the target. A branch whose changes are all in the
target already (squash-merged before) has nothing to merge.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from agents_tmux.cli import command_hint, socket_of
from agents_tmux.commands._agent import add_repo_and_key_arguments, find_agent, say
from agents_tmux.errors import AgentsError

if TYPE_CHECKING:
    from agents_tmux import tmuxcmd

    from agents_tmux.lifecycle import AgentRef

HELP = "merge an agent's branch into its base (or --into BRANCH) in the main checkout"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the agent (its name or pane id)")
    parser.add_argument("--into", metavar="BRANCH", help="merge into BRANCH instead of the agent's base")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--merge-commit", dest="how", action="store_const", const="merge", help="a merge commit (--no-ff)")
    how.add_argument("--squash", dest="how", action="store_const", const="squash", help="the agent's changes as one new commit")
    how.add_argument("--rebase", dest="how", action="store_const", const="rebase",
                     help="rebase the agent's branch onto the target (in its worktree), then fast-forward")
    how.add_argument("--ff-only", dest="how", action="store_const", const="ff-only", help="only a fast-forward")
    parser.add_argument("--rm", action="store_true",
                        help="then remove the agent (pane, worktree, merged branch), refusing as `agents rm` does")
    add_repo_and_key_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from agents_tmux import lifecycle, repolock

    server, ref = find_agent(args)
    # The checks and the merge are one step under the repository lock: no rm
    # or prune deletes the branch, and no other merge moves the target, between them.
    try:
        with repolock.repo_lock(ref.repo):
            return _merge(args, server, lifecycle.resolve(server, args.name, args.repo or str(ref.repo)))
    except _SyncInstead as offer:
        # Outside the lock: the question may stay up a while, and the sync it runs takes the lock itself.
        return _offer_sync(args, offer.ref, offer.how, offer.conflict)


class _SyncInstead(Exception):
    """The merge would conflict and changed nothing: offer ``agents sync`` once the lock is released."""

    def __init__(self, ref: AgentRef, how: str, conflict: AgentsError) -> None:
        super().__init__(str(conflict))
        self.ref, self.how, self.conflict = ref, how, conflict


def _merge(args: argparse.Namespace, server: tmuxcmd.Server | None, ref: AgentRef) -> int:
    from agents_tmux import gitops, lifecycle

    if not ref.own_worktree:
        raise AgentsError(f"{ref.name} works in the main checkout: its changes are already there, there is no branch to merge")
    root = ref.repo
    if args.into is not None and not args.into.strip():
        raise AgentsError("--into is empty: name the local branch to merge into")
    target = args.into or ref.base
    if not target or target.startswith("-"):
        raise AgentsError(f"{ref.name} has no base branch on record: say where to merge with --into BRANCH")
    if not _is_branch(root, target):
        raise AgentsError(f"{target!r} is not a local branch of {root}: merge into a branch with --into BRANCH")
    if not _is_branch(root, ref.branch):
        raise AgentsError(f"the branch {ref.branch} of {ref.name} no longer exists")

    if args.rm:
        # Checked before merging, so a refusal changes nothing.
        lifecycle.refuse_if_elsewhere(server, ref, "rm")
    # The agent's own unsaved work would silently stay behind.
    work = lifecycle.inspect(ref)
    if work.dirty:
        pending = work.losses(ref.branch)[:2]
        raise AgentsError(
            f"{ref.name} has uncommitted work in {ref.worktree} ({'; '.join(pending)}), which a merge would leave out: "
            f"commit it, or use `{command_hint(args, 'rm', ref.name, '--force')}` to save it first"
        )
    if args.rm and work.kept_ignored:
        raise AgentsError(
            f"--rm would lose {ref.name}'s ignored files that are not disposable ({lifecycle.sample(work.kept_ignored)}): "
            f"merge without --rm, then `{command_hint(args, 'rm', ref.name, '--force')}` archives them; nothing was changed"
        )

    current = gitops.git(root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).stdout.strip()
    if current != target:
        on = f"on {current}" if current else "on a detached HEAD"
        raise AgentsError(
            f"the main checkout {root} is {on}, not {target}: switch it first ({shlex.join(['git', '-C', str(root), 'switch', target])}) "
            f"or merge into {current or 'a branch'} with --into; nothing was changed"
        )
    # The branch by its full name: a tag called like it must not be merged instead.
    branch_ref = f"refs/heads/{ref.branch}"
    _refuse_dirty(root, branch_ref)

    if gitops.git(root, "merge-base", "--is-ancestor", branch_ref, "HEAD", check=False).returncode == 0:
        say(args, f"nothing to merge: {ref.branch} is already in {target}")
        return _then_remove(args, server, ref, target)
    if lifecycle.changes_in(root, branch_ref, target):
        # Squash-merged before (here or on a forge): merging again would change nothing.
        say(args, f"nothing to merge: the changes of {ref.branch} are all in {target} already")
        return _then_remove(args, server, ref, target)

    from agents_tmux import config as config_mod
    from agents_tmux import mergeways

    how = args.how or config_mod.load(root).merge
    try:
        merged = mergeways.merge_into(ref, root, target, how)
    except mergeways.WouldConflict as exc:
        raise _SyncInstead(ref, how, exc) from None
    plural = "s" if merged.count != 1 else ""
    notes = "".join(f"; {note}" for note in merged.notes)
    say(args, f"merged {ref.branch} ({merged.count} commit{plural}) into {target} in {root} by {merged.how}: "
               f"commit {merged.commit[:12]}{notes}")
    return _then_remove(args, server, ref, target)


def _then_remove(args: argparse.Namespace, server: tmuxcmd.Server | None, ref: AgentRef, target: str) -> int:
    """With --rm, remove the agent now that its branch is merged; a refusal says the merge itself is done.

    Whatever the way, the removal is the refusing ``rm``, told that the
    work's place is ``target``: a squash leaves the branch's commits out of
    it, but their changes are in it (proved, not assumed: see
    :func:`lifecycle.changes_in`), so the agent goes and its branch stays.
    Anything the agent wrote or committed since the checks above is not in
    the target: then nothing is removed.
    """
    if not args.rm:
        return 0
    from agents_tmux import lifecycle
    from agents_tmux.commands.rm import remove

    try:
        line, own_pane = remove(server, ref, force=False, keep_worktree=False, into=target)
    except AgentsError as exc:
        raise AgentsError(f"the merge is done, but {ref.name} was not removed: {exc}") from None
    say(args, line)
    if own_pane is not None:
        lifecycle.close_pane(server, own_pane)
    return 0


def _offer_sync(args: argparse.Namespace, ref: AgentRef, how: str, exc: AgentsError) -> int:
    """A merge that would conflict: nothing changed; offer ``agents sync`` (from a key: ask, and run it on "y")."""
    sync = ["sync", ref.name, *(["--rebase"] if how == "rebase" else [])]
    if args.from_key:
        from agents_tmux import panes
        from agents_tmux.keyflow import confirm_then_rerun

        server = panes.connect(socket_of(args))
        prompt = f"{exc}; nothing was changed. Sync {ref.name} so it resolves them in its worktree? (y/n)"
        confirm_then_rerun(server, args, ["sync", "--from-key", *sync[1:]], prompt)
        return 0
    raise AgentsError(
        f"{exc}; nothing was changed. Let {ref.name} settle it in its own worktree: `{command_hint(args, *sync)}` "
        "(the conflict goes to the agent), then merge again"
    )



def _is_branch(root: Path, name: str) -> bool:
    from agents_tmux import gitops

    return bool(name) and gitops.git(root, "show-ref", "--verify", "--quiet", f"refs/heads/{name}", check=False).returncode == 0


def _merging(root: Path) -> bool:
    from agents_tmux import gitops

    return gitops.git(root, "rev-parse", "-q", "--verify", "MERGE_HEAD", check=False).returncode == 0


def _git_locks(root: Path) -> list[str]:
    """git's own lock files that would stop a merge in the main checkout (``.git/index.lock``, ``.git/HEAD.lock``,
    the checked-out branch's), not those of other worktrees' commits running now.
    """
    from agents_tmux import gitops

    git_dir = Path(gitops.git(root, "rev-parse", "--path-format=absolute", "--git-dir").stdout.strip())
    found = list(git_dir.glob("*.lock"))
    head = gitops.git(root, "symbolic-ref", "--quiet", "HEAD", check=False).stdout.strip()
    if head.startswith("refs/heads/") and (git_dir / f"{head}.lock").exists():
        found.append(git_dir / f"{head}.lock")
    return sorted(str(path.relative_to(root)) if path.is_relative_to(root) else str(path) for path in found)


def _refuse_dirty(root: Path, branch: str) -> None:
    """Refuse when the main checkout has tracked changes, or untracked files the merge would write over."""
    from agents_tmux import gitops, lifecycle

    stale = _git_locks(root)
    if stale:
        # A git command killed part-way (or one running now) leaves these; git refuses to go on while they exist.
        raise AgentsError(
            f"git's lock file {lifecycle.sample(stale)} is in {root}: another git command is running there, or one was "
            "stopped part-way; if none is running, remove it and merge again. Nothing was changed"
        )
    if _merging(root) or gitops.git(root, "rev-parse", "-q", "--verify", "REBASE_HEAD", check=False).returncode == 0:
        raise AgentsError(
            f"the main checkout {root} is in the middle of a merge or rebase (one stopped part-way?): "
            "finish it (git merge --continue) or abort it (git merge --abort) first; nothing was changed"
        )
    status = gitops.git(root, "status", "--porcelain=v1", "-z", "--untracked-files=no").stdout
    changed = [item[3:] for item in status.split("\0") if len(item) > 3]
    if changed:
        raise AgentsError(
            f"the main checkout {root} has uncommitted changes ({lifecycle.sample(changed)}): "
            "commit or stash them first; nothing was changed"
        )
    in_the_way = obstacles(root, branch)
    if in_the_way:
        shown = "; ".join(in_the_way[:3]) + (f"; and {len(in_the_way) - 3} more" if len(in_the_way) > 3 else "")
        raise AgentsError(
            f"files git does not track in {root} are in the way of the merge ({shown}): "
            "move them out of the repository or commit them first; nothing was changed"
        )


def obstacles(root: Path, branch: str) -> list[str]:
    """Untracked things in the main checkout that merging ``branch`` would overwrite, each with what it is.

    git itself refuses only for untracked files at the very paths it writes;
    ignored files are expendable to it, and a file or symlink where the merge
    needs a folder (``notes.log`` when the branch adds ``notes.log/a.txt``)
    is replaced. So every path the branch adds or changes is checked, and
    each of its parent folders: unless git tracks it, a parent must be a real
    folder or absent, and the path itself absent.
    """
    from agents_tmux import gitops

    base = gitops.git(root, "merge-base", "HEAD", branch, check=False).stdout.strip()
    if not base:
        return []
    incoming = gitops.git(root, "diff", "--name-only", "-z", "--no-renames", "--diff-filter=AMT", base, branch).stdout
    tracked = set(gitops.git(root, "ls-files", "-z").stdout.split("\0"))
    found: dict[str, str] = {}
    #: Parent folders looked at, and whether the path below them can be looked at (no symlink on the way).
    parents: dict[str, bool] = {}
    for path in (p for p in incoming.split("\0") if p):
        parts = path.split("/")
        reachable = True
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent not in parents:
                where = root / parent
                parents[parent] = not where.is_symlink() and (where.is_dir() or not where.exists())
                if parent not in tracked and not parents[parent]:
                    kind = "a symlink" if where.is_symlink() else "a file"
                    found[parent] = f"{parent} is {kind} where the branch adds a folder"
            reachable = reachable and parents[parent]
        where = root / path
        if reachable and path not in tracked and (where.is_symlink() or where.exists()):
            kind = "a symlink" if where.is_symlink() else "a folder" if where.is_dir() else "a file"
            found[path] = f"{path} is {kind} the branch would replace"
    return list(found.values())
