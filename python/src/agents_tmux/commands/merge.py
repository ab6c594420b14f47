"""Merge an agent's branch into its base (or --into REF) in the repository's main checkout.

The main checkout must be on the target branch and clean: it is never
switched or stashed behind your back, and a refusal says what to do. The
agent's own uncommitted work is not merged silently either: commit it, or
save it with `agents rm NAME --force`. The merge is a merge commit
(--no-ff) naming the agent; on a conflict it is aborted and the repository
is left exactly as it was. With --rm the agent is then removed as
`agents rm NAME` would (refusing to lose anything; ignored files that are
not disposable are checked before the merge, so it does not stop half way).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from agents_tmux.cli import socket_of
from agents_tmux.errors import AgentsError

if TYPE_CHECKING:
    import libtmux

    from agents_tmux.lifecycle import AgentRef

HELP = "merge an agent's branch into its base (or --into BRANCH) in the main checkout"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the agent (its name or pane id)")
    parser.add_argument("--into", metavar="BRANCH", help="merge into BRANCH instead of the agent's base")
    parser.add_argument("--rm", action="store_true",
                        help="then remove the agent (pane, worktree, merged branch), refusing as `agents rm` does")
    parser.add_argument("--repo", "-C", metavar="DIR", help="the agent's repository (default: found from the name)")
    parser.add_argument("--from-key", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from agents_tmux import lifecycle, repolock

    server = lifecycle.connect_if_running(socket_of(args))
    ref = lifecycle.resolve(server, args.name, args.repo)
    # The checks and the merge are one step under the repository lock: no rm
    # or prune deletes the branch, and no other merge moves the target, between them.
    with repolock.repo_lock(ref.repo):
        return _merge(args, server, lifecycle.resolve(server, args.name, args.repo or str(ref.repo)))


def _merge(args: argparse.Namespace, server: libtmux.Server | None, ref: AgentRef) -> int:
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

    # The agent's own unsaved work would silently stay behind.
    work = lifecycle.inspect(ref)
    if work.dirty:
        pending = work.losses(ref.branch)[:2]
        raise AgentsError(
            f"{ref.name} has uncommitted work in {ref.worktree} ({'; '.join(pending)}), which a merge would leave out: "
            f"commit it, or use `agents rm {ref.name} --force` to save it first"
        )
    if args.rm and work.kept_ignored:
        raise AgentsError(
            f"--rm would lose {ref.name}'s ignored files that are not disposable ({lifecycle.sample(work.kept_ignored)}): "
            f"merge without --rm, then `agents rm {ref.name} --force` archives them; nothing was changed"
        )

    current = gitops.git(root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).stdout.strip()
    if current != target:
        on = f"on {current}" if current else "on a detached HEAD"
        raise AgentsError(
            f"the main checkout {root} is {on}, not {target}: switch it first (git -C {root} switch {target}) "
            f"or merge into {current or 'a branch'} with --into; nothing was changed"
        )
    # The branch by its full name: a tag called like it must not be merged instead.
    branch_ref = f"refs/heads/{ref.branch}"
    _refuse_dirty(root, branch_ref)

    if gitops.git(root, "merge-base", "--is-ancestor", branch_ref, "HEAD", check=False).returncode == 0:
        _say(args, f"nothing to merge: {ref.branch} is already in {target}")
        return _then_remove(args, server, ref)

    count = gitops.git(root, "rev-list", "--count", f"HEAD..{branch_ref}").stdout.strip()
    subject = f"Merge agent {ref.name} ({ref.branch}) into {target}"
    body = f"Task: {ref.task}" if ref.task else ""
    message_args = ["-m", subject] + (["-m", body] if body else [])
    orig_head = gitops.git(root, "rev-parse", "-q", "--verify", "ORIG_HEAD", check=False).stdout.strip()
    proc = gitops.git(
        root, *lifecycle.identity_args(root), "merge", "--no-ff", "--no-edit", *message_args, branch_ref, check=False
    )
    if proc.returncode != 0:
        conflicts = gitops.git(root, "diff", "--name-only", "--diff-filter=U").stdout.split()
        if _merging(root):
            gitops.git(root, "merge", "--abort", check=False)
        # merge wrote ORIG_HEAD: put back what was there, so nothing at all changed.
        if orig_head:
            gitops.git(root, "update-ref", "--no-deref", "ORIG_HEAD", orig_head, check=False)
        else:
            gitops.git(root, "update-ref", "--no-deref", "-d", "ORIG_HEAD", check=False)
        detail = f"conflicts in {lifecycle.sample(conflicts)}" if conflicts else _last_line(proc)
        raise AgentsError(
            f"merging {ref.branch} into {target} failed ({detail}); the merge was aborted and {root} is as it was. "
            f"Resolve it in the agent's worktree (e.g. ask {ref.name} to merge {target} into its branch), then merge again"
        )
    commit = gitops.git(root, "rev-parse", "HEAD").stdout.strip()
    _say(args, f"merged {ref.branch} ({count} commit{'s' if count != '1' else ''}) into {target} in {root}: commit {commit[:12]}")
    return _then_remove(args, server, ref)


def _then_remove(args: argparse.Namespace, server: libtmux.Server | None, ref: AgentRef) -> int:
    """With --rm, remove the agent now that its branch is merged; a refusal says the merge itself is done."""
    if not args.rm:
        return 0
    from agents_tmux import lifecycle
    from agents_tmux.commands.rm import remove

    try:
        line, own_pane = remove(server, ref, force=False, keep_worktree=False)
    except AgentsError as exc:
        raise AgentsError(f"the merge is done, but {ref.name} was not removed: {exc}") from None
    _say(args, line)
    if own_pane is not None:
        lifecycle.close_pane(server, own_pane)
    return 0


def _say(args: argparse.Namespace, message: str) -> None:
    from agents_tmux.tmuxcmd import display_message

    if args.from_key:
        display_message(socket_of(args), f"agents: {message}", args.client)
    else:
        print(message)


def _is_branch(root: Path, name: str) -> bool:
    from agents_tmux import gitops

    return bool(name) and gitops.git(root, "show-ref", "--verify", "--quiet", f"refs/heads/{name}", check=False).returncode == 0


def _merging(root: Path) -> bool:
    from agents_tmux import gitops

    return gitops.git(root, "rev-parse", "-q", "--verify", "MERGE_HEAD", check=False).returncode == 0


def _last_line(proc: object) -> str:
    text = (getattr(proc, "stderr", "") or getattr(proc, "stdout", "") or "").strip().splitlines()
    return text[-1].removeprefix("error: ").removeprefix("fatal: ") if text else "git merge failed"


def _git_locks(root: Path) -> list[str]:
    """git's own lock files in the main checkout's git folder (``.git/index.lock``, ``.git/HEAD.lock``, a ref's)."""
    from agents_tmux import gitops

    git_dir = Path(gitops.git(root, "rev-parse", "--path-format=absolute", "--git-dir").stdout.strip())
    found = [path for path in git_dir.glob("*.lock")]
    refs = git_dir / "refs" / "heads"
    if refs.is_dir():
        found += list(refs.rglob("*.lock"))
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
