"""Start an agent on a task: a new worktree and branch, a pane there, the agent running.

Prints the new agent's name. From a key binding (--from-key) the task comes
from the tmux buffer the prompt filled, and messages go to the status line.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

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
    # The spawn key starts `spawn --from-key --key-token T` as its prompt opens:
    # it reads everything it can while the task is typed, then waits for Enter.
    parser.add_argument("--key-token", help=argparse.SUPPRESS)
    # With tmux 3.3+, standard input is a pipe from the key's `tmux command-prompt`, which ends when the prompt closes.
    parser.add_argument("--prompt-closes", action="store_true", help=argparse.SUPPRESS)
    # The cap question's yes: the buffer of the prompt the task was typed at (two
    # questions at once each start their own task, not the last one kept).
    parser.add_argument("--task-buffer", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    if args.key_token:
        return _run_at_enter(args)
    from agents_tmux.keyflow import check_task_buffer, drop_kept_copy, origin_and_text
    from agents_tmux.spawn import SpawnRequest

    buffer = check_task_buffer(args.task_buffer or TASK_BUFFER, TASK_BUFFER)
    # spawn checks the origin pane itself, in the call that reads its folder.
    server, origin, task = origin_and_text(args, buffer, None if args.from_key else args.task, check_origin=False)
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
    if buffer == TASK_BUFFER:
        return _spawn_and_say(server, args, origin, lambda: _spawn_telling(server, args, request), TASK_BUFFER)
    try:
        done = _spawn_and_say(server, args, origin, lambda: _spawn_telling(server, args, request), buffer)
    except BaseException:
        _keep_task(server, task, buffer)
        raise
    # agents-task holds a copy for the user; another refused task may have replaced it since.
    drop_kept_copy(server, TASK_BUFFER, task)
    return done


def _keep_task(server: Any, task: str, buffer: str | None = None) -> None:
    """Put ``task`` in the ``agents-task`` buffer (where the key keeps what was not started), ``buffer`` then deleted."""
    from agents_tmux.keyflow import keep_typed_text

    keep_typed_text(server, TASK_BUFFER, task, buffer)


def _spawn_telling(server: Any, args: argparse.Namespace, request: Any) -> Any:
    """Spawn; from the command line, then say when the server has not loaded the plugin (no status, no keys)."""
    from agents_tmux.spawn import prepare, spawn

    prepared = prepare(server, request)
    spawned = spawn(server, request, prepared)
    if not args.from_key and not prepared.plugin_loaded:
        from agents_tmux.commands.doctor import plugin_not_loaded

        print(f"agents spawn: note: {plugin_not_loaded(socket_of(args))}", file=sys.stderr)
    return spawned


def _spawn_and_say(server: Any, args: argparse.Namespace, origin: str | None, start: Callable[[], Any], buffer: str | None,
                   keep_task: Callable[[], object] = lambda: None) -> int:
    """Run ``start``; from a key, ask before going over the cap or a budget, and say what was started.

    ``buffer`` holds the typed task (deleted once the agent started). The
    question's "y" runs ``spawn --from-key --force`` on that buffer; the
    user's copy of the task goes in ``agents-task`` (``keep_task``).
    """
    from agents_tmux.spawn import BudgetNear, CapReached

    try:
        spawned = start()
    except CapReached as exc:
        if not args.from_key:
            raise
        keep_task()
        _confirm_over_cap(server, args, origin, f"{exc.running} agents running, cap is {exc.limit}. Start one more? (y/n)", buffer)
        return 0
    except BudgetNear as exc:
        if not args.from_key:
            raise
        keep_task()
        _confirm_over_cap(server, args, origin, f"{exc.description}. Start one more? (y/n)", buffer)
        return 0
    if args.from_key:
        if buffer:
            server.cmd("delete-buffer", "-b", buffer)
        display_message(socket_of(args), f"agents: started {spawned.name} on {spawned.branch or 'the main checkout'}", args.client)
    else:
        print(spawned.name)
    return 0


def _run_at_enter(args: argparse.Namespace) -> int:
    """The spawn key's own path: read what can be read while the task is typed, then wait for Enter.

    Started by scripts/ask-task as the prompt opens. Python's start-up, the
    imports, the origin pane, repository, config and agent kind all come
    before Enter; after it, only the deciding (cap, name) and the making
    (record, worktree, pane) under the repository lock are left. Whatever
    is refused is said after Enter, as for any other spawn, and the typed
    task is kept in the ``agents-task`` buffer then.
    """
    from agents_tmux import keyflow, panes
    from agents_tmux import spawn as spawn_mod

    token = args.key_token
    if not token.isalnum():
        raise AgentsError("--key-token: letters and digits only")
    server = panes.connect(socket_of(args))
    origin = args.pane or os.environ.get("TMUX_PANE") or None
    request = spawn_mod.SpawnRequest(task="", agent=args.agent, base=args.base, target=args.target, origin_pane=origin,
                                     directory=args.dir, focus=args.focus, force=args.force)
    if args.client and not args.prompt_closes:
        # tmux 3.2: nothing tells a spawn its prompt was cancelled but the next prompt of the client.
        keyflow.claim_prompt(server, args.client, token)
    refused: AgentsError | None = None
    prepared = None
    try:
        prepared = spawn_mod.prepare(server, request)
        spawn_mod.warm_imports()
    except AgentsError as exc:
        refused = exc
    if args.prompt_closes:
        answered = keyflow.wait_for_prompt_to_close(server, args.client)
    else:
        answered = keyflow.wait_for_enter(server, token, args.client)
    if not answered:
        return 0
    task = keyflow.take_typed_task(server, token)
    if task is None:  # the prompt was cancelled (or never shown: the client had one open)
        return 0
    buffer = keyflow.task_buffer(token)
    try:
        if refused is not None:
            raise refused
        if not task:
            raise AgentsError("say what the agent should do: agents spawn \"TASK\"")
        if len(task) > 4000:
            raise AgentsError("the task is longer than 4000 characters: put the details in a file and name it in the task")
        request.task = task
        # Over the cap: the user's copy in agents-task, and the prompt's buffer kept for the question's yes.
        return _spawn_and_say(server, args, origin, lambda: spawn_mod.spawn(server, request, prepared), buffer,
                              lambda: _keep_task(server, task))
    except BaseException:
        # Nothing typed is lost: it stays where the key's other paths leave it.
        _keep_task(server, task, buffer)
        raise


def _confirm_over_cap(server: object, args: argparse.Namespace, origin: str | None, prompt: str, buffer: str | None) -> None:
    """Ask at the status line; on "y" run the same spawn again with --force, on the task in ``buffer``."""
    from agents_tmux.keyflow import confirm_then_rerun

    words = ["spawn", "--from-key", "--force"]
    if buffer and buffer != TASK_BUFFER:
        words += ["--task-buffer", buffer]
    if origin:
        words += ["--pane", origin]
    for flag, value in (("--agent", args.agent), ("--base", args.base), ("--target", args.target)):
        if value:
            words += [flag, value]
    confirm_then_rerun(server, args, words, prompt)  # type: ignore[arg-type]
