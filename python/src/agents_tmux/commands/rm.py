"""Remove an agent: close its pane, remove its worktree, keep every piece of its work.

Refuses when the worktree has uncommitted or untracked changes, ignored
files that are not disposable (an edited .env, notes.log: see the config's
``disposable`` list), or the branch has commits no other branch holds, and
says what would be lost; commits whose changes are all in the agent's
base branch (squash-merged) are not lost, and their branch is kept.
With --force it first commits everything (untracked files too) on the
agent's branch and packs those ignored files into an archive under the
repository's state folder, then removes the worktree and prints where
each piece of work went (branch, commit, archive). The branch is deleted only when another branch holds all of it.
Works from the registry alone when the pane is gone (tmux restarted).

Several names are removed one by one, each refused or removed on its own,
one line each; the exit status is 1 when any was refused. ``--merged``
picks every agent of the repository whose branch is merged into its base
(by ancestry, or by content as a squash merge leaves it) and that holds
nothing a removal would lose. Every removal says where the work is: the
branch and commit (and for --keep-worktree, the worktree left).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from agents_tmux.cli import socket_of
from agents_tmux.errors import AgentsError

if TYPE_CHECKING:
    from agents_tmux import tmuxcmd

    from agents_tmux.lifecycle import AgentRef, Saved, Work

HELP = "close an agent's pane and remove its worktree (refuses to lose work; --force saves it first)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME", help="the agents (names or pane ids)")
    parser.add_argument("--merged", action="store_true",
                        help="every agent of the repository whose branch is merged into its base and that holds no other work")
    parser.add_argument("--force", "-f", action="store_true",
                        help="save the work first (a commit on the agent's branch; ignored files that are not disposable "
                             "into an archive), then remove")
    parser.add_argument("--keep-worktree", "-k", action="store_true",
                        help="close the pane and retire the agent, but leave its worktree and branch as they are")
    parser.add_argument("--repo", "-C", metavar="DIR", help="the agent's repository (default: found from the name)")


def run(args: argparse.Namespace) -> int:
    from agents_tmux import lifecycle

    if args.merged and args.names:
        raise AgentsError("--merged picks the agents itself: give either names or --merged")
    if args.merged and (args.force or args.keep_worktree):
        raise AgentsError("--merged removes only agents that hold nothing to save: it does not go with --force or --keep-worktree")
    if not args.names and not args.merged:
        raise AgentsError("name the agents to remove (see `agents list`), or use --merged")
    server = lifecycle.connect_if_running(socket_of(args))
    if args.merged:
        return _remove_merged(args, server)
    if len(args.names) == 1:
        # One agent: its refusal is the command's error, as from a key.
        line, own_pane = _remove_locked(server, args.names[0], args)
        print(line, flush=True)
        _close_own(server, own_pane)
        return 0
    refused = 0
    own_panes: list[AgentRef] = []
    for name in dict.fromkeys(args.names):
        try:
            line, own_pane = _remove_locked(server, name, args)
        except AgentsError as exc:
            refused += 1
            print(f"agents rm: {exc}", file=sys.stderr, flush=True)
            continue
        print(line, flush=True)
        if own_pane is not None:
            own_panes.append(own_pane)
    for ref in own_panes:
        _close_own(server, ref)
    return 1 if refused else 0


def _remove_locked(server: tmuxcmd.Server | None, name: str, args: argparse.Namespace) -> tuple[str, AgentRef | None]:
    """:func:`remove` the agent ``name`` under its repository's lock, looked up again once the lock is held.

    What is there, what would be lost, which other branch holds the commits,
    and the removal are one step: two removals (or a spawn, merge or prune)
    never act on what the other has just changed.
    """
    from agents_tmux import lifecycle, repolock

    ref = lifecycle.resolve(server, name, args.repo)
    with repolock.repo_lock(ref.repo):
        ref = lifecycle.resolve(server, name, args.repo or str(ref.repo))
        return remove(server, ref, args.force, args.keep_worktree)


def _close_own(server: tmuxcmd.Server | None, ref: AgentRef | None) -> None:
    """Close the pane this command runs in, once everything is done and said."""
    from agents_tmux import lifecycle

    if ref is not None:
        lifecycle.close_pane(server, ref)


def _remove_merged(args: argparse.Namespace, server: tmuxcmd.Server | None) -> int:
    """Remove every clean agent of the repository whose branch is merged into its base; say why any other merged one stays."""
    from agents_tmux import lifecycle

    repo = lifecycle.repo_of(args.repo)
    if repo is None:
        raise AgentsError("not inside a git repository: say which with --repo DIR")
    from agents_tmux import repolock

    # Which agents are merged and clean, and their removal: one step under the lock.
    with repolock.repo_lock(repo):
        return _remove_merged_of(server, repo)


def _remove_merged_of(server: tmuxcmd.Server | None, repo: Path) -> int:
    from agents_tmux import lifecycle
    from agents_tmux.restore import server_socket

    my_socket = server_socket(server) if server is not None else ""
    removed = refused = 0
    own_panes: list[AgentRef] = []
    for ref in lifecycle.merged_agents(server, repo):
        try:
            reason = _busy(ref, my_socket)
            if not reason:
                losses = lifecycle.inspect(ref, into=ref.base).losses(ref.branch)
                reason = f"it holds {'; '.join(losses)}" if losses else ""
            if reason:
                print(f"kept {ref.name}: {ref.branch} is merged into {ref.base}, but {reason}", flush=True)
                continue
            line, own_pane = remove(server, ref, force=False, keep_worktree=False)
        except AgentsError as exc:
            refused += 1
            print(f"agents rm: {exc}", file=sys.stderr, flush=True)
            continue
        print(line, flush=True)
        removed += 1
        if own_pane is not None:
            own_panes.append(own_pane)
    if not removed and not refused:
        print(f"no clean agent of {repo} has its branch merged into its base: nothing removed", flush=True)
    for ref in own_panes:
        _close_own(server, ref)
    return 1 if refused else 0


def _busy(ref: AgentRef, my_socket: str) -> str:
    """Why --merged leaves an agent alone ("" when it may go): it is in the middle of something, or runs elsewhere."""
    from agents_tmux.restore import alive_elsewhere

    # An agent stopped on an error waits for the user as much as one asking for permission.
    if ref.live and ref.state in ("starting", "working", "waiting", "error"):
        doing = "stopped on an error" if ref.state == "error" else f"is {ref.state}"
        from agents_tmux.cli import hint

        return f"it {doing} (`{hint('rm', ref.name)}` removes it anyway)"
    if not ref.live and alive_elsewhere(ref.entry, ref.repo, my_socket):
        return f"it runs in another tmux server ({ref.entry.get('socket')})"
    return ""


def remove(server: tmuxcmd.Server | None, ref: AgentRef, force: bool, keep_worktree: bool,
           into: str = "") -> tuple[str, AgentRef | None]:
    """Remove one agent, or raise saying why not; (what was done in one line, the agent if its pane is this command's own).

    Commits of its branch whose changes are all in ``into`` (default: its
    base branch), as after a squash merge, are not work to lose: the branch
    is kept, and the line says where its changes are.

    Run from the agent's own pane (the shell left after the agent exited),
    closing that pane would end this very command: the caller closes it last.
    """
    from agents_tmux import lifecycle, registry

    lines: list[str] = []
    if ref.status == registry.REMOVED and not ref.live and not (ref.worktree and ref.worktree.is_dir() and ref.own_worktree):
        where = f"; its branch {ref.branch} is kept" if ref.branch else ""
        raise AgentsError(f"{ref.name} was removed already{where}")
    lifecycle.refuse_if_elsewhere(server, ref, "rm")

    own_pane = bool(ref.pane_id) and os.environ.get("TMUX_PANE") == ref.pane_id
    if keep_worktree or not ref.own_worktree:
        _retire(ref)
        closed = not own_pane and lifecycle.close_pane(server, ref)
        released: list[str] = []
        if not ref.own_worktree:
            # Stopped first: the hook settings written there for it go once no agent uses them.
            released = lifecycle.release_program_files(ref.repo, ref.name, ref.kind, ref.worktree or ref.repo)
        return f"removed {ref.name}: {'pane closed, ' if closed else ''}{_left_as_it_is(ref, released)}", ref if own_pane else None

    work = lifecycle.inspect(ref, into=into or ref.base)
    losses = work.losses(ref.branch)
    if losses and not force:
        raise AgentsError(
            f"{ref.name} has work that removing it would lose: {'; '.join(losses)}. "
            f"Nothing was changed. Use --force to save it first (a commit on {ref.branch or 'a branch'}, "
            f"ignored files into an archive), or --keep-worktree"
        )
    if work.kept_ignored:
        _check_archive_folder(ref)
    # The agent stops first, so it cannot write anything after the save (in
    # its own pane it has stopped already: this command runs in its shell).
    if not own_pane and lifecycle.close_pane(server, ref):
        lines.append("pane closed")
    saved = None
    archive: Path | None = None
    archived: list[str] = []
    if work.worktree_exists:
        saved = lifecycle.save_work(ref, work)
        # Listed again now that the agent has stopped; the worktree goes only once they are safe.
        archive, archived = lifecycle.archive_ignored(ref)
        lifecycle.remove_worktree(ref, work)
        lines.append(f"worktree {ref.worktree} removed")
    tip = lifecycle.branch_tip(ref)
    deleted = lifecycle.delete_branch_if_merged(ref)
    _retire(ref, saved_commit=saved.commit if saved else "", archive=archive)
    lines += _where_work_went(ref, work, saved, tip, deleted)
    if archive is not None:
        lines.append(f"ignored files ({lifecycle.sample(archived)}) saved in {archive}")
    if work.disposable:
        lines.append(f"disposable ignored files deleted ({lifecycle.sample(work.disposable)})")
    return f"removed {ref.name}: " + "; ".join(lines), ref if own_pane else None


def _left_as_it_is(ref: AgentRef, released: list[str] | None = None) -> str:
    """Where the work of an agent whose worktree stays is: that folder, its branch and commit, what is uncommitted.

    ``released``: the files agents.tmux had written into the main checkout for the agent, now removed.
    """
    from agents_tmux import gitops, lifecycle

    folder = ref.worktree if ref.own_worktree else ref.repo
    where = f"worktree {folder} kept" if ref.own_worktree else f"it worked in the main checkout {folder}, which is untouched"
    if released and not ref.own_worktree:
        where = f"it worked in the main checkout {folder}, where the files agents.tmux wrote for it ({', '.join(released)}) were removed"
    head = branch = ""
    if folder is not None and folder.is_dir() and (not ref.own_worktree or lifecycle.is_worktree_of(ref.repo, folder)):
        head = gitops.git(folder, "rev-parse", "-q", "--verify", "HEAD^{commit}", check=False).stdout.strip()
        branch = gitops.git(folder, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).stdout.strip()
    elif ref.own_worktree and not folder.is_dir():
        where = f"worktree {folder} was gone already"
    if head:
        where += f", its work on {f'branch {branch}' if branch else 'a detached HEAD'}, commit {lifecycle.short(head)}"
        pending = len(lifecycle.status_paths(folder)) if ref.own_worktree and folder is not None else 0
        if pending:
            where += f", {pending} uncommitted or untracked file{'s' if pending != 1 else ''} in it"
    elif tip := lifecycle.branch_tip(ref):
        where += f", branch {ref.branch} kept, commit {lifecycle.short(tip)}"
    return where


def _check_archive_folder(ref: AgentRef) -> None:
    """Refuse before anything is stopped when the archive for the ignored files cannot be written."""
    from agents_tmux import lifecycle

    folder = lifecycle.archive_folder(ref.repo)
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise AgentsError(f"cannot make {folder} for the archive of {ref.name}'s ignored files ({exc.strerror}); nothing was changed") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise AgentsError(f"{folder} is not writable, so {ref.name}'s ignored files cannot be archived: nothing was changed")


def _where_work_went(ref: AgentRef, work: Work, saved: Saved | None, tip: str, deleted: bool) -> list[str]:
    """Where the agent's commits are now, in words: always a branch (or why none) and a commit id."""
    from agents_tmux import lifecycle

    lines = []
    if saved is not None and saved.branch != ref.branch:
        # A detached HEAD: its commits went to a new branch of their own.
        lines.append(f"work {'saved' if saved.committed else 'kept'} on branch {saved.branch}, commit {lifecycle.short(saved.commit)}")
    if deleted:
        holder = lifecycle.holding_branch(ref.repo, tip, prefer=ref.base)
        lines.append(f"branch {ref.branch} deleted: its commits, up to {lifecycle.short(tip)}, are on {holder}")
    elif saved is not None and saved.branch == ref.branch:
        lines.append(f"work {'saved' if saved.committed else 'is'} on branch {saved.branch}, commit {lifecycle.short(saved.commit)}")
    elif work.branch_exists and tip:
        lines.append(f"branch {ref.branch} kept, commit {lifecycle.short(tip)}")
    if work.changes_in and not deleted:
        lines.append(f"its changes are all in {work.changes_in}")
    return lines


def _retire(ref: AgentRef, saved_commit: str = "", archive: Path | None = None) -> None:
    """Mark the registry entry removed, so restore skips it; note where its work went."""
    from agents_tmux import ports, registry

    fields: dict[str, object] = {"status": registry.REMOVED, "removed": int(time.time())}
    if saved_commit:
        fields["saved_commit"] = saved_commit
    if archive is not None:
        fields["archive"] = str(archive)
    registry.update(ref.repo, ref.name, **fields)
    ports.release(ref.repo, ref.name)
