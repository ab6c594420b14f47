"""Park an agent: stop it, commit its work on its branch, remove its worktree and pane; keep its record.

Like `agents rm --force`, every uncommitted and untracked file is committed
on the agent's branch first (ignored files that are work go into an archive);
unlike it, the agent stays on record with status parked and its
conversation id, so `agents unpark NAME` brings it back where it was. A
parked agent costs no pane and does not count against the cap; `agents
list --all` shows it.
"""

from __future__ import annotations

import argparse
import os

from agents_tmux.cli import command_hint
from agents_tmux.commands._agent import add_names_argument, add_repo_and_key_arguments, each_name, find_agent, say

HELP = "stop an agent and free its worktree and pane, keeping its work and conversation (agents unpark)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_names_argument(parser, "the agents (names or pane ids)")
    add_repo_and_key_arguments(parser)


def run(args: argparse.Namespace) -> int:
    return each_name(args, _park)


def _park(args: argparse.Namespace) -> int:
    from agents_tmux import lifecycle, parking
    from agents_tmux.repolock import repo_lock

    server, ref = find_agent(args)
    # Run from the agent's own pane (its shell after it exited): close that pane last.
    own_pane = bool(ref.pane_id) and os.environ.get("TMUX_PANE") == ref.pane_id
    with repo_lock(ref.repo):
        ref = lifecycle.resolve(server, ref.pane_id or ref.name, str(ref.repo))
        done = parking.park(server, ref, close_own_pane_later=own_pane)
    what = "work saved" if done.committed else "work is"
    line = f"parked {ref.name}: {what} on branch {done.branch}, commit {lifecycle.short(done.commit)}"
    if ref.worktree is not None:
        line += f"; worktree {ref.worktree} removed"
    if done.archive is not None:
        line += f"; ignored files ({lifecycle.sample(done.archived)}) saved in {done.archive}"
    line += f". Bring it back with: {command_hint(args, 'unpark', ref.name)}"
    say(args, line)
    if own_pane:
        lifecycle.close_pane(server, ref)
    return 0

