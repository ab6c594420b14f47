"""Push an agent's branch and open a pull request for it (with the GitHub CLI `gh` when installed).

The branch goes to the remote its base branch tracks, else to origin. The
title is the task's first line; the body lists the agent's commits and
quotes the shared context's plan.md and review.md when they exist. The
pull request's URL is recorded on the agent (`agents list`, the menu).
Refuses, changing nothing, when the agent has uncommitted work, when its
branch has no commits its base lacks, or when there is no remote. Without
`gh` the branch is pushed and the `gh pr create` line to run is printed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agents_tmux.cli import command_hint
from agents_tmux.commands._agent import add_repo_and_key_arguments, check_base, find_agent, say
from agents_tmux.errors import AgentsError

HELP = "push an agent's branch and open a pull request (gh), recording its URL"
#: The pane option holding the pull request's URL.
PR_OPTION = "@agent_pr"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the agent (its name or pane id)")
    parser.add_argument("--draft", action="store_true", help="open the pull request as a draft")
    parser.add_argument("--base", "-b", metavar="BRANCH", help="the branch the pull request is for (default: the agent's base)")
    add_repo_and_key_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from agents_tmux import config as config_mod
    from agents_tmux import context, lifecycle, panes, registry
    from agents_tmux import pullrequest as pr
    from agents_tmux.repolock import repo_lock

    server, ref = find_agent(args)
    if not ref.own_worktree:
        raise AgentsError(f"{ref.name} works in the main checkout: it has no branch of its own to propose")
    check_base(args.base, "the branch the pull request is for")
    base = args.base or ref.base
    if not args.base and base and not _local_branch(ref.repo, base):
        base = ""  # a base recorded as a commit (spawn --base SHA): gh then picks the remote's default branch

    # Decide and push under the repository lock: rm or merge cannot change the branch in between.
    with repo_lock(ref.repo):
        work = lifecycle.inspect(ref)
        if not work.branch_exists:
            raise AgentsError(f"the branch {ref.branch} of {ref.name} no longer exists; nothing was pushed")
        if work.dirty:
            pending = "; ".join(work.losses(ref.branch)[:2])
            raise AgentsError(
                f"{ref.name} has uncommitted work in {ref.worktree} ({pending}), which a pull request would leave out: "
                f"commit it (or ask {ref.name} to), then run {command_hint(args, 'pr', ref.name)} again; nothing was pushed"
            )
        target = pr.target_of(ref, base)
        subjects = pr.commits(ref, target.base_ref)
        if not subjects:
            raise AgentsError(f"{ref.branch} has no commits that {base or 'its base'} lacks: nothing to propose; nothing was pushed")
        pr.push(ref, target.remote)

    known = str(ref.entry.get("pr_url") or "")
    if known:
        say(args, f"pushed {ref.branch} to {target.remote}; its pull request is {known}")
        return 0
    try:
        context_dir = context.shared_dir(ref.repo, config_mod.load(ref.repo))
    except AgentsError:
        context_dir = None
    title = pr.title_of(ref, subjects)
    body_path = pr.body_file(ref, pr.body_of(ref, subjects, context_dir))
    argv = pr.gh_argv(ref, target, title, body_path, args.draft)
    if pr.gh_installed() is None:
        message = (f"pushed {ref.branch} to {target.remote}. gh (the GitHub CLI) is not installed: "
                   f"to open the pull request, run this in {ref.repo}:")
        if args.from_key:
            say(args, message + " " + pr.shell_line(argv))
        else:
            print(message)
            print(pr.shell_line(argv))
        return 0
    try:
        url = pr.open_with_gh(ref, argv)
    except AgentsError as exc:
        raise AgentsError(f"pushed {ref.branch} to {target.remote}, but {exc}; run it by hand: {pr.shell_line(argv)}") from None
    registry.update(ref.repo, ref.name, pr_url=url)
    if server is not None and ref.pane_id:
        panes.set_pane_options(server, ref.pane_id, {PR_OPTION: url})
    say(args, f"pushed {ref.branch} to {target.remote}; pull request {url}")
    return 0


def _local_branch(repo: Path, name: str) -> bool:
    from agents_tmux import gitops

    return gitops.git(repo, "show-ref", "--verify", "--quiet", f"refs/heads/{name}", check=False).returncode == 0

