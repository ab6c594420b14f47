"""Start an agent on a task: a new worktree and branch, a pane there, the agent running.

Prints the new agent's name. From a key binding (--from-key) the task comes
from the tmux buffer the prompt filled, and messages go to the status line.
"""

from __future__ import annotations

import argparse

from agents_tmux.cli import socket_of
from agents_tmux.config import SPAWN_TARGETS
from agents_tmux.errors import AgentsError
from agents_tmux.tmuxcmd import display_message

HELP = "start an agent on TASK in a new worktree and pane"
#: The tmux buffer the prompt of the spawn key writes the task into.
TASK_BUFFER = "agents-task"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", nargs="?", help="what the agent should do; also names the branch and the pane")
    parser.add_argument("--agent", "-a", metavar="NAME", help="agent kind from the config (default: claude)")
    parser.add_argument("--base", "-b", metavar="REF", help="branch the new branch from REF (default: the current HEAD)")
    parser.add_argument("--target", "-T", choices=SPAWN_TARGETS, help="where the pane opens (default: @agents-spawn-target)")
    parser.add_argument("--pane", "-t", metavar="PANE", help="the pane to split and take the folder from (default: this pane)")
    parser.add_argument("--dir", "-C", metavar="DIR", help="find the repository from DIR instead of the pane's folder")
    focus = parser.add_mutually_exclusive_group()
    focus.add_argument("--focus", dest="focus", action="store_true", default=None, help="move to the new pane")
    focus.add_argument("--no-focus", "-d", dest="focus", action="store_false", help="stay in the current pane")
    parser.add_argument("--force", "-f", action="store_true", help="start even when @agents-max agents already run or a [budget] is near")
    parser.add_argument("--from-key", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from agents_tmux.keyflow import origin_and_text
    from agents_tmux.spawn import BudgetNear, CapReached, SpawnRequest, spawn

    socket = socket_of(args)
    # spawn checks the origin pane itself, in the call that reads its folder.
    server, origin, task = origin_and_text(args, TASK_BUFFER, None if args.from_key else args.task, check_origin=False)
    if args.agent is not None and not args.agent.strip():
        raise AgentsError("--agent is empty: name an agent kind of the config (default: claude)")
    if task is None:
        raise AgentsError("say what the agent should do: agents spawn \"TASK\"")
    if len(task) > 4000:
        raise AgentsError("the task is longer than 4000 characters: put the details in a file and name it in the task")
    request = SpawnRequest(
        task=task, agent=args.agent, base=args.base, target=args.target, origin_pane=origin,
        directory=args.dir, focus=args.focus, force=args.force,
    )
    try:
        spawned = spawn(server, request)
    except CapReached as exc:
        if not args.from_key:
            raise
        _confirm_over_cap(server, args, origin, f"{exc.running} agents running, cap is {exc.limit}. Start one more? (y/n)")
        return 0
    except BudgetNear as exc:
        if not args.from_key:
            raise
        _confirm_over_cap(server, args, origin, f"{exc.description}. Start one more? (y/n)")
        return 0
    if args.from_key:
        server.cmd("delete-buffer", "-b", TASK_BUFFER)
        display_message(socket, f"agents: started {spawned.name} on {spawned.branch or 'the main checkout'}", args.client)
    else:
        print(spawned.name)
    return 0


def _confirm_over_cap(server: object, args: argparse.Namespace, origin: str | None, prompt: str) -> None:
    """Ask at the status line; on "y" run the same spawn again with --force."""
    from agents_tmux.keyflow import confirm_then_rerun

    words = ["spawn", "--from-key", "--force"]
    if origin:
        words += ["--pane", origin]
    for flag, value in (("--agent", args.agent), ("--base", args.base), ("--target", args.target)):
        if value:
            words += [flag, value]
    confirm_then_rerun(server, args, words, prompt)  # type: ignore[arg-type]
