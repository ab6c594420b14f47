"""Park an agent (stop it, keep its work and conversation, free its pane and worktree) and bring it back.

Parking is ``rm --force`` that keeps the agent: the pane is closed first so
the agent writes nothing more, every uncommitted and untracked file is
committed on its branch (:func:`lifecycle.save_work`), the worktree is
removed, and the registry entry stays with status ``parked``, its branch
and its conversation id. A parked agent has no pane, so it costs no quota,
is not in the status bar and does not count against the cap.

Unparking adds the worktree back at the same path from the branch (Claude
Code keeps a conversation per folder, so the same path finds it again),
copies the configured files in, and opens a window running the agent with
its conversation resumed, exactly as ``agents restore`` does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agents_tmux import config as config_mod
from agents_tmux import context as context_mod
from agents_tmux import gitops, lifecycle, panes, ports, registry
from agents_tmux.errors import AgentsError

if TYPE_CHECKING:
    from agents_tmux import tmuxcmd

    from agents_tmux.lifecycle import AgentRef

#: Registry status of a parked agent (beside ``active`` and ``removed``).
PARKED = "parked"


@dataclass(frozen=True)
class Parked:
    """What parking did."""

    branch: str
    commit: str
    committed: bool
    pane_closed: bool
    #: The archive of ignored files that were work (as ``rm --force`` keeps them), and those files.
    archive: Path | None
    archived: list[str]


def park(server: tmuxcmd.Server | None, ref: AgentRef, close_own_pane_later: bool = False) -> Parked:
    """Stop ``ref``, save its work on its branch, remove its worktree, mark it parked.

    The caller holds the repository lock. With ``close_own_pane_later`` the
    pane is the caller's own (the shell left after the agent exited): it is
    left for the caller to close once it has reported.
    """
    from agents_tmux.cli import hint

    if not ref.own_worktree:
        raise AgentsError(f"{ref.name} works in the main checkout: there is no worktree to free; stop it with {hint('rm', ref.name)}")
    if ref.status == PARKED:
        raise AgentsError(f"{ref.name} is parked already (bring it back with {hint('unpark', ref.name)})")
    if ref.status == registry.REMOVED:
        raise AgentsError(f"{ref.name} was removed: there is nothing to park")
    lifecycle.refuse_if_elsewhere(server, ref, "park")
    work = lifecycle.inspect(ref)
    if not work.worktree_exists and not work.branch_exists:
        raise AgentsError(f"{ref.name} has neither its worktree {ref.worktree} nor its branch {ref.branch}: nothing to park")
    if work.nested_repos:
        raise AgentsError(
            f"{ref.worktree} holds git repositories of its own ({lifecycle.sample(work.nested_repos)}): git cannot save them "
            "in a commit; move them out of the worktree first; nothing was changed"
        )
    if work.kept_ignored:
        folder = lifecycle.archive_folder(ref.repo)
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise AgentsError(f"cannot make {folder} for the archive of {ref.name}'s ignored files ({exc.strerror}); nothing was changed") from None
    # The agent stops first, so it writes nothing after the save.
    closed = not close_own_pane_later and lifecycle.close_pane(server, ref)
    branch, commit, committed = ref.branch, "", False
    archive: Path | None = None
    archived: list[str] = []
    if work.worktree_exists:
        work = lifecycle.inspect(ref)
        saved = lifecycle.save_work(ref, work)
        # Ignored files that are work go into an archive, as with rm --force; then the worktree goes.
        archive, archived = lifecycle.archive_ignored(ref)
        lifecycle.remove_worktree(ref, work)
        branch, commit, committed = saved.branch, saved.commit, saved.committed
    else:
        commit = gitops.git(ref.repo, "rev-parse", f"refs/heads/{ref.branch}").stdout.strip()
    fields: dict[str, object] = {"status": PARKED, "parked": int(time.time()), "branch": branch, "saved_commit": commit}
    if archive is not None:
        fields["archive"] = str(archive)
    registry.update(ref.repo, ref.name, **fields)
    ports.release(ref.repo, ref.name)
    return Parked(branch=branch, commit=commit, committed=committed, pane_closed=closed, archive=archive, archived=archived)


def unpark(server: tmuxcmd.Server, ref: AgentRef, session: str | None, force: bool) -> tuple[str, str]:
    """Recreate ``ref``'s worktree from its branch and resume it in a new window; (pane id, how).

    The caller holds the repository lock; ``ref`` comes from the registry
    as read under it.
    """
    from agents_tmux import restore, spawn

    if ref.status != PARKED:
        raise AgentsError(f"{ref.name} is not parked ({'it runs in pane ' + ref.pane_id if ref.live else 'status ' + ref.status})")
    if ref.worktree is None or not ref.branch:
        raise AgentsError(f"{ref.name} has no worktree or branch on record: it cannot be brought back")
    repo = gitops.Repo(root=ref.repo, worktree=ref.repo)
    if not gitops.branch_exists(repo, ref.branch):
        raise AgentsError(f"the branch {ref.branch} of {ref.name} no longer exists: there is no work to bring back")
    if ref.worktree.exists() or ref.worktree.is_symlink():
        from agents_tmux.cli import hint

        raise AgentsError(f"{ref.worktree} exists already: move it away, then run {hint('unpark', ref.name)} again; nothing was changed")
    cfg = config_mod.load(ref.repo, panes.plugin_options(server))
    kind = cfg.agent_kind(ref.kind or None)
    if not force:
        running = spawn.running_agents(server, ref.repo)
        if running >= cfg.max_agents:
            raise spawn.CapReached(running, cfg.max_agents)
    target = session or _current_session(server) or restore._session_for(server, ref.repo, None)
    ref.worktree.parent.mkdir(parents=True, exist_ok=True)
    gitops.git(ref.repo, "worktree", "add", "--quiet", str(ref.worktree), ref.branch)
    # Active before the pane opens: the hook records a resumed session's new id only for active agents.
    registry.update(ref.repo, ref.name, status=registry.ACTIVE, unparked=int(time.time()))
    try:
        spawn.copy_files(repo, ref.worktree, cfg.copy_files)
        spawn.copy_worktree_include(repo, ref.worktree)
        context_mod.prepare(repo, cfg, ref.worktree)
        pane_id, how = restore.open_agent_window(server, cfg, kind, ref, target)
    except BaseException:
        registry.update(ref.repo, ref.name, status=PARKED)
        gitops.git(ref.repo, "worktree", "remove", "--force", str(ref.worktree), check=False)
        raise
    return pane_id, how


def _current_session(server: tmuxcmd.Server) -> str:
    """The session of the pane this command runs in, when it is on ``server`` ("" otherwise)."""
    import os

    from agents_tmux.restore import server_socket

    pane = os.environ.get("TMUX_PANE", "")
    if not pane or os.environ.get("TMUX", "").split(",")[0] != server_socket(server):
        return ""
    result = server.cmd("display-message", "-p", "-t", pane, "#{session_id}")
    return result.stdout[0].strip() if result.returncode == 0 and result.stdout else ""


def parked_agents() -> list[panes.Agent]:
    """The parked agents of every known repository, as :class:`panes.Agent` rows without a pane (``list --all``)."""
    found: list[panes.Agent] = []
    for repo in registry.known_repos():
        try:
            entries = registry.load(repo)
        except AgentsError:
            continue  # `agents list` is no place to fail on a damaged registry; restore and doctor report it
        for name, entry in sorted(entries.items()):
            if not isinstance(entry, dict) or entry.get("status") != PARKED:
                continue
            facts = {key: str(entry.get(key) or "") for key in
                     ("kind", "branch", "base", "worktree", "role", "task", "session_id", "transcript")}
            found.append(panes.Agent(
                pane_id="", session="", window_index="", window_id="", pane_pid="", name=name, state=PARKED,
                state_since=str(entry.get("parked") or ""), repo=str(repo), pr=str(entry.get("pr_url") or ""), **facts,
            ))
    return found
