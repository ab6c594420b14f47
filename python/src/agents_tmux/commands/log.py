"""Open an agent's record: its transcript, or its pane log (@agents-log on).

A transcript is shown as the conversation (user, assistant, tool calls and
their results) where the program's adapter reads it so (Claude's), else as it
is; --raw shows the file as it is. In a popup from a key
(--from-key), in a pager on a terminal, else printed. --path prints only
where the record is.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agents_tmux.cli import socket_of
from agents_tmux.commands._agent import add_repo_and_key_arguments
from agents_tmux.errors import AgentsError

HELP = "open an agent's transcript or pane log (--path: print where it is)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the agent (its name or pane id)")
    parser.add_argument("--path", "-p", action="store_true", help="print the file's path instead of opening it")
    parser.add_argument("--pane-log", action="store_true", help="the pane log even when a transcript exists")
    parser.add_argument("--raw", action="store_true", help="the file as it is (a transcript's JSON lines) instead of the conversation")
    add_repo_and_key_arguments(parser)


def record_path(ref: object, pane_log: bool = False) -> Path | None:
    """The agent's transcript if there is one (unless ``pane_log``), else its pane log if there is one."""
    from agents_tmux import panelog
    from agents_tmux.lifecycle import AgentRef
    from agents_tmux import programs

    assert isinstance(ref, AgentRef)
    if not pane_log:
        candidates = [Path(ref.transcript)] if ref.transcript else []
        if ref.session_id and ref.worktree is not None:
            program = _program_of(ref)
            candidates += programs.get(program).transcript_paths(ref.worktree, ref.session_id)
        for path in candidates:
            if path.is_file():
                return path
    log = panelog.log_path(ref.repo, ref.name)
    return log if log.is_file() else None


def _program_of(ref: object) -> str:
    """The program adapter of the agent's kind; the generic one when the config cannot say."""
    from agents_tmux import config
    from agents_tmux.lifecycle import AgentRef

    assert isinstance(ref, AgentRef)
    try:
        return config.load(ref.repo).agent_kind(ref.kind or None).program
    except AgentsError:
        return "generic"


def run(args: argparse.Namespace) -> int:
    from agents_tmux import lifecycle, viewer

    socket = socket_of(args)
    server = lifecycle.connect_if_running(socket)
    ref = lifecycle.resolve(server, args.name, args.repo)
    path = record_path(ref, args.pane_log)
    if path is None:
        raise AgentsError(
            f"{ref.name} has no record yet: Claude writes its transcript after the first prompt; "
            "for other agents turn on the pane log with `set -g @agents-log on` (new agents)"
        )
    if args.path:
        print(path)
        return 0
    text: str | None = None
    if not args.raw and path.suffix == ".jsonl":
        from agents_tmux import programs

        program = programs.get(_program_of(ref))
        if program.name == programs.GENERIC:
            # The config no longer says (a kind renamed, a config that does not load): the path does.
            program = programs.owner(str(path)) or program
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = program.conversation(handle)
    if text is None:
        if args.from_key:
            viewer.popup_file(socket, path, args.client)
        else:
            viewer.page(path.read_text(encoding="utf-8", errors="replace"))
        return 0
    text = text or f"{ref.name}'s transcript holds no conversation yet ({path})\n"
    if args.from_key:
        viewer.popup_text(socket, text, args.client, ref.name)
    else:
        viewer.page(text)
    return 0
