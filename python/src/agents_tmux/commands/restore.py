"""Bring back the agents that are not running: after a tmux or machine restart, one window per agent.

Every agent recorded as active in the registry (of this repository, or of
every known repository with --all) that has no pane in this tmux server gets
a window named after it, in its worktree, running the agent again with its
conversation resumed (Claude: --resume <session id>, else --continue, else
afresh). Agents removed with `agents rm` are never restored.

Like spawn, restore is held to the cap (@agents-max): the most recently
active agents come back first, and each one left out is named with the
`--force` line that brings it back anyway (from a key: a y/n question).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from agents_tmux.cli import command_hint, socket_of
from agents_tmux.errors import AgentsError

if TYPE_CHECKING:
    from agents_tmux.restore import Outcome
    from agents_tmux.tmuxcmd import Socket

HELP = "recreate the panes of agents that are not running, resuming their conversations"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME", help="only these agents (default: every one not running)")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--repo", "-C", metavar="DIR", help="the repository (default: the one of the current folder)")
    scope.add_argument("--all", "-a", action="store_true", help="every repository agents.tmux knows")
    parser.add_argument("--session", "-s", metavar="NAME",
                        help="put the windows in this session (default: a session named after the repository, made if missing)")
    parser.add_argument("--quiet", "-q", action="store_true", help="print nothing when there is nothing to restore")
    parser.add_argument("--force", "-f", action="store_true", help="restore them all even past @agents-max running agents")
    parser.add_argument("--wait-session", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--from-key", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    # From the menu: the pane it was opened from, whose folder names the repository.
    parser.add_argument("--pane", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from agents_tmux import lifecycle, panes, registry
    from agents_tmux import restore as restore_mod
    from agents_tmux.tmuxcmd import display_message

    if args.session is not None and not args.session.strip():
        raise AgentsError("--session is empty: name the tmux session to restore into")
    socket = socket_of(args)
    if args.pane and not (args.repo or args.all or args.names):
        args.repo = _pane_folder(socket, args.pane)
    anywhere = bool(args.names) and not args.all and not args.repo and lifecycle.repo_of(None) is None
    if anywhere:
        # Named agents are found in every known repository, as rm, park and restart find them:
        # the `agents restore NAME` that prune and rm print works from any folder.
        repos = _repos_holding(args.names)
    else:
        repos = lifecycle.target_repos(args.all, args.repo, "restore every repository")
    if args.names:
        known: set[str] = set()
        for repo in repos:
            try:
                good, bad = registry.load_each(repo)
                known.update(good)
                known.update(bad)
            except AgentsError:
                if not args.all:
                    raise
        unknown = list(dict.fromkeys(name for name in args.names if name not in known))
        where = "any known repository" if args.all or anywhere else str(repos[0])
        missing = [f"no agent is called {name!r} in {where} (see `agents list`; other repositories need --repo DIR)" for name in unknown]
        if missing and len(unknown) == len(set(args.names)):
            raise AgentsError(missing[0])
        # The others are restored, each reported, as rm handles several names.
        args.names = [name for name in args.names if name not in unknown]
    else:
        missing = []
    if not args.from_key and not panes.is_running(socket):
        # No server at all (after a reboot): start one as `agents up -d` does, then restore into it.
        from agents_tmux.commands.up import start_server_for

        waiting = [repo for repo in repos if _has_active(repo, args.names)]
        if not waiting:
            if not args.quiet:
                print("nothing to restore: no agent is recorded as active (and no tmux server runs)")
            return 0
        socket, attach = start_server_for(socket, waiting[0])
        args.socket_name, args.socket_path = socket.name, socket.path
        print(f"started a tmux server for {waiting[0]}; attach with: {attach}")
    server = panes.connect(socket)
    if args.wait_session:
        # At server start (@agents-restore on) the first session may still be on its way.
        deadline = time.monotonic() + args.wait_session
        while time.monotonic() < deadline and not server.cmd("list-sessions", "-F", "#{session_id}").stdout:
            time.sleep(0.1)
    outcomes = []
    # A registry so damaged that its repository cannot be told is still reported.
    problems = [f"{path}: the registry {problem}; fix it or move it aside" for path, problem in registry.unreadable()] if args.all else []
    if len(repos) > 1 and not args.force:
        # The cap is filled repository by repository: the one worked in last goes first.
        repos = sorted(repos, key=_newest_activity, reverse=True)
    for repo in repos:
        try:
            outcomes += restore_mod.restore_repo(server, repo, args.session, tuple(args.names), force=args.force)
        except AgentsError as exc:
            if not args.all:
                raise
            problems.append(f"{repo}: {exc}")
    restored = [f"restored {o.name}: {o.message}" for o in outcomes if o.restored]
    # What was not restored is a refusal: on stderr (exit status 1), as rm's are.
    here = lifecycle.repo_of(None) if any(o.capped for o in outcomes) else None
    refused = [f"not restored {o.name} ({o.repo}): {o.message}"
               + (f"; to bring it back anyway: {_forced_line(args, o, here)}" if o.capped else "")
               for o in outcomes if not o.restored]
    refused += [f"skipped {p}" for p in problems]
    refused += missing
    if args.from_key:
        summary = f"restored {len(restored)} agent{'s' if len(restored) != 1 else ''}"
        capped = sum(1 for o in outcomes if o.capped)
        if len(refused) > capped:
            summary += f", {len(refused) - capped} not (see: agents restore)"
        if capped:
            # As spawn does at the cap from a key: ask, and on "y" run the same restore with --force.
            from agents_tmux.keyflow import confirm_then_rerun

            them = "it" if capped == 1 else "them"
            prompt = f"{summary}; {capped} held back by the cap (@agents-max). Restore {them} too? (y/n)"
            confirm_then_rerun(server, args, _forced_words(args, repos), prompt)
            return 0
        display_message(socket, f"agents: {summary}" if restored or refused else "agents: every agent is running", args.client)
    elif restored or refused:
        if restored:
            print("\n".join(restored), flush=True)
        if refused:
            print("\n".join(f"agents restore: {line}" for line in refused), file=sys.stderr)
    elif not args.quiet:
        print("nothing to restore: every active agent is running")
    return 1 if (problems or missing or any(not o.restored for o in outcomes)) and not args.quiet and not args.from_key else 0


def _newest_activity(repo: Path) -> float:
    """When an active agent of ``repo`` was last at work (0 when none, or its registry cannot be read)."""
    from agents_tmux import registry
    from agents_tmux.restore import last_active

    try:
        entries, _ = registry.load_each(repo)
    except AgentsError:
        return 0.0
    return max((last_active(entry) for entry in entries.values() if entry.get("status", registry.ACTIVE) == registry.ACTIVE), default=0.0)


def _forced_line(args: argparse.Namespace, outcome: Outcome, here: Path | None) -> str:
    """The `agents restore NAME --force` line that brings back an agent the cap left out, to paste where this ran."""
    where = [] if outcome.repo == here else ["--repo", str(outcome.repo)]
    session = ["--session", args.session] if args.session else []
    return command_hint(args, "restore", outcome.name, *where, *session, "--force")


def _forced_words(args: argparse.Namespace, repos: list[Path]) -> list[str]:
    """This restore again, from the key, past the cap: the same agents, repositories and session."""
    words = ["restore", "--from-key", "--force", *args.names]
    if args.all:
        words.append("--all")
    elif len(repos) == 1:
        words += ["--repo", str(repos[0])]
    if args.session:
        words += ["--session", args.session]
    return words


def _pane_folder(socket: Socket, pane: str) -> str | None:
    """The folder of ``pane`` (the menu's origin): its repository is the one to restore."""
    from agents_tmux import panes

    lines = panes.run(panes.connect(socket), "display-message", "-p", "-t", pane, "#{pane_current_path}")
    return lines[0] if lines and lines[0] else None


def _repos_holding(names: list[str]) -> list[Path]:
    """The known repositories whose registry names one of ``names``; a name active in several is refused."""
    from agents_tmux import registry

    holding: dict[str, list[Path]] = {name: [] for name in names}
    for repo in registry.known_repos():
        try:
            entries = registry.load(repo)
        except AgentsError:
            continue
        for name in names:
            entry = entries.get(name)
            if isinstance(entry, dict) and entry.get("status", registry.ACTIVE) == registry.ACTIVE:
                holding[name].append(repo)
    for name, repos in holding.items():
        if len(repos) > 1:
            raise AgentsError(f"several repositories have an agent called {name!r} ({', '.join(map(str, repos))}): "
                              "say which with --repo DIR")
    found = list(dict.fromkeys(repo for repos in holding.values() for repo in repos))
    if not found:
        raise AgentsError(f"no active agent is called {names[0]!r} in any known repository (see `agents list --all`)")
    return found


def _has_active(repo: object, names: list[str]) -> bool:
    """True when ``repo``'s registry holds an active agent (one of ``names``, when given)."""
    from agents_tmux import registry

    assert isinstance(repo, Path)
    try:
        entries = registry.load(repo)
    except AgentsError:
        return True  # restore itself reports the damage
    return any(
        isinstance(entry, dict) and entry.get("status", registry.ACTIVE) == registry.ACTIVE and (not names or name in names)
        for name, entry in entries.items()
    )
