"""Remove an agent: close its pane, remove its worktree, keep every piece of its work.

Refuses when the worktree has uncommitted or untracked changes or the
branch has commits no other branch holds, and says what would be lost.
With --force it first commits everything (untracked files too, not ignored
ones) on the agent's branch, then removes the worktree and prints where the
work is. The branch is deleted only when another branch holds all of it.
Works from the registry alone when the pane is gone (tmux restarted).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import TYPE_CHECKING

from agents_tmux.cli import socket_of
from agents_tmux.errors import AgentsError

if TYPE_CHECKING:
    from agents_tmux.lifecycle import AgentRef

HELP = "close an agent's pane and remove its worktree (refuses to lose work; --force saves it first)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the agent (its name or pane id)")
    parser.add_argument("--force", "-f", action="store_true",
                        help="commit uncommitted and untracked work on the agent's branch first, then remove")
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
            f"Nothing was changed. Use --force to commit it on {ref.branch} first, or --keep-worktree"
        )
    # The agent stops first, so it cannot write anything after the save (in
    # its own pane it has stopped already: this command runs in its shell).
    if not own_pane and lifecycle.close_pane(server, ref):
        lines.append("pane closed")
    saved = None
    if work.worktree_exists:
        saved = lifecycle.save_work(ref, work)
        lifecycle.remove_worktree(ref, work)
        lines.append(f"worktree {ref.worktree} removed")
        if work.ignored:
            lines.append(f"ignored files not saved: {lifecycle.sample(work.ignored)}")
    deleted = lifecycle.delete_branch_if_merged(ref)
    _retire(ref, saved_commit=saved.commit if saved else "")
    if deleted:
        lines.append(f"branch {ref.branch} deleted (another branch holds all of its commits)")
    elif saved and saved.branch:
        what = "work saved" if saved.committed else "work is"
        lines.append(f"{what} on branch {saved.branch}, commit {lifecycle.short(saved.commit)}")
    elif work.branch_exists:
        lines.append(f"branch {ref.branch} kept")
    print(f"removed {ref.name}: " + "; ".join(lines), flush=True)
    if own_pane:
        lifecycle.close_pane(server, ref)
    return 0


def _retire(ref: AgentRef, saved_commit: str = "") -> None:
    """Mark the registry entry removed, so restore skips it."""
    from agents_tmux import registry

    fields: dict[str, object] = {"status": registry.REMOVED, "removed": int(time.time())}
    if saved_commit:
        fields["saved_commit"] = saved_commit
    registry.update(ref.repo, ref.name, **fields)
