"""Bring the base branch's new commits into an agent's branch, in the agent's own worktree.

By merge or rebase (defaults.sync in the config, or --merge / --rebase).
Refuses, changing nothing, when the agent has uncommitted work or its
worktree is in the middle of a merge or rebase. On conflicts the merge (or
rebase) is left in the agent's worktree, never in the main checkout, and
the agent is sent a message naming the conflicted files and how to finish.
"""

from __future__ import annotations

import argparse

from agents_tmux.cli import command_hint, socket_of
from agents_tmux.commands._agent import add_repo_and_key_arguments, check_base, find_agent, say
from agents_tmux.errors import AgentsError

HELP = "merge or rebase the base's new commits into an agent's branch; conflicts go to the agent"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the agent (its name or pane id)")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--merge", dest="how", action="store_const", const="merge", help="merge the base in (default: defaults.sync)")
    how.add_argument("--rebase", dest="how", action="store_const", const="rebase", help="rebase the branch onto the base")
    parser.add_argument("--base", "-b", metavar="BRANCH", help="the branch to bring in (default: the agent's base)")
    add_repo_and_key_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from agents_tmux import config as config_mod
    from agents_tmux.repolock import repo_lock

    server, ref = find_agent(args)
    check_base(args.base, "the local branch to bring in")
    base = args.base or ref.base
    how = args.how or config_mod.load(ref.repo).sync
    return report(args, server, ref, base, how, repo_lock)


def report(args: argparse.Namespace, server: object, ref: object, base: str, how: str, lock: object) -> int:
    """Sync under the repository lock, hand a conflict to the agent, and say what happened."""
    from agents_tmux import deliver, lifecycle, syncing

    assert isinstance(ref, lifecycle.AgentRef)
    with lock(ref.repo):  # type: ignore[operator]
        done = syncing.sync(ref, base, how)
    if done.outcome == "up-to-date":
        say(args, f"{ref.branch} already has every commit of {base}: nothing to sync")
        return 0
    if done.outcome == "synced":
        plural = "s" if done.count != 1 else ""
        say(args, f"synced {ref.name}: {done.count} new commit{plural} of {base} brought into {ref.branch} by {how}")
        return 0
    files = lifecycle.sample(done.conflicts) if done.conflicts else "see git status there"
    where = f"the {how} stopped on conflicts in {files}; it is left in {ref.worktree}"
    if ref.live and ref.state != "exited":
        deliver.send_text(socket_of(args), ref.pane_id, syncing.conflict_message(ref, done))
        say(args, f"{where}, and {ref.name} was asked to resolve them")
        return 0
    finish = "git commit --no-edit" if how == "merge" else "git rebase --continue"
    raise AgentsError(
        f"{where}; {ref.name} is not running to resolve them: resolve them there and run {finish} "
        f"(or {command_hint(args, 'restart', ref.name)} and ask it to)"
    )

