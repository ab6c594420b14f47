"""``agents spawn``: a task in, a new worktree, branch and pane with the agent running.

The order of work is chosen so that a failure leaves nothing half made:
everything that can be refused (bad task, no repository, bad config) is
checked before the first thing is created. Then, under the repository lock
(see ``repolock``), the cap is checked, the agent is put on record as
``starting`` (so prune and the cap see it), its worktree and pane are made,
and the record becomes ``active``. A failure at any step takes back exactly
what this call made (pane, worktree, branch, record) and says what to fix.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from agents_tmux import tmuxcmd

from agents_tmux import config as config_mod
from agents_tmux import context as context_mod
from agents_tmux import gitops, panefit, panes, paths, ports, registry
from agents_tmux.config import AgentKind, Config
from agents_tmux.errors import AgentsError
from agents_tmux.launch import Launch, chosen_session_id, start_command
from agents_tmux.names import numbered, slugify
from agents_tmux.tmuxcmd import no_formats

#: How many numbered names (slug, slug-2, ...) to try before giving up.
MAX_NUMBER = 1000


@dataclass(frozen=True)
class Placement:
    """Exactly where the pane opens, instead of ``target`` (teams lay out whole windows).

    ``command`` is ``split-window``, ``new-window`` or ``new-session``; ``args``
    its placement flags (``-h -f -l 40% -t %3``, ``-a -t @2 -n NAME``,
    ``-s NAME -n NAME``). The folder, environment and program are added by spawn.
    """

    command: str
    args: tuple[str, ...] = ()


@dataclass
class SpawnRequest:
    """Everything ``agents spawn`` was asked for."""

    task: str
    agent: str | None = None
    base: str | None = None
    target: str | None = None
    #: The pane the request came from: its folder is the repository, its window the split target.
    origin_pane: str | None = None
    #: Folder to find the repository in when there is no origin pane.
    directory: str | None = None
    focus: bool | None = None
    force: bool = False
    role: str = ""
    system_prompt: str = ""
    #: Name stem to use instead of the task's slug (team roles: "<task>-<role>").
    slug: str | None = None
    #: False: the agent works in the main checkout, no worktree or branch of its own.
    worktree: bool = True
    extra_options: dict[str, str] = field(default_factory=dict)
    #: Fills the system prompt in once the name, branch and worktree are known: (name, branch, worktree) -> prompt.
    system_prompt_for: Callable[[str, str, Path], str] | None = None
    #: Where the pane opens, overriding ``target`` (see :class:`Placement`).
    placement: Placement | None = None


@dataclass(frozen=True)
class Spawned:
    """What a spawn made."""

    name: str
    pane_id: str
    branch: str
    worktree: Path
    repo: Path
    session_id: str


class CapReached(AgentsError):
    """More agents would run than ``max_agents`` allows."""

    def __init__(self, running: int, limit: int) -> None:
        super().__init__(
            f"{running} agents are running and the cap is {limit} (@agents-max): "
            "each one spends API quota; use --force to start one more"
        )
        self.running = running
        self.limit = limit


class BudgetNear(AgentsError):
    """The agents' spending is at ``warn_percent`` or more of a [budget] in the config."""

    def __init__(self, description: str) -> None:
        super().__init__(f"{description}: use --force to start one more anyway (see `agents usage`)")
        self.description = description


def check_budget(cfg: Config) -> None:
    """Publish the config's prices and budgets for the hook; refuse when a budget is near or spent."""
    from agents_tmux import usage

    usage.write_settings(dict(cfg.prices), dict(cfg.budget))
    settings = usage.read_settings()
    if not cfg.budget or set(cfg.budget) == {"warn_percent"}:
        return
    now = time.time()
    use = usage.budget_use(settings, usage.load_tallies(newer_than=now - 86400), now)
    if usage.budget_level(use, usage.warn_share(settings)):
        raise BudgetNear(usage.describe_budget(use[0]) + (" is spent" if use[0][1] >= 1 else ""))


def running_agents(server: tmuxcmd.Server, repo_root: Path | None = None, entries: dict[str, registry.Entry] | None = None) -> int:
    """Agents that count against the cap: every live agent not yet exited, plus
    the agents of ``repo_root`` on record as ``starting`` that may be running
    (a spawn at work, or one that died after its pane opened).

    ``entries``: the registry of ``repo_root`` as the caller read it (restore
    reads it entry by entry, so that one entry out of shape stops nothing).
    """
    live = panes.list_agents(server)
    count = sum(1 for agent in live if agent.state != "exited")
    if repo_root is not None:
        from agents_tmux import liveness

        named = {agent.name for agent in live if agent.repo == str(repo_root)}
        sockets = (server.socket_in_use(),)
        for name, entry in (registry.load(repo_root) if entries is None else entries).items():
            if entry.get("status") == registry.STARTING and name not in named and liveness.check(entry, repo_root, sockets).live:
                count += 1
    return count


def origin_directory(server: tmuxcmd.Server, request: SpawnRequest) -> tuple[Path, str | None]:
    """The folder the repository is looked up in, and the pane to split."""
    if request.directory:
        return Path(request.directory).expanduser().resolve(), request.origin_pane
    if request.origin_pane:
        lines = panes.run(server, "display-message", "-p", "-t", request.origin_pane, "#{pane_current_path}")
        if lines and lines[0]:
            return Path(lines[0]), request.origin_pane
    return Path.cwd(), request.origin_pane


def origin_facts(server: tmuxcmd.Server, request: SpawnRequest) -> tuple[Path, str | None, dict[str, str]]:
    """:func:`origin_directory`, and the plugin's options (``@agents-*``), in one tmux call when there is an origin pane.

    The server's socket path comes along too (the record names it); an
    origin pane that does not exist is a clear error, before anything is made.
    """
    if request.origin_pane:
        names = ("pane_id", "pane_current_path", "socket_path", *panes.PLUGIN_OPTIONS)
        records = panes.read_records(server, names, "display-message", "-p", "-t", request.origin_pane, check=False)
        # An unknown pane: tmux says so, or (some targets) prints nothing and exits 0.
        if not records or not records[0][0].startswith("%"):
            raise AgentsError(f"no pane {request.origin_pane!r} in this tmux server (see: {panes.tmux_line(server.socket, 'list-panes', '-a')})")
        _, current, socket_path, *values = records[0]
        server.note_socket_in_use(socket_path)
        if request.directory:
            directory = Path(request.directory).expanduser().resolve()
        else:
            directory = Path(current) if current else Path.cwd()
        return directory, request.origin_pane, dict(zip(panes.PLUGIN_OPTIONS, values))
    directory, origin = origin_directory(server, request)
    return directory, origin, panes.plugin_options(server)


def _free_name(repo: gitops.Repo, cfg: Config, stem: str, use_worktree: bool) -> tuple[str, str, Path]:
    """The first ``stem``, ``stem-2``... whose branch and folder are both unused."""
    known = gitops.registered_worktrees(repo) if use_worktree else set()
    recorded = registry.load(repo.root)
    for number in range(1, MAX_NUMBER + 1):
        name = numbered(stem, number)
        if name in recorded and recorded[name].get("status") != "removed":
            continue
        branch = f"{cfg.branch_prefix}{name}"
        path = worktree_path(repo, cfg, name)
        if not use_worktree:
            return name, "", repo.root
        if gitops.branch_exists(repo, branch) or path.exists() or path in known:
            continue
        if not gitops.valid_branch_name(repo, branch):
            raise AgentsError(f"{branch!r} is not a valid branch name: check branch_prefix in the config")
        return name, branch, path
    raise AgentsError(f"every name from {stem} to {numbered(stem, MAX_NUMBER)} is taken: remove old agents first")


def worktree_path(repo: gitops.Repo, cfg: Config, name: str) -> Path:
    """Where the worktree of agent ``name`` goes, from the ``worktree_dir`` template."""
    try:
        text = cfg.worktree_dir.format(
            repo_parent=str(repo.root.parent), repo_name=repo.name, repo=str(repo.root), slug=name
        )
    except (KeyError, IndexError, ValueError) as exc:
        raise AgentsError(f"config error: defaults.worktree_dir: cannot fill in {cfg.worktree_dir!r} ({exc})") from None
    path = Path(os.path.expanduser(text))
    if not path.is_absolute():
        path = repo.root / path
    return Path(os.path.normpath(path))


def repo_lock(repo_root: Path) -> AbstractContextManager[None]:
    """The repository lock (see :mod:`agents_tmux.repolock`): decide and act as one step."""
    from agents_tmux.repolock import repo_lock as lock

    return lock(repo_root)


def copy_files(repo: gitops.Repo, worktree: Path, patterns: tuple[str, ...]) -> list[str]:
    """Copy the configured untracked files (``.env``...) into a new worktree."""
    copied: list[str] = []
    for pattern in patterns:
        for source in sorted(glob.glob(pattern, root_dir=repo.root, include_hidden=True)):
            src = repo.root / source
            dest = worktree / source
            if not src.is_file() or dest.exists() or ".." in Path(source).parts:
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            import shutil

            shutil.copy2(src, dest)
            copied.append(source)
    return copied


#: Claude Code's file of gitignore patterns: the ignored files to copy into new worktrees.
WORKTREE_INCLUDE = ".worktreeinclude"


def worktree_include_files(root: Path) -> list[str]:
    """Files of the checkout at ``root`` that ``.worktreeinclude`` names and git ignores (paths relative to it).

    As Claude Code reads the file: a file is copied only when it matches a
    pattern *and* is ignored, so nothing git tracks is ever duplicated.
    """
    include = root / WORKTREE_INCLUDE
    if not include.is_file():
        return []
    listed = gitops.git(root, "ls-files", "-z", "--others", "--ignored", f"--exclude-from={include}", check=False)
    candidates = [p for p in listed.stdout.split("\0") if p] if listed.returncode == 0 else []
    if not candidates:
        return []
    proc = subprocess.run(["git", "-C", str(root), "check-ignore", "-z", "--stdin"], input="\0".join(candidates) + "\0",
                          capture_output=True, text=True, check=False)
    return sorted(p for p in proc.stdout.split("\0") if p)


def copy_worktree_include(repo: gitops.Repo, worktree: Path) -> list[str]:
    """Copy the ignored files ``.worktreeinclude`` names into a new worktree (regular files, never over one there)."""
    copied: list[str] = []
    for rel in worktree_include_files(repo.root):
        src, dest = repo.root / rel, worktree / rel
        if src.is_symlink() or not src.is_file() or dest.exists() or dest.is_symlink() or ".." in Path(rel).parts:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        import shutil

        shutil.copy2(src, dest)
        copied.append(rel)
    return copied


def agent_program(launch: Launch, cfg: Config, kind: AgentKind, name: str, port: int = 0) -> list[str]:
    """The end of a pane-creating tmux command: ``-e`` variables, ``--``, run-agent, the agent's argv.

    The same for split-window, new-window and respawn-pane, so spawn,
    restore and restart start an agent's pane identically. ``{port}`` in
    the kind's own command words becomes the agent's port (never in the
    task or other text that follows them).
    """
    env_args: list[str] = []
    for key, value in pane_environment(launch, cfg, kind, name, port).items():
        env_args += ["-e", f"{key}={value}"]
    own = len(kind.command)
    argv = [with_port(word, port) for word in launch.argv[:own]] + list(launch.argv[own:])
    return [*env_args, "--", str(paths.script("run-agent")), *argv]


def with_port(text: str, port: int) -> str:
    """``text`` with ``{port}`` filled in (empty when the agent has no port).

    >>> with_port("npm run dev -- --port {port}", 41002)
    'npm run dev -- --port 41002'
    """
    return text.replace("{port}", str(port) if port else "")


def pane_environment(launch: Launch, cfg: Config, kind: AgentKind, name: str, port: int = 0) -> dict[str, str]:
    """Variables the wrapper reads (set with ``-e``, so they never pass a shell)."""
    env = {
        # `agents` works in the agent (team prompts ask it to run `agents note`) and in the shell it leaves.
        "PATH": paths.path_with_bin(os.environ.get("PATH", os.defpath)),
        "AGENTS_TMUX_NAME": name,
        "AGENTS_TMUX_KIND": kind.name,
        # "<program>+screen-start": hooks, but the screen says when it is first idle.
        "AGENTS_TMUX_HOOKS": (kind.hooks + ("+screen-start" if launch.screen_start else "")) if launch.hooks else "none",
        **launch.env,
        **kind.env,
    }
    if port:
        env["AGENTS_PORT"] = str(port)
    if kind.screen or kind.hooks == "none":
        # No patterns and no hooks: the watcher reads the state from the pane's activity.
        env["AGENTS_TMUX_SCREEN"] = json.dumps({state: list(p) for state, p in kind.screen.items()})
    if cfg.setup:
        env["AGENTS_TMUX_SETUP"] = with_port(cfg.setup, port)
    if launch.typed_prompt:
        env["AGENTS_TMUX_TYPE_PROMPT"] = launch.typed_prompt
    return env


def open_pane(
    server: tmuxcmd.Server, target: str, origin_pane: str | None, directory: Path, program: list[str], title: str, focus: bool,
    placement: Placement | None = None, layout: str = "none", minimum: tuple[int, int] | None = None,
) -> str:
    """Split the origin pane's window (or open a window) running ``program``; the new pane's id.

    The caller gives the pane its title (``title`` names a new window). With
    ``minimum`` (columns, rows), a split never makes a pane smaller: the
    window gets ``layout`` (in the same tmux call as the split, so no pane
    shows below the minimum while the worktree is made) or the agent a
    window of its own (see :mod:`panefit`).
    """
    where = ["-t", origin_pane] if origin_pane else []
    detach = [] if focus else ["-d"]
    then: list[str] = []
    if placement is not None:
        # A new session is always made detached: this may run outside any client.
        detach = ["-d"] if placement.command == "new-session" or not focus else []
        args = [placement.command, *detach, *placement.args, "-c", no_formats(str(directory))]
    elif target == "window":
        if origin_pane:
            # new-window takes a window, not a pane: open right after the origin's.
            window = panes.run(server, "display-message", "-p", "-t", origin_pane, "#{window_id}")[0]
            where = ["-a", "-t", window]
        args = ["new-window", *detach, *where, "-n", no_formats(title), "-c", no_formats(str(directory))]
    else:
        split = ["split-window", "-h" if target == "split-h" else "-v", *detach]
        args = [*split, *where, "-c", no_formats(str(directory))]
        window = panefit.parse_window(panes.run(server, "list-panes", *where, "-F", panefit.PANE_FORMAT)) if minimum else None
        if window is not None and minimum is not None:
            choice = panefit.choose(window, origin_pane, target == "split-v", layout, minimum)
            if choice.how == "window":
                args = ["new-window", *detach, "-a", "-t", window.window_id, "-n", no_formats(title), "-c", no_formats(str(directory))]
            else:
                args = [*split, "-t", choice.pane, "-c", no_formats(str(directory))]
            if choice.how == "layout":
                then = [";", "select-layout", "-t", window.window_id, layout]
    lines = panes.run(server, *args, "-P", "-F", "#{pane_id}", *program, *then)
    pane_id = lines[0].strip() if lines else ""
    if not pane_id.startswith("%"):
        raise AgentsError(f"tmux did not report the new pane (got {pane_id!r})")
    return pane_id


def require_program(kind: AgentKind) -> None:
    """Refuse, before anything is made, an agent kind whose program is not installed.

    The pane gets this command's PATH (plus the plugin's ``.bin``), or the
    kind's own ``PATH`` from its ``env``. A relative path with a folder in it
    is the agent's business (it runs in the worktree).
    """
    program = kind.command[0] if kind.command else ""
    if not program or ("/" in program and not os.path.isabs(program)):
        return
    if tmuxcmd.find_program(program, kind.env.get("PATH", os.environ.get("PATH", os.defpath))) is None:
        raise AgentsError(
            f"the agent program {program!r} (agent kind {kind.name}) is not installed or not on PATH: "
            "install it, or set the command (@agents-command, or the kind's command in the config); see agents doctor"
        )


@dataclass(frozen=True)
class Prepared:
    """What a spawn reads before it is told the task: the origin, repository, config and agent kind.

    The spawn key reads it while the user types (see ``keyflow.wait_for_enter``),
    so that pressing Enter leaves only the deciding and the making.
    """

    origin_pane: str | None
    repo: gitops.Repo
    cfg: Config
    kind: AgentKind
    target: str
    focus: bool
    log_option: str | None
    #: The plugin runs in this server (it published @agents-cli): its status and keys are there.
    plugin_loaded: bool = True


def prepare(server: tmuxcmd.Server, request: SpawnRequest) -> Prepared:
    """Everything :func:`spawn` checks that does not depend on the task or on the agents running now."""
    directory, origin_pane, options = origin_facts(server, request)
    repo = gitops.find_repo(directory)
    cfg = config_mod.load(repo.root, options)
    kind = cfg.agent_kind(request.agent)
    require_program(kind)
    context_mod.relative_dir(cfg)
    target = request.target or cfg.spawn_target
    if request.placement is None and target not in config_mod.SPAWN_TARGETS:
        raise AgentsError(f"unknown target {target!r} (expected one of: {', '.join(config_mod.SPAWN_TARGETS)})")
    focus = cfg.focus if request.focus is None else request.focus
    if origin_pane is None and request.placement is None:
        # From outside tmux: the repository's own session (made if missing), never
        # whichever session a client happens to show.
        from agents_tmux import sessions

        origin_pane = f"={sessions.ensure(panes.socket_of_server(server), repo.root)[0]}:"
    return Prepared(origin_pane, repo, cfg, kind, target, focus, options.get("@agents-log"), bool(options.get("@agents-cli")))


def warm_imports() -> None:
    """Import now what :func:`spawn` imports on its way, for a caller that prepares before it acts."""
    from agents_tmux import liveness, panelog, repolock, usage  # noqa: F401


def spawn(server: tmuxcmd.Server, request: SpawnRequest, prepared: Prepared | None = None) -> Spawned:
    """Create the worktree, branch and pane for ``request``; start the agent.

    ``prepared`` is what :func:`prepare` read earlier for this request (the
    spawn key reads it while the task is typed); without it, it is read now.
    """
    stem = request.slug or slugify(request.task)
    ready = prepared or prepare(server, request)
    repo, cfg = ready.repo, ready.cfg
    base_name, base_commit = gitops.resolve_base(repo, request.base)
    if not request.force:
        check_budget(cfg)
    else:
        from agents_tmux import usage

        usage.write_settings(dict(cfg.prices), dict(cfg.budget))

    # Decide (the cap, the name) and act (record, worktree, pane) as one step:
    # no other spawn, rm or prune of this repository runs in between.
    with repo_lock(repo.root):
        if not request.force:
            running = running_agents(server, repo.root)
            if running >= cfg.max_agents:
                raise CapReached(running, cfg.max_agents)
        name, branch, worktree = _free_name(repo, cfg, stem, request.worktree)
        use_worktree = request.worktree
        made = _Made(repo, name, branch if use_worktree else "", worktree if use_worktree else None)
        try:
            return _make(server, request, repo, cfg, ready.kind, ready.target, ready.origin_pane, ready.focus, base_name,
                         base_commit, made, ready.log_option)
        except BaseException:
            made.undo(server)
            raise


class _Made:
    """What one spawn has made so far, so that a failure takes back exactly that."""

    def __init__(self, repo: gitops.Repo, name: str, branch: str, worktree: Path | None) -> None:
        self.repo = repo
        self.name = name
        self.branch = branch
        self.worktree = worktree
        self.recorded = False
        self.branch_made = False
        self.worktree_made = False
        self.pane_id = ""
        self.port = 0
        #: The agent kind, once its program may have prepared the folder it runs in.
        self.kind = ""

    def undo(self, server: tmuxcmd.Server) -> None:
        """Kill the pane, remove the worktree and branch (still at their base), release the port, drop the record."""
        if self.pane_id:
            server.cmd("kill-pane", "-t", self.pane_id)
        if self.port:
            ports.release(self.repo.root, self.name)
        if self.worktree_made and self.worktree is not None:
            gitops.git(self.repo.root, "worktree", "remove", "--force", str(self.worktree), check=False)
        if self.branch_made:
            gitops.git(self.repo.root, "branch", "-D", self.branch, check=False)
        if self.recorded:
            try:
                registry.forget(self.repo.root, self.name)
            except AgentsError:
                pass
        if self.worktree is None and self.kind:
            from agents_tmux import lifecycle

            # In the main checkout: what its program's prepare wrote there goes with it.
            lifecycle.release_program_files(self.repo.root, self.name, self.kind, self.repo.root)


def _make(
    server: tmuxcmd.Server, request: SpawnRequest, repo: gitops.Repo, cfg: Config, kind: AgentKind, target: str,
    origin_pane: str | None, focus: bool, base_name: str, base_commit: str, made: _Made, log_option: str | None = None,
) -> Spawned:
    """Open the agent's pane, record it (``starting``), make its worktree, start it there, then mark it ``active``."""
    from agents_tmux import liveness, panelog

    name, branch = made.name, made.branch
    worktree = made.worktree or repo.root
    # The pane first, so that it shows as soon as the name is decided (the
    # repository lock keeps the name ours); it says so while the rest is made,
    # then the agent replaces the placeholder (scripts/starting) in the same
    # pane. The placeholder ends with this process: killed from here on, a
    # spawn leaves no pane behind.
    made.pane_id = open_pane(server, target, origin_pane, repo.root, placeholder_program(name), name, focus,
                             request.placement, cfg.layout, cfg.min_pane_size)
    system_prompt = request.system_prompt
    if request.system_prompt_for is not None:
        system_prompt = request.system_prompt_for(name, branch, worktree)
    made.port = port = ports.for_agent(cfg.ports, repo.root, name)
    session_id = chosen_session_id(kind)
    # On record before its worktree exists: prune and the cap see it from here
    # on, and a spawn killed part-way leaves a record saying so (see liveness).
    registry.record(
        repo.root,
        {
            "name": name,
            "task": request.task,
            "kind": kind.name,
            "role": request.role,
            "branch": branch,
            "base": base_name,
            "base_commit": base_commit,
            "worktree": str(worktree),
            "session_id": session_id,
            "system_prompt": system_prompt,
            "status": registry.STARTING,
            "socket": server.socket_in_use(),
            "port": port,
            **liveness.this_spawner(),
        },
    )
    made.recorded = True
    if made.worktree is not None:
        _add_worktree(repo, made, base_commit)
        copy_files(repo, worktree, cfg.copy_files)
        copy_worktree_include(repo, worktree)
    # The shared context folder, at the same path in every checkout.
    context_mod.prepare(repo, cfg, made.worktree)
    add_dirs = context_mod.extra_dirs(repo.root, cfg, made.worktree)
    made.kind = kind.name
    launch = start_command(kind, request.task, system_prompt, name, add_dirs, workdir=worktree, session_id=session_id)
    if launch.session_id != session_id:
        registry.update(repo.root, name, session_id=launch.session_id)
    program = agent_program(launch, cfg, kind, name, port)
    facts = {
        "@agent_name": name,
        "@agent_kind": kind.name,
        "@agent_branch": branch,
        "@agent_base": base_name,
        "@agent_worktree": str(worktree),
        "@agent_repo": str(repo.root),
        "@agent_role": request.role,
        "@agent_task": request.task,
        "@agent_session_id": launch.session_id,
        "@agent_state": "starting",
        "@agent_state_since": str(int(time.time())),
        "@agent_port": str(port or ""),
        **request.extra_options,
    }
    # One tmux call: the pane's title (shown in borders and choose-tree), its
    # facts, then the agent in place of the placeholder: every option is there
    # before the agent's first hook.
    panes.run(
        server, "select-pane", "-t", made.pane_id, "-T", no_formats(name), ";",
        *panes.option_commands(made.pane_id, facts),
        "respawn-pane", "-k", "-t", made.pane_id, "-c", no_formats(str(worktree)), *program,
    )
    # issue 5: the pane log (@agents-log on).
    panelog.start_if_enabled(server, made.pane_id, repo.root, name, log_option)
    registry.update(repo.root, name, status=registry.ACTIVE)
    return Spawned(name=name, pane_id=made.pane_id, branch=branch, worktree=worktree, repo=repo.root, session_id=launch.session_id)


def placeholder_program(name: str) -> list[str]:
    """What a new pane runs until the agent replaces it: scripts/starting, which ends if this process dies first."""
    return ["--", str(paths.script("starting")), str(os.getpid()), name]


def _add_worktree(repo: gitops.Repo, made: _Made, base_commit: str) -> None:
    """``git worktree add -b``; a failure leaves no branch behind and says what to fix."""
    assert made.worktree is not None
    parent = made.worktree.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AgentsError(
            f"cannot create the worktree folder {made.worktree} ({exc.strerror or exc}): make {parent} writable "
            "or point worktree_dir (@agents-worktree-dir) elsewhere; nothing was left behind"
        ) from None
    try:
        gitops.add_worktree(repo, made.worktree, made.branch, base_commit)
    except AgentsError as exc:
        # git makes the branch before the folder: take it back if it is ours and still at its base.
        tip = gitops.git(repo.root, "rev-parse", "--verify", "--quiet", f"refs/heads/{made.branch}", check=False).stdout.strip()
        if tip == base_commit and not made.worktree.exists():
            gitops.git(repo.root, "branch", "-D", made.branch, check=False)
        raise AgentsError(f"{exc}; nothing was left behind (fix that and spawn again)") from None
    made.branch_made = made.worktree_made = True
