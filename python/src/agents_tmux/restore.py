"""Bring agents back after tmux (or the machine) restarted: one window per agent, conversation resumed.

The registry of each repository says which agents should exist (status
``active``); those without a pane in this tmux server get a new window in
their worktree running the agent with ``resume_command``: Claude resumes
the exact conversation (``--resume <session id>``) when its transcript is
there, else continues the newest one in that folder (``--continue``), else
starts afresh. ``agents restart`` uses the same command in the pane the
agent exited in.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agents_tmux import config as config_mod
from agents_tmux import panes, programs, registry
from agents_tmux.errors import AgentsError
from agents_tmux.launch import Launch, resume_command, start_command
from agents_tmux.lifecycle import AgentRef, _from_entry
from agents_tmux.tmuxcmd import no_formats

if TYPE_CHECKING:
    from agents_tmux import tmuxcmd

    from agents_tmux.config import AgentKind, Config


# --------------------------------------------------------------------------
# which conversation to resume


def transcript_of(ref: AgentRef, kind: AgentKind) -> Path | None:
    """The transcript of the agent's recorded session, if it exists with a conversation."""
    if not ref.session_id or ref.worktree is None:
        return None
    program = programs.get(kind.program)
    recorded = ref.transcript if program.valid_transcript(ref.transcript) else ""
    return program.transcript(ref.worktree, ref.session_id, recorded)


def check_session_id(ref: AgentRef, kind: AgentKind) -> None:
    """A clear error when the recorded session id is not one of the program's (it would reach argv)."""
    program = programs.get(kind.program)
    if ref.session_id and not program.valid_session_id(ref.session_id):
        raise AgentsError(
            f"the recorded session id of {ref.name} ({ref.session_id[:60]!r}) is not a {program.name} session id; "
            "it was not used: fix or clear session_id in its registry entry"
        )


@dataclass(frozen=True)
class Relaunch:
    launch: Launch
    #: "resume" (that session), "continue" (the newest in the folder) or "fresh".
    how: str
    transcript: str = ""


def relaunch_command(ref: AgentRef, kind: AgentKind, add_dirs: tuple[str, ...] = ()) -> Relaunch:
    """The command that brings ``ref``'s conversation back, and how it does."""
    check_session_id(ref, kind)
    transcript = transcript_of(ref, kind)
    workdir = ref.worktree if ref.worktree is not None and ref.worktree.is_dir() else ref.repo
    if transcript is not None and kind.resume:
        return Relaunch(resume_command(kind, ref.session_id, ref.system_prompt, add_dirs, workdir), "resume", str(transcript))
    if kind.continue_args:
        # Continue only where the program keeps a conversation (None: it cannot tell).
        found = programs.get(kind.program).has_conversations(ref.worktree)
        if found is not False:
            return Relaunch(resume_command(kind, "", ref.system_prompt, add_dirs, workdir), "continue")
    return Relaunch(start_command(kind, "", ref.system_prompt, ref.name, add_dirs, workdir), "fresh")


def _extra_dirs(ref: AgentRef, cfg: Config) -> tuple[str, ...]:
    """The shared context folder for an agent in its own worktree (see ``context.extra_dirs``)."""
    from agents_tmux import context as context_mod

    if not ref.own_worktree:
        return ()
    try:
        return context_mod.extra_dirs(ref.repo, cfg, ref.worktree)
    except AgentsError:
        return ()


def pane_facts(ref: AgentRef, kind_name: str, session_id: str, transcript: str) -> dict[str, str]:
    """The pane options of a restored or restarted agent (state ``starting``)."""
    facts = {
        "@agent_name": ref.name,
        "@agent_kind": kind_name,
        "@agent_branch": ref.branch,
        "@agent_base": ref.base,
        "@agent_worktree": str(ref.worktree or ref.repo),
        "@agent_repo": str(ref.repo),
        "@agent_role": ref.role,
        "@agent_task": ref.task,
        "@agent_session_id": session_id,
        "@agent_state": "starting",
        "@agent_state_since": str(int(time.time())),
        "@agent_exit_status": "",
        "@agent_setup": "",
    }
    if transcript:
        facts["@agent_transcript"] = transcript
    if ref.entry.get("pr_url"):
        facts["@agent_pr"] = str(ref.entry["pr_url"])
    return facts


def server_socket(server: tmuxcmd.Server) -> str:
    """The socket path of ``server`` ('' when it cannot tell)."""
    return server.socket_in_use()


def alive_elsewhere(entry: registry.Entry, repo: Path, my_socket: str) -> bool:
    """True when the agent runs in another tmux server (the one it was last started in)."""
    socket = entry.get("socket")
    if not isinstance(socket, str) or not socket or socket == my_socket or not os.path.exists(socket):
        return False
    from agents_tmux.tmuxtext import counted_format, parse_counted

    try:
        proc = subprocess.run(
            ["tmux", "-u", "-S", socket, "list-panes", "-a", "-F", counted_format(["@agent_name", "@agent_repo"])],
            capture_output=True, timeout=3, check=False, stdin=subprocess.DEVNULL,
        )
        # Read by length: a repository path may hold a tab or a newline.
        records = parse_counted(proc.stdout, 2) if proc.returncode == 0 else []
    except (OSError, subprocess.SubprocessError, ValueError):
        return False
    return [str(entry.get("name")), str(repo)] in records


# --------------------------------------------------------------------------
# restoring


@dataclass(frozen=True)
class Outcome:
    name: str
    repo: Path
    restored: bool
    message: str
    #: Not restored only because the cap (``max_agents``) was reached: ``--force`` brings it back.
    capped: bool = False


def last_active(entry: registry.Entry) -> float:
    """When the agent was last at work, as far as its record tells: its transcript last written, else its last start."""
    if not isinstance(entry, dict):
        return 0.0
    stamps = [float(value) for key in ("created", "restored", "restarted", "unparked", "session_at")
              if isinstance(value := entry.get(key), (int, float)) and not isinstance(value, bool)]
    transcript = entry.get("transcript")
    if isinstance(transcript, str) and transcript:
        try:
            stamps.append(os.stat(transcript).st_mtime)
        except OSError:
            pass
    return max(stamps, default=0.0)


def _session_for(server: tmuxcmd.Server, repo: Path, wanted: str | None) -> str:
    """The session restored windows go to: ``wanted``, else the repository's own (made if needed)."""
    from agents_tmux import sessions

    if not wanted:
        return sessions.ensure(panes.socket_of_server(server), repo)[0]
    if server.cmd("has-session", "-t", f"={wanted}").returncode != 0:
        raise AgentsError(f"no tmux session is called {wanted!r}")
    return wanted


def restore_repo(server: tmuxcmd.Server, repo: Path, session: str | None = None, names: tuple[str, ...] = (),
                 force: bool = False) -> list[Outcome]:
    """Restore every active agent of ``repo`` that has no pane in ``server``, up to the cap unless ``force``.

    The cap is counted as spawn counts it, under the same lock. When it
    leaves room for only some, the most recently active come back first
    (:func:`last_active`): the ones the user was working with.
    """
    from agents_tmux.spawn import repo_lock, running_agents

    outcomes: list[Outcome] = []
    # Under the spawn lock: two restores (the one at server start, one by
    # hand) never bring the same agent back twice.
    with repo_lock(repo):
        # One entry out of shape is reported and skipped; the others are restored.
        entries, bad = registry.load_each(repo)
        for name, problem in sorted(bad.items()):
            if not names or name in names:
                outcomes.append(Outcome(name, repo, False, f"its entry in the agent registry {registry.registry_path(repo)} "
                                                           f"is out of shape ({problem}): fix or remove it"))
        live = {(a.name, Path(a.repo)) for a in panes.list_agents(server)}
        my_socket = server_socket(server)
        pending = [
            entry for name, entry in sorted(entries.items(), key=lambda item: (-last_active(item[1]), item[0]))
            if isinstance(entry, dict) and entry.get("status", registry.ACTIVE) == registry.ACTIVE
            and (not names or name in names) and (name, repo) not in live
        ]
        from agents_tmux.cli import hint
        from agents_tmux.parking import PARKED

        for name in dict.fromkeys(names):
            # Asked for by name but not restorable: say why, never "every agent is running".
            status = entries[name].get("status", registry.ACTIVE) if isinstance(entries.get(name), dict) else None
            why = {
                registry.REMOVED: "was removed with `agents rm`: removed agents are not restored",
                PARKED: f"is parked: bring it back with `{hint('unpark', name)}`",
                registry.STARTING: f"is still being spawned (on record as starting; `{hint('prune')}` tells whether that spawn died)",
            }.get(status or "")
            if why:
                outcomes.append(Outcome(name, repo, False, why))
        if not pending:
            return outcomes
        cfg = config_mod.load(repo, panes.plugin_options(server))
        room = None if force else cfg.max_agents - running_agents(server, repo, entries)
        target_session = ""
        for entry in pending:
            ref = _from_entry(repo, entry)
            if alive_elsewhere(entry, repo, my_socket):
                outcomes.append(Outcome(ref.name, repo, False, f"runs in another tmux server ({entry.get('socket')})"))
                continue
            if ref.worktree is None or not ref.worktree.is_dir():
                outcomes.append(Outcome(ref.name, repo, False, f"its worktree {ref.worktree} is gone ({hint('prune')} cleans up)"))
                continue
            try:
                kind = cfg.agent_kind(ref.kind or None)
            except AgentsError as exc:
                outcomes.append(Outcome(ref.name, repo, False, str(exc)))
                continue
            if room is not None and room <= 0:
                outcomes.append(Outcome(ref.name, repo, False, f"the cap of {cfg.max_agents} running agents (@agents-max) is reached: "
                                                               "each one spends API quota", capped=True))
                continue
            # A missing --session is the command's error, not one agent's.
            target_session = target_session or _session_for(server, repo, session)
            try:
                pane_id, how = open_agent_window(server, cfg, kind, ref, target_session)
            except AgentsError as exc:  # this agent's (a bad session id...): reported, the others go on
                outcomes.append(Outcome(ref.name, repo, False, str(exc)))
                continue
            outcomes.append(Outcome(ref.name, repo, True, f"{how} in {ref.worktree} (pane {pane_id})"))
            if room is not None:
                room -= 1
    return outcomes


def open_agent_window(server: tmuxcmd.Server, cfg: Config, kind: AgentKind, ref: AgentRef, session: str) -> tuple[str, str]:
    """A new window named after the agent, running it resumed; returns (pane id, how)."""
    from agents_tmux import panelog
    from agents_tmux.spawn import agent_program

    again = relaunch_command(ref, kind, _extra_dirs(ref, cfg))
    assert ref.worktree is not None
    port = agent_port(cfg, ref)
    lines = panes.run(
        server, "new-window", "-d", "-t", f"{session}:", "-n", no_formats(ref.name), "-c", no_formats(str(ref.worktree)),
        "-P", "-F", "#{pane_id}", *agent_program(again.launch, cfg, kind, ref.name, port),
    )
    pane_id = lines[0].strip() if lines else ""
    if not pane_id.startswith("%"):
        raise AgentsError(f"tmux did not report the new pane of {ref.name}")
    server.cmd("select-pane", "-t", pane_id, "-T", no_formats(ref.name))
    session_id = again.launch.session_id
    panes.set_pane_options(server, pane_id, {**pane_facts(ref, kind.name, session_id, again.transcript), "@agent_port": str(port or "")},
                           keep_existing=("@agent_state", "@agent_state_since", "@agent_session_id", "@agent_transcript", "@agent_setup"))
    panelog.start_if_enabled(server, pane_id, ref.repo, ref.name)
    _record(ref, again, restored=int(time.time()), socket=server_socket(server), port=port)
    return pane_id, _how(again)


def restart_in_pane(server: tmuxcmd.Server, ref: AgentRef) -> str:
    """Run the agent again, resumed, in the pane it exited in (``respawn-pane -k``)."""
    from agents_tmux import panelog
    from agents_tmux.spawn import agent_program

    cfg = config_mod.load(ref.repo, panes.plugin_options(server))
    kind = cfg.agent_kind(ref.kind or None)
    again = relaunch_command(ref, kind, _extra_dirs(ref, cfg))
    directory = ref.worktree if ref.worktree is not None and ref.worktree.is_dir() else ref.repo
    # The state is set before the pane restarts, so a hook that fires at once is not overwritten.
    port = agent_port(cfg, ref)
    facts = {**pane_facts(ref, kind.name, again.launch.session_id, again.transcript), "@agent_port": str(port or "")}
    panes.set_pane_options(server, ref.pane_id, facts)
    panes.run(server, "respawn-pane", "-k", "-t", ref.pane_id, "-c", no_formats(str(directory)),
              *agent_program(again.launch, cfg, kind, ref.name, port))
    panelog.start_if_enabled(server, ref.pane_id, ref.repo, ref.name)
    _record(ref, again, restarted=int(time.time()), port=port)
    return _how(again)


def agent_port(cfg: Config, ref: AgentRef) -> int:
    """The port the agent comes back with: the one it had when still free, else a free one (0: ports are off)."""
    from agents_tmux import ports

    recorded = ref.entry.get("port")
    return ports.for_agent(cfg.ports, ref.repo, ref.name, recorded if isinstance(recorded, int) else 0)


def _record(ref: AgentRef, again: Relaunch, **fields: object) -> None:
    """Note the restart in the registry; a continued session's id comes later from the hook."""
    if again.launch.session_id:
        fields["session_id"] = again.launch.session_id
    if again.transcript:
        fields["transcript"] = again.transcript
    registry.update(ref.repo, ref.name, **fields)


def _how(again: Relaunch) -> str:
    if again.how == "resume":
        return f"resumed session {again.launch.session_id}"
    if again.how == "continue":
        return "continued the newest conversation in its worktree"
    return "started afresh (no conversation to resume)"
