"""Teams: roles and layouts from the TOML config, and starting a whole layout at once.

A *role* is an agent kind plus a prompt (appended to the agent's system
prompt) and whether it gets a worktree of its own. A *layout* is a list of
panes, each a role and where it goes relative to the panes before it. The
config tables are read from ``Config.raw`` and checked here, so that every
mistake is one line naming the file, the line, the key and what was expected:

.. code-block:: toml

    [roles.coder]
    agent = "claude"
    prompt = "Implement {context}/plan.md on {branch}."

    [layouts.team]
    panes = [ { role = "planner" }, { role = "coder", split = "right" } ]

:func:`start_team` creates the panes one by one through :func:`spawn.spawn`
after checking everything up front; when a pane fails, the panes, worktrees
and branches the team already made are taken away again.
"""

from __future__ import annotations

import os
import re
import string
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents_tmux import tmuxcmd

from agents_tmux import config as config_mod
from agents_tmux import context as context_mod
from agents_tmux import gitops, panes, registry
from agents_tmux.config import Config, ConfigError
from agents_tmux.errors import AgentsError
from agents_tmux.names import numbered, slugify
from agents_tmux.tmuxtext import no_formats

#: Placeholders a role's prompt may use.
PLACEHOLDERS = ("context", "task", "branch", "repo", "role", "name", "worktree")
SPLITS = ("right", "left", "below", "above")
LAYOUT_TARGETS = ("window", "session")
DEFAULT_LAYOUT = "team"
_ROLE_KEYS = ("agent", "prompt", "worktree", "base")
_LAYOUT_KEYS = ("panes", "target")
_PANE_KEYS = ("role", "split", "of", "full_width", "full_height", "size")
_ROLE_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


@dataclass(frozen=True)
class Role:
    """One ``[roles.<name>]`` table."""

    name: str
    agent: str
    prompt: str = ""
    worktree: bool = True
    base: str | None = None


@dataclass(frozen=True)
class PaneSpec:
    """One entry of a layout's ``panes``: a role and where its pane goes."""

    role: str
    #: right | left | below | above (ignored for the first pane, which opens the window).
    split: str = "right"
    #: Index (in the layout) of the pane to split; default: the one before.
    of: int | None = None
    #: Span the whole window (-f): full width for below/above, full height for right/left.
    full: bool = False
    #: tmux size of the new pane: cells ("30") or a percentage ("40%").
    size: str = ""

    def split_flags(self) -> list[str]:
        """``split-window`` flags for this pane (without ``-t``).

        >>> PaneSpec("reviewer", split="below", full=True, size="40%").split_flags()
        ['-v', '-f', '-l', '40%']
        >>> PaneSpec("coder", split="left").split_flags()
        ['-h', '-b']
        """
        flags = ["-h" if self.split in ("right", "left") else "-v"]
        if self.split in ("left", "above"):
            flags.append("-b")
        if self.full:
            flags.append("-f")
        if self.size:
            flags += ["-l", self.size]
        return flags


@dataclass(frozen=True)
class Layout:
    """One ``[layouts.<name>]`` table."""

    name: str
    panes: tuple[PaneSpec, ...]
    target: str = "window"


def _fail(cfg: Config, key: str, problem: str) -> ConfigError:
    """A located error for dotted ``key`` (or the nearest table that was set)."""
    probe = key
    while probe not in cfg.origin and "." in probe:
        probe = probe.rsplit(".", 1)[0]
    path = cfg.origin.get(probe)
    if path is None:
        return ConfigError("built-in defaults", key, problem)
    # A table set whole in a file has no entries of its own in ``origin``: look for the key itself first.
    line = config_mod.find_key_line(path, key) or config_mod.find_key_line(path, probe)
    return ConfigError(str(path), key, problem, line)


def _shown(value: Any) -> str:
    return config_mod._shown(value)


def check_prompt(template: str) -> str | None:
    """Why ``template`` cannot be filled in, or None when it can.

    >>> check_prompt("Write {context}/plan.md for {task}") is None
    True
    >>> check_prompt("Hi {nmae}")
    'unknown placeholder {nmae} (expected: {context}, {task}, {branch}, {repo}, {role}, {name}, {worktree}; write {{ and }} for braces)'
    >>> check_prompt("a { b")
    'a lone { or } (write {{ and }} for a literal brace)'
    """
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError:
        return "a lone { or } (write {{ and }} for a literal brace)"
    allowed = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
    for _, field_name, spec, conversion in parts:
        if field_name is None:
            continue
        if field_name not in PLACEHOLDERS or spec or conversion:
            shown = "{" + field_name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            return f"unknown placeholder {shown} (expected: {allowed}; write {{{{ and }}}} for braces)"
    return None


def fill_prompt(template: str, **values: str) -> str:
    """``template`` with its placeholders filled in (checked by :func:`check_prompt`).

    >>> fill_prompt("Plan in {context}/plan.md: {task} {{literal}}", context="/r/.agents/context", task="Fix it")
    'Plan in /r/.agents/context/plan.md: Fix it {literal}'
    """
    known = {name: values.get(name, "") for name in PLACEHOLDERS}
    return template.format_map(known)


def load_roles(cfg: Config) -> dict[str, Role]:
    """Every ``[roles.<name>]`` table, checked."""
    tables = cfg.raw.get("roles", {})
    roles: dict[str, Role] = {}
    for name, table in tables.items():
        prefix = f"roles.{name}"
        if not _ROLE_NAME.fullmatch(name):
            raise _fail(cfg, prefix, "a role name is lower-case letters, digits and dashes (it ends up in branch names)")
        if not isinstance(table, dict):
            raise _fail(cfg, prefix, f"expected a table, got {_shown(table)}")
        for key in table:
            if key not in _ROLE_KEYS:
                raise _fail(cfg, f"{prefix}.{key}", f"unknown key (expected one of: {', '.join(_ROLE_KEYS)})")
        agent = table.get("agent", cfg.agent)
        if not isinstance(agent, str):
            raise _fail(cfg, f"{prefix}.agent", f"expected the name of an agent kind, got {_shown(agent)}")
        if agent not in cfg.agents:
            known = ", ".join(sorted(cfg.agents))
            raise _fail(cfg, f"{prefix}.agent", f"unknown agent kind {agent!r} (expected one of the [agents] tables: {known})")
        prompt = table.get("prompt", "")
        if not isinstance(prompt, str):
            raise _fail(cfg, f"{prefix}.prompt", f"expected a string, got {_shown(prompt)}")
        problem = check_prompt(prompt)
        if problem:
            raise _fail(cfg, f"{prefix}.prompt", problem)
        worktree = table.get("worktree", True)
        if not isinstance(worktree, bool):
            raise _fail(cfg, f"{prefix}.worktree", f"expected true or false, got {_shown(worktree)}")
        base = table.get("base")
        if base is not None and (not isinstance(base, str) or not base.strip()):
            raise _fail(cfg, f"{prefix}.base", f"expected a branch, tag or commit, got {_shown(base)}")
        roles[name] = Role(name=name, agent=agent, prompt=prompt, worktree=worktree, base=base)
    return roles


def load_layouts(cfg: Config, roles: dict[str, Role]) -> dict[str, Layout]:
    """Every ``[layouts.<name>]`` table, checked against ``roles``."""
    tables = cfg.raw.get("layouts", {})
    layouts: dict[str, Layout] = {}
    for name, table in tables.items():
        prefix = f"layouts.{name}"
        if not isinstance(table, dict):
            raise _fail(cfg, prefix, f"expected a table, got {_shown(table)}")
        for key in table:
            if key not in _LAYOUT_KEYS:
                raise _fail(cfg, f"{prefix}.{key}", f"unknown key (expected one of: {', '.join(_LAYOUT_KEYS)})")
        target = table.get("target", "window")
        if target not in LAYOUT_TARGETS:
            raise _fail(cfg, f"{prefix}.target", f"expected one of {', '.join(LAYOUT_TARGETS)}, got {_shown(target)}")
        items = table.get("panes")
        if not isinstance(items, list) or not items:
            got = "nothing" if items is None else _shown(items)
            raise _fail(cfg, f"{prefix}.panes", f"expected a list of panes like [ {{ role = \"coder\" }}, ... ], got {got}")
        specs = tuple(_pane_spec(cfg, f"{prefix}.panes", index, item, roles, items) for index, item in enumerate(items))
        layouts[name] = Layout(name=name, panes=specs, target=target)
    return layouts


def _pane_spec(cfg: Config, prefix: str, index: int, item: Any, roles: dict[str, Role], items: list[Any]) -> PaneSpec:
    where = f"{prefix}[{index + 1}]"

    def fail(key: str, problem: str) -> ConfigError:
        error = _fail(cfg, prefix, problem)
        return ConfigError(error.source, f"{where}.{key}" if key else where, problem, error.line)

    if not isinstance(item, dict):
        raise fail("", f"expected a table like {{ role = \"coder\", split = \"right\" }}, got {_shown(item)}")
    for key in item:
        if key not in _PANE_KEYS:
            raise fail(key, f"unknown key (expected one of: {', '.join(_PANE_KEYS)})")
    role = item.get("role")
    if not isinstance(role, str):
        raise fail("role", f"expected the name of a [roles] table, got {'nothing' if role is None else _shown(role)}")
    if role not in roles:
        known = ", ".join(sorted(roles)) or "none"
        raise fail("role", f"unknown role {role!r} (expected one of the [roles] tables: {known})")
    if index == 0:
        for key in ("split", "of", "full_width", "full_height", "size"):
            if key in item:
                raise fail(key, "the first pane opens the window, so it takes no split, of, full_width, full_height or size")
        return PaneSpec(role=role)
    split = item.get("split", "right")
    if split not in SPLITS:
        raise fail("split", f"expected one of {', '.join(SPLITS)}, got {_shown(split)}")
    of_index: int | None = None
    if "of" in item:
        of = item["of"]
        earlier = [i for i in range(index) if isinstance(items[i], dict) and items[i].get("role") == of]
        if isinstance(of, bool) or not isinstance(of, (str, int)):
            raise fail("of", f"expected the role (or number) of an earlier pane, got {_shown(of)}")
        if isinstance(of, int):
            if not 1 <= of <= index:
                raise fail("of", f"expected the number of an earlier pane (1 to {index}), got {of}")
            of_index = of - 1
        elif not earlier:
            raise fail("of", f"expected the role of an earlier pane, got {of!r}")
        else:
            of_index = earlier[0]
    full = False
    for key, fits in (("full_width", ("below", "above")), ("full_height", ("right", "left"))):
        if key in item:
            value = item[key]
            if not isinstance(value, bool):
                raise fail(key, f"expected true or false, got {_shown(value)}")
            if value and split not in fits:
                other = "full_height" if key == "full_width" else "full_width"
                raise fail(key, f"{key} goes with split = {' or '.join(fits)}; for split = {split!r} use {other}")
            full = full or value
    size = item.get("size", "")
    if isinstance(size, bool) or not isinstance(size, (str, int)):
        raise fail("size", f"expected a number of cells or a percentage like \"40%\", got {_shown(size)}")
    size = str(size).strip()
    match = re.fullmatch(r"(\d+)(%?)", size) if size else None
    if size and (match is None or int(match.group(1)) < 1 or (match.group(2) and int(match.group(1)) > 99)):
        raise fail("size", f"expected a number of cells or a percentage from 1% to 99%, got {size!r}")
    return PaneSpec(role=role, split=split, of=of_index, full=full, size=size)


def load_team_config(cfg: Config) -> tuple[dict[str, Role], dict[str, Layout]]:
    """Roles and layouts, both checked (a mistake anywhere is reported)."""
    context_mod.relative_dir(cfg)
    roles = load_roles(cfg)
    return roles, load_layouts(cfg, roles)


def pick_layout(layouts: dict[str, Layout], name: str | None) -> Layout:
    """The layout called ``name`` (default: ``team``, or the only one there is)."""
    if name is None:
        if DEFAULT_LAYOUT in layouts:
            return layouts[DEFAULT_LAYOUT]
        if len(layouts) == 1:
            return next(iter(layouts.values()))
        name = DEFAULT_LAYOUT
    try:
        return layouts[name]
    except KeyError:
        known = ", ".join(sorted(layouts)) or "none"
        raise AgentsError(f"unknown layout {name!r} (configured: {known}; add a [layouts.{name}] table to the config)") from None


# --------------------------------------------------------------------------
# Starting a team


@dataclass
class TeamRequest:
    """Everything ``agents team`` was asked for."""

    task: str
    layout: str | None = None
    #: "window" or "session"; None: what the layout says.
    target: str | None = None
    #: Name of the new session ("" = ``<repo>-<task-slug>``).
    session: str | None = None
    base: str | None = None
    origin_pane: str | None = None
    directory: str | None = None
    focus: bool = True
    force: bool = False
    client: str | None = None


@dataclass(frozen=True)
class Member:
    """One agent of a started team."""

    role: str
    name: str
    pane_id: str
    branch: str
    worktree: Path


@dataclass(frozen=True)
class Team:
    """What :func:`start_team` made."""

    layout: str
    target: str
    #: The session name (session target) or window id (window target).
    where: str
    window_id: str
    members: tuple[Member, ...] = field(default_factory=tuple)


class TeamCapReached(AgentsError):
    """Starting the team would run more agents than ``max_agents`` allows."""

    def __init__(self, running: int, adding: int, limit: int) -> None:
        super().__init__(
            f"{running} agents are running, the team adds {adding} and the cap is {limit} (@agents-max): "
            "each one spends API quota; use --force to start the team anyway"
        )
        self.running = running
        self.adding = adding
        self.limit = limit


def session_name(text: str) -> str:
    """A tmux session name from a task: letters, digits, ``_`` and dashes.

    :func:`agents_tmux.sessions.session_name` makes one from a folder name
    (with ``_``); this one joins words with dashes, as branch names do.

    >>> session_name("my.repo-fix: login"), session_name("we'ird $(x) #{y}")
    ('my-repo-fix-login', 'we-ird-x-y')
    """
    cleaned = re.sub(r"[^\w-]+", "-", text.strip()).strip("-")
    return cleaned


def _session_exists(server: tmuxcmd.Server, name: str) -> bool:
    return panes.cmd(server, "has-session", "-t", f"={name}").returncode == 0


def start_team(server: tmuxcmd.Server, request: TeamRequest) -> Team:
    """Check everything, then open every pane of the layout; undo all on failure.

    All of it under the repository lock: the cap for the whole team, the
    names and every member are one step (each member's spawn takes the
    lock again, re-entrantly).
    """
    from agents_tmux import spawn as spawn_mod

    probe = spawn_mod.SpawnRequest(task=request.task, origin_pane=request.origin_pane, directory=request.directory)
    repo = gitops.find_repo(spawn_mod.origin_directory(server, probe)[0])
    with spawn_mod.repo_lock(repo.root):
        return _start_team(server, request)


def _start_team(server: tmuxcmd.Server, request: TeamRequest) -> Team:
    from agents_tmux import spawn as spawn_mod

    task = request.task.strip()
    slug = slugify(task)
    probe = spawn_mod.SpawnRequest(task=task, origin_pane=request.origin_pane, directory=request.directory)
    directory, origin = spawn_mod.origin_directory(server, probe)
    repo = gitops.find_repo(directory)
    cfg = config_mod.load(repo.root, panes.plugin_options(server))
    roles, layouts = load_team_config(cfg)
    layout = pick_layout(layouts, request.layout)
    target = request.target or ("session" if request.session is not None else layout.target)

    for spec in layout.panes:
        role = roles[spec.role]
        cfg.agent_kind(role.agent)
        gitops.resolve_base(repo, role.base or request.base)
        if role.worktree:
            branch = f"{cfg.branch_prefix}{slug}-{role.name}"
            if not gitops.valid_branch_name(repo, branch):
                raise AgentsError(f"{branch!r} is not a valid branch name: check branch_prefix in the config")
    if not request.force:
        running = spawn_mod.running_agents(server, repo.root)
        if running + len(layout.panes) > cfg.max_agents:
            raise TeamCapReached(running, len(layout.panes), cfg.max_agents)
        spawn_mod.check_budget(cfg)

    where_args: list[str]
    if target == "session":
        if request.session:
            name = session_name(request.session)
            if not name:
                raise AgentsError(f"{request.session!r} cannot name a tmux session")
            if _session_exists(server, name):
                raise AgentsError(f"a session called {name!r} already exists: choose another name with --session NAME")
        else:
            stem = session_name(f"{repo.name}-{slug}")
            name = next((numbered(stem, n) for n in range(1, 1000) if not _session_exists(server, numbered(stem, n))), "")
            if not name:
                raise AgentsError(f"every session name from {stem} to {numbered(stem, 999)} is taken")
        where_args = ["-s", no_formats(name), "-n", no_formats(slug), *_size_of(server, origin)]
        first = spawn_mod.Placement("new-session", tuple(where_args))
    else:
        name = ""
        where_args = ["-n", no_formats(slug)]
        if origin:
            window = panes.run(server, "display-message", "-p", "-t", origin, "#{window_id}")[0]
            where_args = ["-a", "-t", window, *where_args]
        first = spawn_mod.Placement("new-window", tuple(where_args))

    made: list[Member] = []
    team_id = name or slug
    for index, spec in enumerate(layout.panes):
        role = roles[spec.role]
        if index == 0:
            placement = first
        else:
            split_of = made[spec.of if spec.of is not None else index - 1].pane_id
            placement = spawn_mod.Placement("split-window", (*spec.split_flags(), "-t", split_of))
        spawn_request = spawn_mod.SpawnRequest(
            task=task,
            agent=role.agent,
            base=role.base or request.base,
            origin_pane=origin,
            directory=str(repo.worktree),
            focus=False,
            force=True,
            role=role.name,
            system_prompt=role.prompt,
            system_prompt_for=_prompt_filler(role, task, repo, cfg),
            slug=f"{slug}-{role.name}",
            worktree=role.worktree,
            extra_options={"@agent_team": team_id},
            placement=placement,
        )
        try:
            spawned = spawn_mod.spawn(server, spawn_request)
        except Exception as exc:  # noqa: BLE001 - any failure: take back what the team made, say it in one line
            undone = undo(server, repo, made)
            detail = str(exc) if isinstance(exc, AgentsError) else f"{type(exc).__name__}: {exc}"
            raise AgentsError(f"the {role.name} pane (pane {index + 1} of {len(layout.panes)}) failed: {detail}; {undone}") from None
        except BaseException:
            undo(server, repo, made)
            raise
        made.append(Member(role=role.name, name=spawned.name, pane_id=spawned.pane_id, branch=spawned.branch, worktree=spawned.worktree))

    window_id = panes.run(server, "display-message", "-p", "-t", made[0].pane_id, "#{window_id}")[0]
    team = Team(layout=layout.name, target=target, where=name or window_id, window_id=window_id, members=tuple(made))
    _write_team_file(repo, cfg, task, team)
    if request.focus:
        _focus(server, team, request.client)
    return team


def _prompt_filler(role: Role, task: str, repo: gitops.Repo, cfg: Config) -> Any:
    def fill(name: str, branch: str, worktree: Path) -> str:
        return fill_prompt(
            role.prompt,
            context=str(worktree / context_mod.relative_dir(cfg)),
            task=task,
            branch=branch or "(none: the main checkout)",
            repo=str(repo.root),
            role=role.name,
            name=name,
            worktree=str(worktree),
        )

    return fill


def _size_of(server: tmuxcmd.Server, origin: str | None) -> list[str]:
    """``-x W -y H`` of the origin's window, so a detached session is laid out at the size it will be seen."""
    if not origin:
        return []
    lines = panes.run(server, "display-message", "-p", "-t", origin, "#{window_width} #{window_height}")
    width, _, height = (lines[0] if lines else "").partition(" ")
    if width.isdigit() and height.isdigit():
        return ["-x", width, "-y", height]
    return []


def _focus(server: tmuxcmd.Server, team: Team, client: str | None) -> None:
    first = team.members[0].pane_id
    if team.target == "session":
        if client:
            panes.cmd(server, "switch-client", "-c", client, "-t", first)
        elif os.environ.get("TMUX"):
            panes.cmd(server, "switch-client", "-t", first)
    else:
        panes.cmd(server, "select-window", "-t", team.window_id, ";", "select-pane", "-t", first)


def undo(server: tmuxcmd.Server, repo: gitops.Repo, made: list[Member]) -> str:
    """Take away what a failed team start made; say what was done, in a few words.

    Panes are killed, and each worktree and branch is removed when it holds
    nothing new (clean, branch still at its base); one that does is kept and
    named, so no work is lost.
    """
    if not made:
        return "nothing had been created"
    kept: list[str] = []
    for member in reversed(made):
        panes.cmd(server, "kill-pane", "-t", member.pane_id)
    entries = registry.load(repo.root)
    for member in made:
        if member.branch:
            base = str(entries.get(member.name, {}).get("base_commit", ""))
            status = gitops.git(member.worktree, "status", "--porcelain", check=False)
            tip = gitops.git(repo.root, "rev-parse", "--verify", "--quiet", member.branch, check=False).stdout.strip()
            if status.returncode != 0 or status.stdout.strip() or (base and tip != base):
                kept.append(f"{member.name} ({member.worktree})")
                continue
            gitops.git(repo.root, "worktree", "remove", "--force", str(member.worktree), check=False)
            gitops.git(repo.root, "branch", "-D", member.branch, check=False)

    def forget(agents: dict[str, Any]) -> None:
        for member in made:
            if f"{member.name} ({member.worktree})" not in kept:
                agents.pop(member.name, None)

    registry.change(repo.root, forget)
    from agents_tmux.lifecycle import release_program_files

    for member in made:
        if not member.branch:
            # Worked in the main checkout: what its program's prepare wrote there goes with it.
            kind = entries.get(member.name, {}).get("kind", "")
            release_program_files(repo.root, member.name, kind if isinstance(kind, str) else "", repo.root)
    names = ", ".join(m.name for m in made)
    if kept:
        return f"stopped {names}; kept the worktrees with changes: {', '.join(kept)}"
    return f"removed what the team had started ({names})"


def _write_team_file(repo: gitops.Repo, cfg: Config, task: str, team: Team) -> None:
    """``{context}/team.md``: who is who, so agents can find each other's branches."""
    from agents_tmux.atomic import atomic_write

    shared = context_mod.shared_dir(repo.root, cfg)
    stamp = time.strftime("%Y-%m-%d %H:%M")
    lines = [
        f"# Team: {task}",
        "",
        (
            f"Started {stamp} from layout `{team.layout}`. Every agent sees this folder at"
            f" `{context_mod.relative_dir(cfg).as_posix()}` in its own checkout."
        ),
        "",
        "| role | agent | branch | worktree |",
        "| --- | --- | --- | --- |",
    ]
    for member in team.members:
        lines.append(f"| {member.role} | {member.name} | {member.branch or '(main checkout)'} | {member.worktree} |")
    try:
        atomic_write(shared / "team.md", "\n".join(lines) + "\n")
    except OSError:
        pass
