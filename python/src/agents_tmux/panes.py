"""The live agents: tmux panes that carry ``@agent_*`` options, read through :class:`agents_tmux.tmuxcmd.Server`.

tmux is the live database (see the README's design section): an agent is a
pane with ``@agent_name`` set, and its facts are that pane's user options.
A pane that dies takes its facts with it, so nothing here goes stale.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from typing import Any

from agents_tmux import tmuxcmd
from agents_tmux.errors import AgentsError
from agents_tmux.tmuxcmd import Socket, literal_args

#: The pane options every agent carries, in the order ``agents list`` shows them.
AGENT_FIELDS = (
    "name",
    "state",
    "state_since",
    "kind",
    "branch",
    "base",
    "worktree",
    "repo",
    "role",
    "task",
    "session_id",
    "transcript",
    "pr",
    "port",
    "setup",
    "exit_status",
)
#: Usage figures the hook puts on an agent's pane at the end of each turn
#: (``@agent_tokens_in``...; see :mod:`agents_tmux.usage`). Numbers, or "" before the first turn.
USAGE_FIELDS = (
    "tokens_in",
    "tokens_out",
    "tokens_cache_write",
    "tokens_cache_read",
    "tokens",
    "cost",
    "context_pct",
    "context_tokens",
    "model",
)
#: Global options agents.tmux reads (besides the per-pane facts).
PLUGIN_OPTIONS = (
    "@agents-agent",
    "@agents-command",
    "@agents-spawn-target",
    "@agents-max",
    "@agents-branch-prefix",
    "@agents-worktree-dir",
    "@agents-focus",
    "@agents-log",
    "@agents-lock-timeout",
    "@agents-layout",
    "@agents-min-pane",
    # Not an override: the plugin sets it when it loads, so it tells whether it runs in this server.
    "@agents-cli",
)


@dataclass(frozen=True)
class Agent:
    """One live agent, as its pane describes it."""

    pane_id: str
    session: str
    window_index: str
    window_id: str
    name: str
    state: str
    state_since: str
    kind: str
    branch: str
    base: str
    worktree: str
    repo: str
    role: str
    task: str
    session_id: str
    transcript: str
    pane_pid: str
    #: The URL of the agent's pull request (``agents pr``), "" when none.
    pr: str = ""
    #: The agent's own TCP port ("" when ports are off).
    port: str = ""
    #: The setup command's outcome: "running", "ok", "failed" ("" when there is none).
    setup: str = ""
    #: The agent program's exit status once it exited ("" while it runs).
    exit_status: str = ""
    #: Usage (:data:`USAGE_FIELDS`), as the pane holds it: text, "" before the first turn.
    tokens_in: str = ""
    tokens_out: str = ""
    tokens_cache_write: str = ""
    tokens_cache_read: str = ""
    tokens: str = ""
    cost: str = ""
    context_pct: str = ""
    context_tokens: str = ""
    model: str = ""

    @property
    def seconds_in_state(self) -> int:
        """How long the agent has been in its state (0 when unknown)."""
        try:
            return max(0, int(time.time()) - int(self.state_since))
        except ValueError:
            return 0

    def as_dict(self) -> dict[str, Any]:
        """Every fact; the usage figures as numbers (None before the first turn)."""
        facts = asdict(self)
        for key in USAGE_FIELDS:
            if key != "model":
                facts[key] = _number(facts[key], float if key == "cost" else int)
        return facts


def _number(text: str, kind: type) -> Any:
    """``text`` as a number of ``kind``, or None when it is not one (not measured yet)."""
    try:
        return kind(text)
    except ValueError:
        return None


def is_running(socket: Socket) -> bool:
    """True when a tmux server answers on ``socket``."""
    return bool(tmuxcmd.Server(socket_name=socket.name, socket_path=socket.path).is_alive())


def connect(socket: Socket) -> tmuxcmd.Server:
    """The tmux server for ``socket``, or a clear error when none runs there."""
    server = tmuxcmd.Server(socket_name=socket.name, socket_path=socket.path)
    if not server.is_alive():
        raise AgentsError(_no_server(socket))
    return server


def _no_server(socket: Socket) -> str:
    """Why no server answers, and the line that starts one, as the user's shell runs it."""
    import shlex

    from agents_tmux.cli import USER_PATH
    from agents_tmux.paths import agents_word

    agents = agents_word(USER_PATH)
    if socket.path or socket.name:
        flags = " ".join(shlex.quote(word) for word in socket.flags())
        return f"no tmux server is running on {socket.path or socket.name} (start one with `{agents} {flags} up`, or run this inside tmux)"
    if tmuxcmd.inside_tmux():
        # $TMUX names a server that is gone (a shell that outlived it): say so, not "the default socket".
        path = tmuxcmd.tmux_env_socket()
        gone = os.environ.get("TMUX", "") if path is None else path
        elsewhere = "; `agents up` runs one: -L agents" if tmuxcmd.server_listens(tmuxcmd.UP_SOCKET) else ""
        return f"the tmux server of this shell ($TMUX: {gone}) no longer runs: pick one with -L NAME or -S PATH{elsewhere}"
    return ("no tmux server is running, neither on the default socket nor the one `agents up` starts (-L agents): "
            f"start one with `{agents} up`, or run this inside tmux")


def socket_of_server(server: tmuxcmd.Server) -> Socket:
    """The :class:`Socket` that reaches ``server`` (for the standard-library helpers)."""
    return server.socket


def cmd(server: tmuxcmd.Server, *args: str) -> tmuxcmd.CommandResult:
    """``server.cmd`` with text arguments kept literal (see :func:`literal_args`)."""
    return server.cmd(*literal_args(args))


def run(server: tmuxcmd.Server, *args: str) -> list[str]:
    """Run a tmux command on ``server``; its stdout lines, or a clear error."""
    result = cmd(server, *args)
    if result.returncode != 0:
        detail = (result.stderr or ["exit status %s" % result.returncode])[-1]
        raise AgentsError(f"tmux {args[0]}: {detail}")
    return list(result.stdout)


def require_pane(server: tmuxcmd.Server, pane: str) -> str:
    """The id of ``pane`` (an id or target) in ``server``, or a clear error.

    ``display-message -t`` with an unknown target prints nothing and exits 0,
    so an unknown pane must be caught here, before anything is created.
    """
    lines = run(server, "display-message", "-p", "-t", pane, "#{pane_id}")
    if not lines or not lines[0].startswith("%"):
        raise AgentsError(f"no pane {pane!r} in this tmux server (see: {tmux_line(server.socket, 'list-panes', '-a')})")
    return lines[0]


def tmux_line(socket: Socket, *words: str) -> str:
    """``tmux WORDS`` for the user to run, on this server (``-L``/``-S`` as needed), quoted for a shell."""
    import shlex

    return shlex.join(["tmux", *socket.flags(), *words])


def read_records(server: tmuxcmd.Server, names: list[str] | tuple[str, ...], *command: str, check: bool = True) -> list[list[str]]:
    """:func:`agents_tmux.tmuxcmd.read_records` on ``server``: values read by length, whatever text they hold."""
    return tmuxcmd.read_records(socket_of_server(server), names, *command, check=check)


def plugin_options(server: tmuxcmd.Server) -> dict[str, str]:
    """The global ``@agents-*`` options that override the config file, in one call."""
    records = read_records(server, PLUGIN_OPTIONS, "display-message", "-p") if _has_client_or_session(server) else []
    values = records[0] if records else [""] * len(PLUGIN_OPTIONS)
    return dict(zip(PLUGIN_OPTIONS, values))


def _has_client_or_session(server: tmuxcmd.Server) -> bool:
    return bool(server.cmd("list-sessions", "-F", "#{session_id}").stdout)


def list_agents(server: tmuxcmd.Server) -> list[Agent]:
    """Every pane of the server that carries an agent, in session/window/pane order."""
    fields = ["pane_id", "session_name", "window_index", "window_id", "pane_pid"]
    # Read by length, not split on a separator: a task may hold any character.
    names = [*fields, *("@agent_%s" % f for f in (*AGENT_FIELDS, *USAGE_FIELDS))]
    agents: list[Agent] = []
    for parts in read_records(server, names, "list-panes", "-a", "-F", check=False):
        pane_id, session, window_index, window_id, pane_pid = parts[: len(fields)]
        facts = dict(zip((*AGENT_FIELDS, *USAGE_FIELDS), parts[len(fields):]))
        if not facts["name"]:
            continue
        agents.append(
            Agent(pane_id=pane_id, session=session, window_index=window_index, window_id=window_id, pane_pid=pane_pid, **facts)
        )
    return agents


def find_agent(server: tmuxcmd.Server, name: str) -> Agent:
    """The live agent called ``name`` (or with that pane id), or a clear error."""
    for agent in list_agents(server):
        if name in (agent.name, agent.pane_id):
            return agent
    raise AgentsError(f"no running agent is called {name!r} (see `agents list`)")


def set_pane_options(server: tmuxcmd.Server, pane_id: str, options: dict[str, str], keep_existing: tuple[str, ...] = ()) -> None:
    """Set several pane options in one tmux call.

    Options named in ``keep_existing`` are set only if the pane has no value
    yet (``set -o``): the agent may already have reported a newer state.
    """
    args = option_commands(pane_id, options, keep_existing)
    if args:
        cmd(server, *args[:-1])


def option_commands(pane_id: str, options: dict[str, str], keep_existing: tuple[str, ...] = ()) -> list[str]:
    """The ``set-option`` commands of :func:`set_pane_options`, each followed by a ``;`` (to batch with others)."""
    args: list[str] = []
    for option, value in options.items():
        flags = "-pqo" if option in keep_existing else "-pq"
        args += ["set-option", flags, "-t", pane_id, option, value, ";"]
    return args


def refresh_usage_summary(server: tmuxcmd.Server) -> None:
    """Recompute ``@agents_usage`` (the ``#{agents_usage}`` segment) from the agents still live.

    The hook sets it at the end of each turn; an agent closed in between must
    not stay counted until the next turn of another one.
    """
    from agents_tmux.usage import live_summary

    rows = [parts for parts in read_records(server, ["@agent_name", "@agent_tokens", "@agent_cost"], "list-panes", "-a", "-F", check=False) if parts[0]]
    cmd(server, "set-option", "-gq", "@agents_usage", live_summary([parts[1:] for parts in rows]))
