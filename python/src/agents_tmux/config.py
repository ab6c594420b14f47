"""Load the TOML configuration: built-in defaults, user file, repository file, tmux options.

Every mistake in a file is reported as one line that names the file, the
line and the key, and says what was expected; see :class:`ConfigError`.
"""

from __future__ import annotations

import copy
import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from agents_tmux import programs
from agents_tmux.errors import AgentsError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

#: The built-in defaults, shipped beside this module.
DEFAULTS_FILE = Path(__file__).with_name("default-config.toml")
SPAWN_TARGETS = ("split-h", "split-v", "window")
#: How a window is laid out again when a split would make a pane too small ("none": never; a new window then).
LAYOUTS = ("tiled", "main-vertical", "main-horizontal", "even-horizontal", "even-vertical", "none")
PROMPT_MODES = ("arg", "keys", "none")
SCREEN_STATES = ("waiting", "error", "working", "idle")

#: Which tmux option overrides which ``[defaults]`` key.
TMUX_OVERRIDES = {
    "@agents-agent": "agent",
    "@agents-spawn-target": "spawn_target",
    "@agents-max": "max_agents",
    "@agents-branch-prefix": "branch_prefix",
    "@agents-worktree-dir": "worktree_dir",
    "@agents-focus": "focus",
    "@agents-lock-timeout": "lock_timeout",
    "@agents-layout": "layout",
    "@agents-min-pane": "min_pane",
}


class ConfigError(AgentsError):
    """A configuration mistake, located as precisely as the file allows."""

    def __init__(self, source: str, key: str, problem: str, line: int | None = None) -> None:
        where = f"{source} line {line}" if line else source
        super().__init__(f"config error in {where}: {key}: {problem}")
        self.source = source
        self.key = key
        self.line = line


@dataclass(frozen=True)
class AgentKind:
    """How to start one kind of agent and how to read its state."""

    name: str
    command: tuple[str, ...]
    prompt: str = "arg"
    #: The program adapter (a module of :mod:`agents_tmux.programs`).
    program: str = programs.GENERIC
    #: "none", or the program's name when its hooks report the state.
    hooks: str = "none"
    session_id_flag: str = ""
    resume: tuple[str, ...] = ()
    continue_args: tuple[str, ...] = ()
    system_prompt_flag: str = ""
    #: Flag that grants the agent access to a folder outside its working
    #: directory (the shared context folder a worktree links to): Claude's ``--add-dir``.
    add_dir_flag: str = ""
    screen: dict[str, tuple[str, ...]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    """The settings in force for one repository."""

    agent: str
    branch_prefix: str
    worktree_dir: str
    copy_files: tuple[str, ...]
    setup: str
    spawn_target: str
    focus: bool
    max_agents: int
    context_dir: str
    #: Ignored files removing an agent may delete (names or globs; see default-config.toml).
    disposable: tuple[str, ...]
    #: The range live agents' ports come from ("41000-41999"; "" for none): see ``ports``.
    ports: str
    #: How ``agents sync`` brings the base's new commits into an agent's branch: "merge" or "rebase".
    sync: str
    #: Seconds a command waits for another one working on the same repository (see ``repolock``).
    lock_timeout: int
    #: The layout a window gets when splitting its pane would make one too small (:data:`LAYOUTS`).
    layout: str
    #: The smallest pane a spawn makes, "WIDTHxHEIGHT" in cells (see :attr:`min_pane_size`).
    min_pane: str
    #: How ``agents merge`` brings an agent's branch in: "merge", "squash", "rebase" or "ff-only".
    merge: str
    agents: dict[str, AgentKind]
    #: The merged tables as read, for modules with their own sections (roles, layouts).
    raw: dict[str, Any]
    #: Files read, lowest precedence first; the built-in defaults are not listed.
    sources: tuple[Path, ...]
    #: For each dotted key, the file that set it last (for error messages).
    origin: dict[str, Path]
    #: [prices]: model name or ``prefix*`` -> input, output, cache_write, cache_read (USD per million tokens).
    prices: dict[str, dict[str, float]] = field(default_factory=dict)
    #: [budget]: the limits set (tokens_5h, cost_5h, tokens_day, cost_day) and warn_percent.
    budget: dict[str, float] = field(default_factory=dict)

    @property
    def min_pane_size(self) -> tuple[int, int]:
        """``min_pane`` as (columns, rows)."""
        width, _, height = self.min_pane.partition("x")
        return int(width), int(height)

    def agent_kind(self, name: str | None = None) -> AgentKind:
        """The agent kind ``name`` (default: the configured one), or a clear error."""
        wanted = name or self.agent
        try:
            return self.agents[wanted]
        except KeyError:
            known = ", ".join(sorted(self.agents)) or "none"
            raise AgentsError(f"unknown agent kind {wanted!r} (configured: {known})") from None

    def locate(self, key: str) -> tuple[str, int | None]:
        """The file and line where dotted ``key`` was set, for error messages."""
        path = self.origin.get(key)
        if path is None:
            return "built-in defaults", None
        return str(path), find_key_line(path, key)


def config_files(repo: Path | None) -> list[Path]:
    """Existing config files for ``repo``, lowest precedence first."""
    candidates: list[Path] = []
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    candidates.append(Path(xdg) / "agents-tmux" / "config.toml")
    if repo is not None:
        candidates.append(repo / ".agents.toml")
    explicit = os.environ.get("AGENTS_TMUX_CONFIG")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise AgentsError(f"AGENTS_TMUX_CONFIG names {path}, which is not a readable file")
        candidates.append(path)
    seen: set[Path] = set()
    found: list[Path] = []
    for path in candidates:
        if path.is_file() and path.resolve() not in seen:
            seen.add(path.resolve())
            found.append(path)
    return found


def load(repo: Path | None, tmux_options: dict[str, str] | None = None, *, builtin_only: bool = False) -> Config:
    """Read defaults, then each config file, then tmux overrides, and validate.

    ``builtin_only``: the built-in defaults alone, no file of the user's.
    """
    # A plain path, not importlib.resources: the package is always installed
    # from its source folder (editable), and resources costs ~8 ms to import.
    text = DEFAULTS_FILE.read_text(encoding="utf-8")
    merged: dict[str, Any] = tomllib.loads(text)
    # The built-in kinds as they are, before the user's files merge into them in place.
    builtin_kinds = copy.deepcopy(merged["agents"])
    origin: dict[str, Path] = {}
    files = [] if builtin_only else config_files(repo)
    for path in files:
        _merge(merged, _read_toml(path), origin, path, "")
    overrides = _tmux_overrides(tmux_options or {})
    merged["defaults"].update(overrides)
    for key in overrides:
        origin.pop(f"defaults.{key}", None)
    return _build(merged, origin, tuple(files), overrides, builtin_kinds)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AgentsError(f"config error in {path}: cannot read it ({exc})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(match.group(1)) if match else None
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc)) or "invalid TOML"
        where = f"{path} line {line}" if line else str(path)
        raise AgentsError(f"config error in {where}: {reason}") from None


def _merge(base: dict[str, Any], extra: dict[str, Any], origin: dict[str, Path], path: Path, prefix: str) -> None:
    """Deep-merge ``extra`` into ``base``; tables merge, everything else replaces."""
    for key, value in extra.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value, origin, path, dotted + ".")
        else:
            base[key] = value
        origin[dotted] = path


def _tmux_overrides(options: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for option, key in TMUX_OVERRIDES.items():
        value = options.get(option, "").strip()
        if value:
            values[key] = value
    command = options.get("@agents-command", "").strip()
    if command:
        values["_command"] = command
    return values


def find_key_line(path: Path, dotted: str) -> int | None:
    """Best-effort line number of ``dotted`` key in a TOML file.

    tomllib keeps no positions, so look for the table header and then the
    key's assignment after it; fall back to the first assignment of the key.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    parts = dotted.split(".")
    leaf, tables = parts[-1], parts[:-1]
    key_re = re.compile(rf"^\s*[\"']?{re.escape(leaf)}[\"']?\s*=")
    header = ".".join(tables)
    start = 0
    if tables:
        header_re = re.compile(rf"^\s*\[+\s*{re.escape(header)}\s*\]+")
        for number, line in enumerate(lines):
            if header_re.match(line):
                start = number
                if key_re.match(line) is None and leaf == tables[-1]:
                    return number + 1
                break
    for number in range(start, len(lines)):
        if key_re.match(lines[number]) or re.match(rf"^\s*\[+\s*{re.escape(dotted)}\s*\]+", lines[number]):
            return number + 1
    if tables:
        for number, line in enumerate(lines):
            if re.match(rf"^\s*\[+\s*{re.escape(header)}", line):
                return number + 1
    return None


class _Checker:
    """Validates values and raises a located :class:`ConfigError`."""

    def __init__(self, origin: dict[str, Path], overridden: dict[str, Any]) -> None:
        self.origin = origin
        self.overridden = overridden

    def set_by_user(self, key: str) -> bool:
        """True when a config file (not the built-in defaults) set ``key`` or the table holding it.

        The section itself (``agents``) does not count: a file adding one
        agent kind does not make the others its own.
        """
        parts = key.split(".")
        return any(".".join(parts[:end]) in self.origin for end in range(2, len(parts) + 1))

    def fail(self, key: str, problem: str) -> ConfigError:
        leaf = key.split(".", 1)[-1]
        if key.startswith("defaults.") and leaf in self.overridden:
            option = next(o for o, k in TMUX_OVERRIDES.items() if k == leaf)
            return ConfigError(f"tmux option {option}", key, problem)
        path = self.origin.get(key) or self.origin.get(key.rsplit(".", 1)[0])
        if path is None:
            return ConfigError("built-in defaults", key, problem)
        return ConfigError(str(path), key, problem, find_key_line(path, key))

    def get(self, table: dict[str, Any], prefix: str, key: str, kind: str, default: Any = None) -> Any:
        value = table.get(key, default)
        dotted = f"{prefix}.{key}"
        convert: dict[str, Callable[[Any], Any]] = {
            "str": self._str,
            "int": self._int,
            "bool": self._bool,
            "strlist": self._strlist,
            "command": self._command,
        }
        try:
            return convert[kind](value)
        except (TypeError, ValueError) as exc:
            raise self.fail(dotted, str(exc)) from None

    @staticmethod
    def _str(value: Any) -> str:
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {_shown(value)}")
        return value

    @staticmethod
    def _int(value: Any) -> int:
        if isinstance(value, bool):
            raise TypeError(f"expected a whole number, got {_shown(value)}")
        if isinstance(value, str):
            if not value.strip().isdigit():
                raise ValueError(f"expected a whole number, got {_shown(value)}")
            value = int(value)
        if not isinstance(value, int):
            raise TypeError(f"expected a whole number, got {_shown(value)}")
        if value < 1:
            raise ValueError(f"expected a whole number of at least 1, got {value}")
        return value

    @staticmethod
    def _bool(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("on", "yes", "true", "1", "off", "no", "false", "0"):
            return value.lower() in ("on", "yes", "true", "1")
        raise TypeError(f"expected true or false, got {_shown(value)}")

    @staticmethod
    def _strlist(value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise TypeError(f"expected a list of strings, got {_shown(value)}")
        return tuple(value)

    @staticmethod
    def _command(value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            try:
                words = shlex.split(value)
            except ValueError as exc:
                raise ValueError(f"cannot split the command {value!r}: {exc}") from None
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            words = list(value)
        else:
            raise TypeError(f"expected a command (a string or a list of strings), got {_shown(value)}")
        if not words or not words[0]:
            raise ValueError("expected a command, got an empty one")
        return tuple(words)


def _shown(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", list: "a list", dict: "a table"}
    if isinstance(value, str):
        return repr(value)
    return names.get(type(value), type(value).__name__)


_DEFAULTS_KEYS = {
    "agent": "str",
    "branch_prefix": "str",
    "worktree_dir": "str",
    "copy_files": "strlist",
    "setup": "str",
    "spawn_target": "str",
    "focus": "bool",
    "max_agents": "int",
    "context_dir": "str",
    "disposable": "strlist",
    "ports": "str",
    "sync": "str",
    "lock_timeout": "int",
    "layout": "str",
    "min_pane": "str",
    "merge": "str",
}
_AGENT_KEYS = {
    "command": "command",
    "prompt": "str",
    "program": "str",
    "hooks": "str",
    "session_id_flag": "str",
    "resume": "strlist",
    "continue": "strlist",
    "system_prompt_flag": "str",
    "add_dir_flag": "str",
    "screen": "table",
    "env": "table",
}
_TOP_KEYS = ("defaults", "agents", "roles", "layouts", "prices", "budget")
#: Keys of one [prices."MODEL"] table (US dollars per million tokens).
_PRICE_KEYS = ("input", "output", "cache_write", "cache_read")
#: Keys of [budget]: limits (0 means none) and the share that counts as near.
_BUDGET_KEYS = ("tokens_5h", "cost_5h", "tokens_day", "cost_day", "warn_percent")


def _build(
    merged: dict[str, Any], origin: dict[str, Path], files: tuple[Path, ...], overrides: dict[str, Any],
    builtin_kinds: dict[str, Any],
) -> Config:
    check = _Checker(origin, overrides)
    for key, value in merged.items():
        if key not in _TOP_KEYS:
            raise check.fail(key, f"unknown section (expected one of: {', '.join(_TOP_KEYS)})")
        if not isinstance(value, dict):
            raise check.fail(key, f"expected a table, got {_shown(value)}")
    defaults = merged["defaults"]
    for key in defaults:
        if key not in _DEFAULTS_KEYS and key != "_command":
            raise check.fail(f"defaults.{key}", f"unknown key (expected one of: {', '.join(_DEFAULTS_KEYS)})")
    values = {key: check.get(defaults, "defaults", key, kind) for key, kind in _DEFAULTS_KEYS.items()}
    if values["spawn_target"] not in SPAWN_TARGETS:
        raise check.fail("defaults.spawn_target", f"expected one of {', '.join(SPAWN_TARGETS)}, got {values['spawn_target']!r}")
    try:
        from agents_tmux.ports import parse_range

        parse_range(values["ports"])
    except ValueError as exc:
        raise check.fail("defaults.ports", str(exc)) from None
    if values["layout"] not in LAYOUTS:
        raise check.fail("defaults.layout", f"expected one of {', '.join(LAYOUTS)}, got {values['layout']!r}")
    size = re.fullmatch(r"\s*0*([1-9]\d{0,3})\s*[xX×]\s*0*([1-9]\d{0,3})\s*", values["min_pane"])
    if size is None:
        raise check.fail("defaults.min_pane", f"expected a size in cells like \"40x8\" (columns x rows, each 1 to 9999), got {values['min_pane']!r}")
    values["min_pane"] = f"{size.group(1)}x{size.group(2)}"
    if values["merge"] not in ("merge", "squash", "rebase", "ff-only"):
        raise check.fail("defaults.merge", f"expected merge, squash, rebase or ff-only, got {values['merge']!r}")
    if values["sync"] not in ("merge", "rebase"):
        raise check.fail("defaults.sync", f"expected merge or rebase, got {values['sync']!r}")
    if "{slug}" not in values["worktree_dir"]:
        raise check.fail("defaults.worktree_dir", "expected a path template containing {slug}")
    agents = {name: _agent_kind(check, name, table, builtin_kinds) for name, table in merged["agents"].items()}
    if "_command" in defaults:
        # @agents-command replaces the command of the default agent kind only.
        kind = agents.get(values["agent"])
        if kind is not None:
            try:
                command = _Checker._command(defaults["_command"])
            except (TypeError, ValueError) as exc:
                raise ConfigError("tmux option @agents-command", "command", str(exc)) from None
            agents[kind.name] = AgentKind(**{**kind.__dict__, "command": command})
    if values["agent"] not in agents:
        raise check.fail("defaults.agent", f"expected one of the [agents] tables ({', '.join(sorted(agents))}), got {values['agent']!r}")
    prices = _prices(check, merged.get("prices", {}))
    budget = _budget(check, merged.get("budget", {}))
    return Config(**values, agents=agents, raw=merged, sources=files, origin=origin, prices=prices, budget=budget)


def _number(check: _Checker, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise check.fail(key, f"expected a number, got {_shown(value)}")
    if value < 0:
        raise check.fail(key, f"expected a number of at least 0, got {value}")
    return float(value)


def _prices(check: _Checker, table: Any) -> dict[str, dict[str, float]]:
    """[prices]: per model name (or ``prefix*``), the four prices per million tokens."""
    prices: dict[str, dict[str, float]] = {}
    for model, row in table.items():
        prefix = f"prices.{model}"
        if not isinstance(row, dict):
            raise check.fail(prefix, f"expected a table of prices ({', '.join(_PRICE_KEYS)}), got {_shown(row)}")
        if "*" in model[:-1]:
            raise check.fail(prefix, "expected a model name, or a prefix ending in * (no * elsewhere)")
        for key in row:
            if key not in (*_PRICE_KEYS, "context_window"):
                raise check.fail(f"{prefix}.{key}", f"unknown key (expected one of: {', '.join(_PRICE_KEYS)}, context_window)")
        prices[model] = {key: _number(check, f"{prefix}.{key}", row[key]) for key in (*_PRICE_KEYS, "context_window") if key in row}
    return prices


def _budget(check: _Checker, table: Any) -> dict[str, float]:
    """[budget]: the limits set (0 left out) and warn_percent."""
    budget: dict[str, float] = {}
    for key, value in table.items():
        if key not in _BUDGET_KEYS:
            raise check.fail(f"budget.{key}", f"unknown key (expected one of: {', '.join(_BUDGET_KEYS)})")
        number = _number(check, f"budget.{key}", value)
        if key == "warn_percent" and not 0 < number <= 100:
            raise check.fail("budget.warn_percent", f"expected a percentage from 1 to 100, got {value}")
        if number:
            budget[key] = number
    return budget


#: How a program is run (its flags for a session id, resuming, a system prompt,
#: how it takes the task, its environment): a kind naming a ``program`` takes
#: these from that program's built-in kind, for the keys it does not set.
_PROGRAM_KEYS = ("prompt", "session_id_flag", "resume", "continue", "system_prompt_flag", "add_dir_flag", "env")


def _agent_kind(check: _Checker, name: str, table: Any, builtin_kinds: dict[str, Any]) -> AgentKind:
    prefix = f"agents.{name}"
    if not isinstance(table, dict):
        raise check.fail(prefix, f"expected a table, got {_shown(table)}")
    for key in table:
        if key not in _AGENT_KEYS:
            raise check.fail(f"{prefix}.{key}", f"unknown key (expected one of: {', '.join(_AGENT_KEYS)})")
    if "command" not in table:
        raise check.fail(prefix, "expected a `command` for this agent kind")
    program, hooks = _program_and_hooks(check, prefix, table)
    # `program = "claude"` on a command of your own (a wrapper, the stand-in)
    # is still Claude: without its flags a restart or restore would start a
    # new conversation, and a team role's prompt would be dropped.
    inherited = builtin_kinds.get(program, {}) if program != programs.GENERIC else {}
    table = {**{key: inherited[key] for key in _PROGRAM_KEYS if key in inherited}, **table}
    prompt = check.get(table, prefix, "prompt", "str", "arg")
    if prompt not in PROMPT_MODES and not re.fullmatch(r"flag:-{1,2}[\w-]+", prompt):
        raise check.fail(f"{prefix}.prompt", f"expected arg, keys, none or flag:--NAME, got {prompt!r}")
    screen_table = table.get("screen", {})
    if not isinstance(screen_table, dict):
        raise check.fail(f"{prefix}.screen", f"expected a table, got {_shown(screen_table)}")
    screen: dict[str, tuple[str, ...]] = {}
    for state, patterns in screen_table.items():
        key = f"{prefix}.screen.{state}"
        if state not in SCREEN_STATES:
            raise check.fail(key, f"unknown state (expected one of: {', '.join(SCREEN_STATES)})")
        screen[state] = check.get(screen_table, f"{prefix}.screen", state, "strlist")
        # The shipped patterns are checked by the tests: compile only a user's (each spawn loads the config).
        for pattern in screen[state] if check.set_by_user(key) else ():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise check.fail(key, f"invalid regular expression {pattern!r}: {exc}") from None
    # The program's own patterns, replaced state by state by the kind's table.
    screen = {**programs.get(program).screen, **screen}
    env_table = table.get("env", {})
    if not isinstance(env_table, dict) or not all(isinstance(v, str) for v in env_table.values()):
        raise check.fail(f"{prefix}.env", "expected a table of strings")
    return AgentKind(
        name=name,
        command=check.get(table, prefix, "command", "command"),
        prompt=prompt,
        program=program,
        hooks=hooks,
        session_id_flag=check.get(table, prefix, "session_id_flag", "str", ""),
        resume=check.get(table, prefix, "resume", "strlist", []),
        continue_args=check.get(table, prefix, "continue", "strlist", []),
        system_prompt_flag=check.get(table, prefix, "system_prompt_flag", "str", ""),
        add_dir_flag=check.get(table, prefix, "add_dir_flag", "str", ""),
        screen=screen,
        env=dict(env_table),
    )


def _program_and_hooks(check: _Checker, prefix: str, table: dict[str, Any]) -> tuple[str, str]:
    """The kind's program adapter and hook setting.

    ``program = "claude"`` picks the adapter and turns its hooks on (unless
    ``hooks = "none"``); the older ``hooks = "claude"`` alone means the same.
    A kind naming neither is the generic adapter, read from its screen.
    """
    known = programs.names()
    with_hooks = [name for name in known if programs.get(name).has_hooks]
    hooks = check.get(table, prefix, "hooks", "str", "")
    if "program" in table:
        program = check.get(table, prefix, "program", "str")
        if program not in known:
            raise check.fail(f"{prefix}.program", f"expected one of {', '.join(known)}, got {program!r}")
    elif hooks in ("", "none"):
        program = programs.GENERIC
    elif hooks in with_hooks:
        program = hooks
    else:
        raise check.fail(f"{prefix}.hooks", f"expected none or one of {', '.join(with_hooks)}, got {hooks!r}")
    if hooks == "none" or (hooks == "" and program not in with_hooks):
        return program, "none"
    if hooks in ("", program) and program in with_hooks:
        return program, program
    allowed = f"none or {program}" if program in with_hooks else "none"
    raise check.fail(f"{prefix}.hooks", f"expected {allowed} (the hooks of program {program!r}), got {hooks!r}")
