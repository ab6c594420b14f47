"""Remove an agent: close its pane, remove its worktree, keep every piece of its work.

Refuses when the worktree has uncommitted or untracked changes, ignored
files that are not disposable (an edited .env, notes.log: see the config's
``disposable`` list), or the branch has commits no other branch holds, and
says what would be lost. With --force it first commits everything
(untracked files too) on the agent's branch and packs those ignored files
into an archive under the repository's state folder, then removes the
worktree and prints where each piece of work went (branch, commit,
archive). The branch is deleted only when another branch holds all of it.
Works from the registry alone when the pane is gone (tmux restarted).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from agents_tmux.cli import socket_of
from agents_tmux.errors import AgentsError

if TYPE_CHECKING:
    from agents_tmux.lifecycle import AgentRef, Saved, Work

HELP = "close an agent's pane and remove its worktree (refuses to lose work; --force saves it first)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the agent (its name or pane id)")
    parser.add_argument("--force", "-f", action="store_true",
                        help="save the work first (a commit on the agent's branch; ignored files that are not disposable "
                             "into an archive), then remove")
    parser.add_argument("--keep-worktree", "-k", action="store_true",
                        help="close the pane and retire the agent, but leave its worktree and branch as they are")
    parser.add_argument("--repo", "-C", metavar="DIR", help="the agent's repository (default: found from the name)")


def run(args: argparse.Namespace) -> int:
    from agents_tmux import lifecycle, registry

    server = lifecycle.connect_if_running(socket_of(args))
    ref = lifecycle.resolve(server, args.name, args.repo)
    lines: list[str] = []
    if ref.status == registry.REMOVED and not ref.live and not (ref.worktree and ref.worktree.is_dir() and ref.own_worktree):
        where = f"; its branch {ref.branch} is kept" if ref.branch else ""
        raise AgentsError(f"{ref.name} was removed already{where}")

    # Run from the agent's own pane (the shell left after the agent exited),
    # closing the pane would end this very command: close it last instead.
    own_pane = bool(ref.pane_id) and os.environ.get("TMUX_PANE") == ref.pane_id
    if args.keep_worktree or not ref.own_worktree:
        _retire(ref)
        closed = not own_pane and lifecycle.close_pane(server, ref)
        where = f"worktree {ref.worktree} and branch {ref.branch} kept" if ref.own_worktree else "it worked in the main checkout, which is untouched"
        print(f"removed {ref.name}: {'pane closed, ' if closed else ''}{where}", flush=True)
        if own_pane:
            lifecycle.close_pane(server, ref)
        return 0

    work = lifecycle.inspect(ref)
    losses = work.losses(ref.branch)
    if losses and not args.force:
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
    print(f"removed {ref.name}: " + "; ".join(lines), flush=True)
    if own_pane:
        lifecycle.close_pane(server, ref)
    return 0


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
