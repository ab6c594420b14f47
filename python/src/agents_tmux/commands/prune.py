"""Clean up after agents that are gone, without losing anything.

Looks at the registry entries whose pane is gone and at the worktrees in the
agents folder, and lists what it would do (a dry run; --yes does it):
retire entries whose worktree is gone, remove worktrees that are clean and
whose branch another branch holds entirely (and that branch), and let git
forget worktrees whose folder was deleted. A branch whose changes are all in
the agent's base (squash-merged, rebased, cherry-picked: proved as rm proves
it, see :func:`lifecycle.changes_in`) holds nothing to lose either: its
worktree goes, the branch stays, as with rm. --squashed deletes such
branches too, naming each one's commit. Anything holding work that is not
saved anywhere else is reported and left alone (`agents rm NAME --force`
saves it).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from agents_tmux.cli import command_hint, socket_of
from agents_tmux.errors import AgentsError

HELP = "find gone agents and leftover worktrees; list the safe cleanup (--yes does it)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--repo", "-C", metavar="DIR", help="the repository (default: the one of the current folder)")
    scope.add_argument("--all", "-a", action="store_true", help="every repository agents.tmux knows")
    parser.add_argument("--yes", "-y", action="store_true", help="do the cleanup (default: only say what it would do)")
    parser.add_argument("--squashed", action="store_true",
                        help="also delete agent branches no agent uses whose changes are all in their base (squash-merged)")


@dataclass
class Action:
    text: str
    do: object = None  # a callable, or None for a report only
    #: True for an agent `agents restore` can bring back with its conversation.
    restorable: bool = False


def run(args: argparse.Namespace) -> int:
    from agents_tmux import lifecycle, repolock

    server = lifecycle.connect_if_running(socket_of(args))
    repos = lifecycle.target_repos(args.all, args.repo, "prune every repository")
    from agents_tmux.restore import server_socket

    my_socket = server_socket(server) if server is not None else ""
    done: list[str] = []
    kept: list[Action] = []
    planned = 0
    for repo in repos:
        # Plan and cleanup are one step under the repository lock: an agent being
        # spawned (on record as starting) or removed meanwhile is never acted on.
        with repolock.repo_lock(repo):
            agents = lifecycle.live_agents(server)
            live = {(a.name, a.repo) for a in agents}
            live_worktrees = {a.worktree for a in agents}
            actions = plan(repo, live, live_worktrees, my_socket, squashed=args.squashed)
            planned += len(actions)
            for action in actions:
                if action.do is None:
                    kept.append(action)
                elif args.yes:
                    try:
                        action.do()  # type: ignore[operator]
                        done.append(f"done: {action.text}")
                    except AgentsError as exc:
                        done.append(f"failed: {action.text}: {exc}")
                else:
                    done.append(f"would {action.text}")
    if not planned:
        print("nothing to prune")
        return 0
    for line in done:
        print(line)
    for action in kept:
        print(f"kept: {action.text}")
    if done and not args.yes:
        scope = ["--all"] if args.all else ["--repo", str(lifecycle.repo_of(args.repo))] if args.repo else []
        again = command_hint(args, "prune", *scope, *(["--squashed"] if args.squashed else []), "--yes")
        print(f"(a dry run: run `{again}` to do it)")
    restorable = [a for a in kept if a.restorable]
    if restorable:
        count = len(restorable)
        print(f"{count} agent{'s' if count != 1 else ''} without a pane can be brought back with their conversation "
              f"(after a tmux server restart): run `{_restore_hint(args)}`")
    return 0


def _restore_hint(args: argparse.Namespace) -> str:
    """The restore line that brings back what prune left alone, wherever it is pasted from."""
    from agents_tmux import lifecycle

    if args.all:
        return command_hint(args, "restore", "--all")
    if args.repo:
        # Given with -C or --repo: the shell it is pasted into may be anywhere.
        return command_hint(args, "restore", "--repo", str(lifecycle.repo_of(args.repo)))
    return command_hint(args, "restore")


def plan(
    repo: Path, live: set[tuple[str, str]], live_worktrees: set[str], my_socket: str = "", squashed: bool = False,
) -> list[Action]:
    """What pruning ``repo`` would do, safest first; the commands it names are :func:`cli.hint`'s, for this server.

    ``squashed``: also delete the branches whose changes are all in their
    base, of the agents it removes and of no agent at all.
    """
    from agents_tmux import gitops, lifecycle, registry
    from agents_tmux.restore import alive_elsewhere

    actions: list[Action] = []
    if not (repo / ".git").exists():
        return [Action(f"{repo}: the repository is gone; its registry is kept ({registry.registry_path(repo)})")]
    entries = registry.load(repo)
    listing = gitops.git(repo, "worktree", "list", "--porcelain").stdout
    worktrees: dict[Path, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in listing.splitlines() + [""]:
        if not line:
            if "worktree" in current:
                worktrees[Path(current["worktree"])] = current
            current = {}
            continue
        key, _, value = line.partition(" ")
        current[key] = value or "yes"
    if any("prunable" in info for info in worktrees.values()):
        actions.append(Action(f"let git forget worktrees whose folder is gone in {repo} (git worktree prune)",
                              lambda: gitops.git(repo, "worktree", "prune")))

    recorded: set[Path] = set()
    for name, entry in sorted(entries.items()):
        if not isinstance(entry, dict):
            continue
        ref = lifecycle._from_entry(repo, entry)
        if ref.worktree is not None:
            recorded.add(ref.worktree)
        if entry.get("status") == registry.STARTING:
            actions += _plan_starting(ref, entry, (name, str(repo)) in live, my_socket, squashed)
            continue
        if (name, str(repo)) in live or entry.get("status", registry.ACTIVE) != registry.ACTIVE or not ref.own_worktree:
            continue
        if alive_elsewhere(entry, repo, my_socket):
            actions.append(Action(f"{name} ({ref.worktree}): runs in another tmux server ({entry.get('socket')}); left alone"))
            continue
        actions += _checked(partial(_plan_gone_agent, squashed=squashed), ref)

    # Worktrees spawn made that no registry entry knows (a lost registry).
    for path, info in worktrees.items():
        if path == repo or path in recorded or str(path) in live_worktrees or "prunable" in info:
            continue
        branch = info.get("branch", "").removeprefix("refs/heads/")
        name = _agent_name(repo, path, branch)
        if name is None:
            continue
        ref = lifecycle.AgentRef(name=name, repo=repo, worktree=path, branch=branch)
        actions += _checked(_plan_orphan, ref)
    if squashed:
        actions += _plan_squashed_branches(repo, entries, worktrees)
    return actions


def _plan_starting(ref: object, entry: dict[str, object], in_this_server: bool, my_socket: str,
                   squashed: bool = False) -> list[Action]:
    """A record still ``starting``: left alone while it may run, cleaned up like a gone agent once provably dead."""
    from agents_tmux import lifecycle, liveness, registry

    assert isinstance(ref, lifecycle.AgentRef)
    if in_this_server:
        # Its spawn died after the pane opened: the agent runs, so it is simply active.
        return [Action(f"record {ref.name} as active (its spawn stopped before it could; its pane runs)",
                       lambda: registry.update(ref.repo, ref.name, status=registry.ACTIVE))]
    verdict = liveness.check(entry, ref.repo, (my_socket,) if my_socket else ())
    if verdict.live:
        return [Action(f"{ref.name} ({ref.worktree}): on record as starting, {verdict.why}; left alone")]
    if not ref.own_worktree:
        def retire() -> None:
            registry.update(ref.repo, ref.name, status=registry.REMOVED, removed=int(time.time()), pruned=True)
            # What its program's prepare wrote into the main checkout goes with it (unless another agent uses it).
            lifecycle.release_program_files(ref.repo, ref.name, ref.kind, ref.worktree or ref.repo)

        return [Action(f"retire {ref.name} ({ref.repo}): {verdict.why}", retire)]
    return [replace(action, text=f"{action.text} ({ref.name}: {verdict.why})") for action in _checked(partial(_plan_gone_agent, squashed=squashed), ref)]


def _checked(planner: object, ref: object) -> list[Action]:
    """``planner(ref)``; a worktree that cannot be inspected is reported and left alone."""
    try:
        return planner(ref)  # type: ignore[operator, no-any-return]
    except AgentsError as exc:
        return [Action(f"{getattr(ref, 'name', '?')} ({getattr(ref, 'worktree', '?')}): {exc}")]


def _agent_name(repo: Path, path: Path, branch: str) -> str | None:
    """The agent a worktree was made for, when it is exactly where and on what spawn puts one; else None.

    Only such worktrees may be pruned without a registry entry: a worktree
    the user made next to the agents' (``../project-hotfix``) is never theirs.
    """
    from agents_tmux import config as config_mod
    from agents_tmux import gitops
    from agents_tmux.spawn import worktree_path

    try:
        cfg = config_mod.load(repo)
    except AgentsError:
        return None
    if not cfg.branch_prefix or not branch.startswith(cfg.branch_prefix):
        return None
    name = branch[len(cfg.branch_prefix):]
    try:
        made_here = worktree_path(gitops.Repo(root=repo, worktree=repo), cfg, name)
    except AgentsError:
        return None
    return name if name and made_here == path else None


def _plan_gone_agent(ref: object, squashed: bool = False) -> list[Action]:
    from agents_tmux import lifecycle, registry
    from agents_tmux.cli import hint

    assert isinstance(ref, lifecycle.AgentRef)
    # Commits whose changes are all in the base (a squash merge) are not lost, as for rm.
    work = lifecycle.inspect(ref, into=ref.base)
    losses = work.losses(ref.branch)
    tip = lifecycle.branch_tip(ref) if work.changes_in else ""
    if work.changes_in and not squashed:
        branch_fate = f"branch {ref.branch} kept, commit {lifecycle.short(tip)} (`{hint('prune', '--squashed')}` deletes it)"
    else:
        branch_fate = f"delete branch {ref.branch}, commit {lifecycle.short(tip)}"

    def retire() -> None:
        registry.update(ref.repo, ref.name, status=registry.REMOVED, removed=int(time.time()), pruned=True)

    def delete_if_squashed() -> None:
        # After the record is retired: a branch that cannot go is said, the agent is gone all the same.
        if work.changes_in and squashed:
            delete_squashed_branch(ref.repo, ref.branch, tip, work.changes_in)

    if not work.worktree_exists:
        def forget() -> None:
            lifecycle.delete_branch_if_merged(ref)
            retire()
            delete_if_squashed()

        if work.changes_in:
            what = f"its changes are all in {work.changes_in}: {branch_fate}"
        else:
            what = "delete its merged branch" if work.branch_exists and not work.unmerged else (
                f"keep branch {ref.branch}" if work.branch_exists else "no branch left")
        return [Action(f"retire {ref.name} ({ref.repo}): its pane and worktree are gone; {what}", forget)]
    how = resumable(ref)
    if how:
        # After a server restart every agent looks gone: never retire one restore can bring back.
        return [Action(f"{ref.name} ({ref.worktree}): pane gone; `{hint('restore', ref.name)}` {how}; left alone", restorable=True)]
    if losses:
        return [Action(f"{ref.name} ({ref.worktree}): pane gone but it holds {'; '.join(losses)} "
                       f"(`{hint('rm', ref.name, '--force')}` saves it, `{hint('restore', ref.name)}` brings it back)")]

    def remove() -> None:
        _remove_if_still_clean(ref, into=work.changes_in)
        retire()
        delete_if_squashed()

    ignored = f" (disposable ignored files go with it: {lifecycle.sample(work.disposable)})" if work.disposable else ""
    held = (f"its changes are all in {work.changes_in}; {branch_fate}" if work.changes_in
            else f"branch {ref.branch or '-'} held by another branch")
    return [Action(f"remove {ref.name}: pane gone, worktree {ref.worktree} clean{ignored}, {held}", remove)]


def resumable(ref: object) -> str:
    """How ``agents restore`` would bring back ``ref``'s conversation ('' when it would start afresh).

    The same test restore makes (its recorded session's transcript, else a
    conversation to continue in the worktree); a program that cannot tell
    counts as resumable, so nothing that might come back is retired.
    """
    from agents_tmux import config as config_mod
    from agents_tmux import lifecycle, programs
    from agents_tmux.restore import transcript_of

    assert isinstance(ref, lifecycle.AgentRef)
    try:
        kind = config_mod.load(ref.repo).agent_kind(ref.kind or None)
    except AgentsError:
        return ""
    if kind.resume and transcript_of(ref, kind) is not None:
        return f"resumes its conversation (session {ref.session_id})"
    if kind.continue_args and programs.get(kind.program).has_conversations(ref.worktree) is not False:
        return "continues its conversation"
    return ""


def _plan_orphan(ref: object) -> list[Action]:
    from agents_tmux import lifecycle

    assert isinstance(ref, lifecycle.AgentRef)
    work = lifecycle.inspect(ref)
    losses = work.losses(ref.branch)
    if losses:
        return [Action(f"worktree {ref.worktree} (no agent on record) holds {'; '.join(losses)}")]

    return [Action(f"remove worktree {ref.worktree} (no agent on record, clean, branch {ref.branch or '-'} merged)",
                   lambda: _remove_if_still_clean(ref))]


def _remove_if_still_clean(ref: object, into: str = "") -> None:
    """Remove the worktree (and its merged branch) unless it gained work since the plan.

    ``into``: the branch found holding the changes of its commits at plan time; it must still.
    """
    from agents_tmux import lifecycle

    assert isinstance(ref, lifecycle.AgentRef)
    again = lifecycle.inspect(ref, into=into)
    if again.losses(ref.branch):
        raise AgentsError("it changed meanwhile; left alone")
    lifecycle.remove_worktree(ref, again)
    lifecycle.delete_branch_if_merged(ref)


def delete_squashed_branch(repo: Path, branch: str, tip: str, into: str) -> None:
    """Delete ``branch`` if it still points at ``tip`` and its changes are still all in ``into``; else raise.

    Its commits then live only as unreachable objects until git's garbage
    collection: the caller names ``tip`` so ``git branch`` can bring it back.
    """
    from agents_tmux import gitops, lifecycle

    now = gitops.git(repo, "rev-parse", "-q", "--verify", f"refs/heads/{branch}^{{commit}}", check=False).stdout.strip()
    if now != tip or not lifecycle.changes_in(repo, tip, into):
        raise AgentsError(f"branch {branch} changed meanwhile; kept")
    proc = gitops.git(repo, "branch", "-D", branch, check=False)
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or ["git branch -D failed"])[-1]
        raise AgentsError(f"branch {branch} kept: {why}")


def _plan_squashed_branches(repo: Path, entries: dict[str, object], worktrees: dict[Path, dict[str, str]]) -> list[Action]:
    """Agent branches no agent uses whose changes are all in their base: deleted, each naming its commit.

    A branch is in use while any record but a removed one names it (an agent
    running, parked, still starting) or any worktree has it checked out. Its
    base is the one on record for the last agent that had it, else the
    branch of the main checkout; a branch that cannot be proved merged
    (commits of its own, older git) is not mentioned: it is just a branch.
    """
    from agents_tmux import config as config_mod
    from agents_tmux import gitops, lifecycle, registry

    try:
        prefix = config_mod.load(repo).branch_prefix
    except AgentsError:
        return []
    if not prefix:
        return []
    in_use = {info["branch"].removeprefix("refs/heads/") for info in worktrees.values() if "branch" in info}
    bases: dict[str, tuple[int, str]] = {}
    for entry in entries.values():
        if not isinstance(entry, dict) or not entry.get("branch"):
            continue
        branch = str(entry["branch"])
        if entry.get("status", registry.ACTIVE) != registry.REMOVED:
            in_use.add(branch)
        elif entry.get("base"):
            when = entry.get("removed") if isinstance(entry.get("removed"), int) else 0
            if branch not in bases or when >= bases[branch][0]:
                bases[branch] = (when, str(entry["base"]))
    checkout = gitops.git(repo, "symbolic-ref", "-q", "--short", "HEAD", check=False).stdout.strip()
    # Full names: the short one of a branch that shares its name with a tag is "heads/...".
    listing = gitops.git(repo, "for-each-ref", "--format=%(objectname) %(refname)", "refs/heads").stdout
    actions: list[Action] = []
    for line in listing.splitlines():
        tip, _, full = line.partition(" ")
        branch = full.removeprefix("refs/heads/")
        if not branch.startswith(prefix) or branch in in_use:
            continue
        base = bases.get(branch, (0, checkout))[1]
        if not base or base == branch or not lifecycle.changes_in(repo, tip, base):
            continue
        actions.append(Action(f"delete branch {branch}, commit {lifecycle.short(tip)} (no agent uses it): its changes are all in {base}",
                              partial(delete_squashed_branch, repo, branch, tip, base)))
    return actions
