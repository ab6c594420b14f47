"""Start a whole team of agents on one task: every pane of a layout from the config.

Each pane is a role (planner, coder, reviewer...) with its own worktree and
branch ``agent/<task>-<role>`` unless the role says otherwise, its prompt
appended to the agent's system prompt. The panes open in a new window, or a
new session with --session. From a key binding (--from-key) the task comes
from the tmux buffer the prompt filled.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from agents_tmux.cli import socket_of
from agents_tmux.errors import AgentsError
from agents_tmux.tmuxcmd import display_message

if TYPE_CHECKING:
    from agents_tmux.teams import Team

HELP = "start every agent of a layout (planner, coder, reviewer...) on one task"
#: The tmux buffer the team key's prompt writes the task into.
TASK_BUFFER = "agents-team-task"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("layout", nargs="?", help="a [layouts.NAME] table of the config (default: team)")
    parser.add_argument("--task", "-m", metavar="TEXT", help="what the team should do; also names the branches")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--session", "-s", nargs="?", const="", metavar="NAME",
        help="open the team in a new session (default name: <repo>-<task>)",
    )
    where.add_argument("--window", "-w", action="store_true", help="open the team in a new window (even if the layout says session)")
    parser.add_argument("--base", "-b", metavar="REF", help="branch the worktrees from REF (default: the current HEAD)")
    parser.add_argument("--pane", "-t", metavar="PANE", help="the pane to take the folder from (default: this pane)")
    parser.add_argument("--dir", "-C", metavar="DIR", help="find the repository from DIR instead of the pane's folder")
    parser.add_argument("--no-focus", "-d", dest="focus", action="store_false", help="stay where you are")
    parser.add_argument("--force", "-f", action="store_true", help="start even when the team would pass @agents-max agents or a [budget] is near")
    parser.add_argument("--from-key", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    # The team key's prompt leaves its task in a buffer of its own (agents-team-task-TOKEN):
    # two clients answering at once each start their own task.
    parser.add_argument("--task-buffer", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from agents_tmux.keyflow import check_task_buffer, keep_typed_text, origin_and_text

    buffer = check_task_buffer(args.task_buffer or TASK_BUFFER, TASK_BUFFER)
    server, origin, task = origin_and_text(args, buffer, args.task)
    if not args.from_key or buffer == TASK_BUFFER:
        return _start(args, server, origin, task, buffer)
    try:
        return _start(args, server, origin, task, buffer)
    except BaseException:
        # Nothing typed is lost: it stays where the team key keeps it.
        keep_typed_text(server, TASK_BUFFER, task or "", buffer)
        raise


def _start(args: argparse.Namespace, server: Any, origin: str | None, task: str | None, buffer: str) -> int:
    from agents_tmux.keyflow import drop_kept_copy, keep_typed_text
    from agents_tmux.spawn import BudgetNear
    from agents_tmux.teams import TeamCapReached, TeamRequest, start_team

    socket = socket_of(args)
    if task is None or not task.strip():
        raise AgentsError('say what the team should do: agents team --task "TASK"')
    if len(task) > 4000:
        raise AgentsError("the task is longer than 4000 characters: put the details in a file and name it in the task")
    request = TeamRequest(
        task=task,
        layout=args.layout,
        target="window" if args.window else ("session" if args.session is not None else None),
        session=args.session,
        base=args.base,
        origin_pane=origin,
        directory=args.dir,
        focus=args.focus,
        force=args.force,
        client=args.client,
    )
    try:
        team = start_team(server, request)
    except TeamCapReached as exc:
        if not args.from_key:
            raise
        if buffer != TASK_BUFFER:  # the user's copy; the prompt's buffer stays for the question's yes
            keep_typed_text(server, TASK_BUFFER, task)
        _confirm_over_cap(server, args, origin, f"{exc.running} agents running, the team adds {exc.adding}, cap is {exc.limit}. Start it? (y/n)")
        return 0
    except BudgetNear as exc:
        if not args.from_key:
            raise
        if buffer != TASK_BUFFER:
            keep_typed_text(server, TASK_BUFFER, task)
        _confirm_over_cap(server, args, origin, f"{exc.description}. Start the team? (y/n)")
        return 0
    if args.from_key:
        server.cmd("delete-buffer", "-b", buffer)
        if buffer != TASK_BUFFER:
            drop_kept_copy(server, TASK_BUFFER, task)  # the copy a cap question kept
        display_message(socket, f"agents: team started: {_summary(team)}", args.client)
    else:
        for member in team.members:
            print(f"{member.role}\t{member.name}\t{member.branch or '-'}\t{member.pane_id}")
    return 0


def _summary(team: Team) -> str:
    return ", ".join(f"{m.role} {m.name}" for m in team.members) + f" in {team.target} {team.where}"


def _confirm_over_cap(server: object, args: argparse.Namespace, origin: str | None, prompt: str) -> None:
    """Ask once at the status line; on "y" run the same team again with --force."""
    from agents_tmux.keyflow import confirm_then_rerun

    words = ["team", "--from-key", "--force"]
    if args.task_buffer:
        words += ["--task-buffer", args.task_buffer]
    if args.layout:
        words.append(args.layout)
    if origin:
        words += ["--pane", origin]
    if args.session is not None:
        words.append(f"--session={args.session}" if args.session else "--session")
    if args.window:
        words.append("--window")
    for flag, value in (("--task", args.task), ("--base", args.base), ("--dir", args.dir)):
        if value:
            words += [flag, value]
    if not args.focus:
        words.append("--no-focus")
    confirm_then_rerun(server, args, words, prompt)  # type: ignore[arg-type]
