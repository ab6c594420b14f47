"""A menu of every agent: state, branch and time in state; choosing one jumps to it.

Opened with ``prefix + a`` (a tmux ``display-menu`` on the client that
pressed it). Agents are listed most urgent first: waiting (longest first),
working, starting, idle, exited; keys 1-9 and 0 choose the first ten. Below
them: spawn an agent (the same prompt as ``prefix + A``), list the agents,
the actions on the agent of the current pane (a second menu: jump, diff,
log, merge, restart, remove...), the parked agents (a second menu:
choosing one unparks it), restore and team, each only when that command is
installed. ``--agent NAME`` opens the actions menu of NAME, ``--parked``
the parked agents.
``--print`` prints the entries (key, label, tmux command; tab-separated).
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agents_tmux import paths
from agents_tmux.cli import _available, socket_of
from agents_tmux.columns import display_width, fit
from agents_tmux.commands.jump import NEEDS_YOU, find_client, focus_commands, waiting_order
from agents_tmux.errors import AgentsError
from agents_tmux.tmuxcmd import tmux_binary
from agents_tmux.tmuxtext import no_formats

if TYPE_CHECKING:
    from agents_tmux import tmuxcmd

    from agents_tmux.panes import Agent

HELP = "a menu of all agents (state, branch, time); choose one to jump to it"
#: Most urgent first: the order of the menu.
STATE_ORDER = ("waiting", "error", "working", "starting", "idle", "exited")
DEFAULT_ICONS = {"starting": "◌", "working": "⚙", "waiting": "⏳", "error": "⚠", "idle": "✓", "exited": "✗"}
AGENT_KEYS = "1234567890"
NAME_WIDTH = 24
BRANCH_WIDTH = 32
#: Rows a menu needs besides the agents: its border (2), a separator and the
#: bottom entries (at most 8 here), plus the status line.
FIXED_ROWS = 12
MAX_AGENT_ROWS = 30


@dataclass(frozen=True)
class Item:
    """One menu entry; an empty label is a separator, a label starting with '-' is greyed out."""

    label: str
    key: str = ""
    command: str = ""

    def args(self) -> list[str]:
        """The item's arguments to display-menu: a separator is one empty argument, not three."""
        return [self.label, self.key, self.command] if self.label else [""]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--agent", metavar="NAME", help="open the actions menu of this agent")
    what.add_argument("--parked", action="store_true", help="open the menu of the parked agents (choosing one unparks it)")
    parser.add_argument("--print", dest="print_only", action="store_true", help="print the entries instead of showing the menu")
    parser.add_argument("--from-key", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", metavar="NAME", help="the tmux client to show the menu on (default: the current one)")
    parser.add_argument("--pane", metavar="PANE", help="the pane the menu was opened from (default: the client's)")


# ---------------------------------------------------------------------------
# text

def menu_text(text: str) -> str:
    """Text shown in a menu label or title: its '#' kept literal (tmux expands formats there)."""
    return no_formats(text)


def fit_name(name: str, role: str, width: int) -> str:
    """``name`` in ``width`` columns, a team member's role kept whole at its end.

    Team members are named ``<task>-<role>``: cutting the end would make the
    planner, coder and reviewer of one task look alike, so the task is cut.

    >>> fit_name("fix-the-login-redirect-planner", "planner", 20) + "|"
    'fix-the-log…-planner|'
    >>> fit_name("fix-the-login-redirect", "", 12) + "|", fit_name("short-coder", "coder", 20) + "|"
    ('fix-the-log…|', 'short-coder         |')
    """
    suffix = f"-{role}" if role and name.endswith(f"-{role}") and name != f"-{role}" else ""
    if display_width(name) <= width or not suffix or display_width(suffix) + 2 > width:
        return fit(name, width)
    stem = fit(name[: -len(suffix)], width - display_width(suffix)).rstrip()
    return fit(stem + suffix, width)


def agent_label(agent: Agent, icons: dict[str, str], name_width: int, branch_width: int) -> str:
    """``⏳ fix-login  agent/fix-login  3m  32.5k $0.42``, columns aligned (usage once a turn ended)."""
    from agents_tmux.commands.list import format_duration, usage_cells

    icon = icons.get(agent.state, "?")
    name = fit_name(agent.name, agent.role, name_width)
    label = f"{fit(icon, 2)} {name}  {fit(agent.branch or '-', branch_width)}  {fit(format_duration(agent.seconds_in_state), 4)}"
    tokens, cost, _ = usage_cells(agent)
    if tokens != "-":
        label += f"  {tokens} {cost if cost != '-' else ''}".rstrip()
    return menu_text(label.rstrip())


def menu_order(agents: list[Agent]) -> list[Agent]:
    """Most urgent first; agents that need you (waiting, error) by waiting time, the rest in list order."""
    waiting = waiting_order(agents)
    rest = sorted(
        (a for a in agents if a.state not in NEEDS_YOU),
        key=lambda a: STATE_ORDER.index(a.state) if a.state in STATE_ORDER else len(STATE_ORDER),
    )
    return waiting + rest


# ---------------------------------------------------------------------------
# commands the menu entries run

def cli_words(args: argparse.Namespace) -> list[str]:
    """The ``agents`` command line for the same tmux server."""
    words = [str(paths.script("agents"))]
    if args.socket_path:
        words += ["-S", args.socket_path]
    elif args.socket_name:
        words += ["-L", args.socket_name]
    return words


def shell_line(words: list[str]) -> str:
    return " ".join(shlex.quote(word) for word in words)


def dq(text: str, expanded: int = 0) -> str:
    """``text`` as one double-quoted tmux word, kept literal through ``expanded`` format expansions."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("#", "#" * (2 ** expanded)) + '"'


def for_menu(command: str) -> str:
    """A tmux command as a menu entry: tmux expands formats in it once, when the menu opens."""
    return no_formats(command)


def focus_command(pane: str) -> str:
    """The tmux command line that shows ``pane`` (pane ids are safe tokens)."""
    return " ".join(focus_commands(pane, None))


#: What the picker shows per line: an agent's name, state, role and branch (sessions and windows by name).
_PICK_AGENT = "#{@agent_name}  #{@agent_state}#{?#{@agent_role},  role #{@agent_role},}  #{@agent_branch}"
#: A window of one pane is shown as the window (its active pane's options are the agent's).
PICK_FORMAT = f"#{{?pane_format,{_PICK_AGENT},#{{?window_format,#{{?#{{@agent_name}},{_PICK_AGENT},#{{window_name}}}},#{{session_name}}}}}}"
#: tmux's own tree chooser, showing only the panes that carry an agent, with the chosen one's live screen below.
PICK_COMMAND = "choose-tree -Z -f " + dq("#{@agent_name}") + " -F " + dq(PICK_FORMAT)


def ask_task_command(pane: str | None, client: str | None, command: str = "spawn") -> str:
    """The spawn (or team) key's own command (scripts/ask-task): check the pane's folder is a repository, then ask for the task."""
    words = [str(paths.script("ask-task")), pane or "#{pane_id}", client or "#{client_name}", command]
    line = shell_line(words)
    if pane is None or client is None:
        # The formats stand for the menu's pane and client, expanded by run-shell.
        line = no_formats(shell_line(words[:1])) + f" {shlex.quote(words[1])} {shlex.quote(words[2])} {command}"
        return "run-shell -b " + dq(line)
    return run_shell_command(line)


def run_shell_command(line: str) -> str:
    return "run-shell -b " + dq(line, expanded=1)


def popup_command(cli: list[str], words: list[str], title: str, directory: str = "", page: bool = False) -> str:
    """A popup running ``agents WORDS``: paged through less, or held open until Enter."""
    line = shell_line([*cli, *words]) + " 2>&1"
    if page:
        line = f"if command -v less >/dev/null 2>&1; then {line} | less -R; else {line}; printf '\\n[Enter closes]'; read _; fi"
    else:
        line += "; printf '\\n[Enter closes]'; read _"
    command = "display-popup -E -w 90% -h 80% -T " + dq(f" {title} ", expanded=1)
    if directory:
        command += " -d " + dq(directory, expanded=1)
    # The popup's shell command is not format-expanded.
    return command + " " + dq(line)


def supports_from_key(module: str) -> bool:
    """True when ``agents <module>`` takes --from-key (reports on the status line)."""
    import importlib

    parser = argparse.ArgumentParser(add_help=False)
    try:
        importlib.import_module(f"agents_tmux.commands.{module}").add_arguments(parser)
    except Exception:  # noqa: BLE001 - a command being written elsewhere must not break the menu
        return False
    return any("--from-key" in action.option_strings for action in parser._actions)


def background_command(cli: list[str], words: list[str], title: str, client: str | None, pane: str | None = None, directory: str = "") -> str:
    """Run ``agents WORDS``: reporting on the status line if it can, else in a popup."""
    module = dict(_commands()).get(words[0], words[0])
    if supports_from_key(module):
        extra = ["--from-key"] + (["--client", client] if client else []) + (["--pane", pane] if pane else [])
        return run_shell_command(shell_line([*cli, words[0], *extra, *words[1:]]))
    return popup_command(cli, words, title, directory)


def _commands() -> tuple[tuple[str, str], ...]:
    from agents_tmux.cli import COMMANDS

    return COMMANDS


def installed(command: str) -> bool:
    """True when the subcommand exists in this installation (modules land one by one)."""
    module = dict(_commands()).get(command)
    return module is not None and _available(module)


# ---------------------------------------------------------------------------
# the menus

def main_items(agents: list[Agent], args: argparse.Namespace, icons: dict[str, str], prompt: str, client: str | None, pane: str | None, rows: int) -> list[Item]:
    del prompt  # scripts/ask-task reads @agents-prompt itself
    cli = cli_words(args)
    items: list[Item] = []
    ordered = menu_order(agents)
    shown = ordered[: max(1, rows)]
    if shown:
        name_width = min(NAME_WIDTH, max(display_width(a.name) for a in shown))
        branch_width = min(BRANCH_WIDTH, max(display_width(a.branch or "-") for a in shown))
    for index, agent in enumerate(shown):
        key = AGENT_KEYS[index] if index < len(AGENT_KEYS) else ""
        items.append(Item(agent_label(agent, icons, name_width, branch_width), key, focus_command(agent.pane_id)))
    if len(ordered) > len(shown):
        items.append(Item(f"-… {len(ordered) - len(shown)} more: see agents list (l)"))
    if not ordered:
        items.append(Item("-no agents yet"))
    items.append(Item(""))
    items.append(Item("Spawn agent…", "s", for_menu(ask_task_command(pane, client))))
    items.append(Item("List agents", "l", for_menu(popup_command(cli, ["list"], "agents list", page=False))))
    if installed("usage"):
        items.append(Item("Usage and cost", "u", for_menu(popup_command(cli, ["usage"], "agents usage", page=False))))
    if ordered:
        items.append(Item("Pick with live preview", "p", for_menu(PICK_COMMAND)))
    here = next((a for a in agents if a.pane_id == pane), None)
    if here is not None and action_items(here, args, client):
        submenu = shell_line([*cli, "menu", "--from-key", "--agent", here.name]
                             + (["--client", client] if client else []) + (["--pane", here.pane_id]))
        # One ellipsis: the one a cut name already ends with stands for both.
        shown_name = fit_name(here.name, here.role, NAME_WIDTH).rstrip()
        items.append(Item(menu_text(f"Actions on {shown_name}" + ("" if shown_name.endswith("…") else "…")), "x",
                          for_menu(run_shell_command(submenu))))
    parked = parked_agents() if installed("unpark") else []
    if parked:
        submenu = shell_line([*cli, "menu", "--from-key", "--parked"] + (["--client", client] if client else [])
                             + (["--pane", pane] if pane else []))
        items.append(Item(f"Parked agents ({len(parked)}): unpark…", "U", for_menu(run_shell_command(submenu))))
    if installed("restore"):
        items.append(Item("Restore agents", "R", for_menu(background_command(cli, ["restore"], "agents restore", client, pane))))
    if installed("team"):
        # As the team key does: check the folder, then ask for the task.
        items.append(Item("Start a team…", "t", for_menu(ask_task_command(pane, client, "team"))))
    return items


def parked_agents() -> list[Agent]:
    """The parked agents of every known repository, by repository then name; none when they cannot be read."""
    from agents_tmux.parking import parked_agents as on_record

    try:
        return on_record()
    except (AgentsError, OSError):
        return []  # a damaged registry must not take the whole menu down; `agents doctor` reports it


def parked_menu(args: argparse.Namespace, client: str | None) -> tuple[str, list[Item]]:
    """One entry per parked agent (name, branch, time parked; its repository when several have some): choosing unparks it."""
    from agents_tmux.commands.list import format_duration

    cli = cli_words(args)
    parked = parked_agents()
    items: list[Item] = []
    if parked:
        name_width = min(NAME_WIDTH, max(display_width(a.name) for a in parked))
        branch_width = min(BRANCH_WIDTH, max(display_width(a.branch or "-") for a in parked))
        several = len({a.repo for a in parked}) > 1
    for index, agent in enumerate(parked[:MAX_AGENT_ROWS]):
        key = AGENT_KEYS[index] if index < len(AGENT_KEYS) else ""
        label = (f"{fit_name(agent.name, agent.role, name_width)}  {fit(agent.branch or '-', branch_width)}  "
                 f"parked {format_duration(agent.seconds_in_state)}")
        if several:
            label += f"  ({fit(Path(agent.repo).name, NAME_WIDTH).rstrip()})"
        unpark = background_command(cli, ["unpark", agent.name, "--repo", agent.repo], f"agents unpark {agent.name}", client)
        items.append(Item(menu_text(label.rstrip()), key, for_menu(unpark)))
    if len(parked) > MAX_AGENT_ROWS:
        items.append(Item(f"-… {len(parked) - MAX_AGENT_ROWS} more: agents list --all, then agents unpark NAME"))
    if not parked:
        items.append(Item("-no parked agents"))
    return f" parked agents: {len(parked)} (choose one to unpark it) ", items


def action_items(agent: Agent, args: argparse.Namespace, client: str | None) -> list[Item]:
    """What can be done with one agent, for the commands that are installed."""
    cli = cli_words(args)
    name = agent.name
    where = agent.worktree
    items: list[Item] = []
    if installed("diff"):
        items.append(Item("Diff against its base", "d", popup_command(cli, ["diff", name], f"agents diff {name}", where, page=True)))
    if installed("log"):
        items.append(Item("Log / transcript", "l", popup_command(cli, ["log", name], f"agents log {name}", where, page=True)))
    if installed("merge"):
        merge = background_command(cli, ["merge", name], f"agents merge {name}", client, directory=where)
        items.append(Item("Merge into its base…", "m", confirm(f"Merge {name} into its base? (y/n)", merge)))
    if installed("sync"):
        sync = background_command(cli, ["sync", name], f"agents sync {name}", client, directory=where)
        items.append(Item("Sync with its base (conflicts go to it)", "s", sync))
    if installed("pr"):
        # A popup: the URL, or the gh command to run when gh is missing, stays to be read.
        pull_request = popup_command(cli, ["pr", name], f"agents pr {name}", where)
        items.append(Item("Pull request (push, open with gh)…", "p", confirm(f"Push {name}'s branch and open a pull request? (y/n)", pull_request)))
    if installed("restart"):
        items.append(Item("Restart", "r", background_command(cli, ["restart", name], f"agents restart {name}", client, directory=where)))
    if installed("park"):
        park = background_command(cli, ["park", name], f"agents park {name}", client)
        items.append(Item("Park (saves its work, frees the pane)…", "P", confirm(f"Park {name}: stop it, commit its work, remove its worktree? (y/n)", park)))
    if installed("rm"):
        remove = popup_command(cli, ["rm", name], f"agents rm {name}", "")
        items.append(Item("Remove (keeps unsaved work: refuses)…", "X", confirm(f"Remove agent {name} and its worktree? (y/n)", remove)))
    return items


def confirm(question: str, command: str) -> str:
    # confirm-before expands formats in its prompt and in its command.
    return "confirm-before -p " + dq(question, expanded=1) + " " + dq(no_formats(command))


def usage_line(agent: Agent) -> str:
    """``usage: 32.5k tokens (in 1.2k, out 3.0k, cache 28.3k), ~$0.42 (estimate), context 16%``."""
    from agents_tmux.usage import human_cost, human_tokens

    def count(text: str) -> str:
        return human_tokens(int(text)) if text.isdigit() else "?"

    cache = sum(int(value) for value in (agent.tokens_cache_write, agent.tokens_cache_read) if value.isdigit())
    line = f"usage: {count(agent.tokens)} tokens (in {count(agent.tokens_in)}, out {count(agent.tokens_out)}, cache {human_tokens(cache)})"
    try:
        line += f", ~{human_cost(float(agent.cost))} (estimate)" if agent.cost else ""
    except ValueError:
        pass
    return line + (f", context {agent.context_pct}%" if agent.context_pct.isdigit() else "")


def agent_menu(agent: Agent, args: argparse.Namespace, client: str | None) -> tuple[str, list[Item]]:
    items = [Item("Jump to it", "j", focus_command(agent.pane_id))]
    if agent.pr:
        items.append(Item(menu_text(f"-pull request: {agent.pr}")))
    if agent.tokens.isdigit():
        items.append(Item(menu_text(f"-{usage_line(agent)}")))
    actions = action_items(agent, args, client)
    if actions:
        items.append(Item(""))
        items += [Item(menu_text(i.label), i.key, for_menu(i.command)) for i in actions]
    return menu_text(f" {agent.name} ({agent.state or '?'}) "), items


def plugin_look(server: tmuxcmd.Server) -> tuple[dict[str, str], str]:
    """The state icons and the spawn prompt, as the user configured them."""
    from agents_tmux import panes

    names = [f"@agents-icon-{state}" for state in STATE_ORDER] + ["@agents-prompt"]
    records = panes.read_records(server, names, "display-message", "-p") if server.cmd("list-sessions").stdout else []
    values = records[0] if records else [""] * len(names)
    icons = {state: (value or DEFAULT_ICONS[state]) for state, value in zip(STATE_ORDER, values)}
    return icons, values[-1] if len(values) == len(names) and values[-1] else "task:"


def client_size(server: tmuxcmd.Server, client: str | None) -> int:
    """The client's height in rows (50 when unknown)."""
    from agents_tmux import panes

    for line in panes.run(server, "list-clients", "-F", "#{client_name}\t#{client_height}"):
        name, _, height = line.partition("\t")
        if name == client and height.isdigit():
            return int(height)
    return 50


def show(socket_flags: list[str], client: str, pane: str | None, title: str, items: list[Item]) -> None:
    """Open the menu. display-menu waits until the menu closes: leave it to do so."""
    argv = [tmux_binary(), *socket_flags, "display-menu", "-c", client, "-T", title, "-x", "C", "-y", "C"]
    if pane:
        argv += ["-t", pane]
    # A greyed-out first entry ("-no agents yet") would otherwise be read as flags.
    argv.append("--")
    for item in items:
        argv += item.args()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            error = proc.stderr.read().decode("utf-8", "replace").strip() if proc.stderr else ""
            if proc.returncode != 0:
                raise AgentsError(f"tmux display-menu: {error.splitlines()[-1] if error else 'failed'}")
            return
        time.sleep(0.02)


def run(args: argparse.Namespace) -> int:
    from agents_tmux import panes

    socket = socket_of(args)
    server = panes.connect(socket)
    client, client_pane = find_client(server, args.client)
    pane = args.pane or client_pane
    agents = panes.list_agents(server)
    if args.agent is not None:
        agent = next((a for a in agents if args.agent in (a.name, a.pane_id)), None)
        if agent is None:
            raise AgentsError(f"no running agent is called {args.agent!r} (see `agents list`)")
        title, items = agent_menu(agent, args, client)
    elif args.parked:
        title, items = parked_menu(args, client)
    else:
        icons, prompt = plugin_look(server)
        rows = min(MAX_AGENT_ROWS, client_size(server, client) - FIXED_ROWS)
        items = main_items(agents, args, icons, prompt, client, pane, rows)
        waiting = sum(1 for a in agents if a.state in NEEDS_YOU)
        title = f" agents: {len(agents)}" + (f", {waiting} waiting " if waiting else " ")
    if args.print_only:
        for item in items:
            print(f"{item.key}\t{item.label.replace('##', '#')}\t{item.command}")
        return 0
    if client is None:
        raise AgentsError("no tmux client is attached to show the menu on (--print prints its entries)")
    show(socket.flags(), client, pane, title, items)
    return 0
