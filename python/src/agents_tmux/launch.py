"""Build the command line that starts (or resumes) an agent: its kind's settings, its program's adapter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agents_tmux import programs
from agents_tmux.config import AgentKind
from agents_tmux.errors import AgentsError


@dataclass(frozen=True)
class Launch:
    """What the agent's pane runs, and what to record about it."""

    argv: tuple[str, ...]
    #: Text to type into the pane once the agent runs (prompt mode "keys").
    typed_prompt: str = ""
    #: Claude's session id when agents.tmux chose it up front.
    session_id: str = ""
    #: False when the program's hooks could not be wired in its working folder:
    #: the screen alone tells its state.
    hooks: bool = True
    #: Environment the program needs (set on the pane with ``-e``): its
    #: adapter's :attr:`~agents_tmux.programs.Program.pane_env`, and its hooks'.
    env: dict[str, str] = field(default_factory=dict)
    #: Hooks will say nothing until the first prompt (none was given): the screen
    #: says when the program is up and idle (see ``Program.reports_start``).
    screen_start: bool = False


def _prepare(program: programs.Program, kind: AgentKind, workdir: Path | None) -> tuple[bool, dict[str, str]]:
    """Whether the kind's hooks are on, and the pane's environment, after preparing ``workdir``.

    The program's own variables (:func:`agents_tmux.programs.pane_env`) come
    with or without hooks: they are about running it at all.
    """
    env = programs.pane_env(kind)
    if kind.hooks == "none":
        return False, env
    if workdir is None:
        return True, env
    hook_env = program.prepare(kind, workdir)
    return (False, env) if hook_env is None else (True, {**env, **hook_env})


def _base_argv(kind: AgentKind, add_dirs: Sequence[str]) -> list[str]:
    """The agent's command, then the folders it may use outside its working directory.

    ``--add-dir`` takes any number of folders, so it comes first: the next
    option ends the list, which therefore never swallows the prompt.
    """
    argv = list(kind.command)
    if kind.add_dir_flag and add_dirs:
        argv += [kind.add_dir_flag, *add_dirs]
    return argv


def start_command(
    kind: AgentKind, prompt: str, system_prompt: str = "", name: str = "", add_dirs: Sequence[str] = (),
    workdir: Path | None = None, session_id: str = "",
) -> Launch:
    """The command that starts a new agent of ``kind`` on ``prompt``.

    ``add_dirs``: folders outside the working directory the agent may use
    (the real shared context folder), passed with the kind's ``add_dir_flag``.
    ``workdir``: the folder the agent runs in, which its program may need to
    prepare for its hooks (:meth:`agents_tmux.programs.Program.prepare`).
    ``session_id``: the id to give the session when the kind fixes one up
    front (see :func:`chosen_session_id`); default a fresh one.
    """
    program = programs.get(kind.program)
    argv = _base_argv(kind, add_dirs)
    wanted, session_id = session_id, ""
    hooks, env = _prepare(program, kind, workdir)
    if kind.hooks != "none":
        if hooks:
            argv += program.hook_args(kind)
        # An id chosen up front is worth it only where hooks report the session back.
        session, session_id = program.session_args(kind, wanted)
        argv += session
    if system_prompt and kind.system_prompt_flag:
        argv += [kind.system_prompt_flag, system_prompt]
    prompt_args, typed = program.prompt_args(kind, prompt)
    argv += prompt_args
    screen_start = hooks and not program.reports_start and not (prompt_args or typed)
    return Launch(argv=tuple(argv), typed_prompt=typed, session_id=session_id, hooks=hooks, env=env,
                  screen_start=screen_start)


def chosen_session_id(kind: AgentKind) -> str:
    """The session id :func:`start_command` will give a new agent of ``kind``, chosen now ("" when none).

    Spawn puts it on record with the agent before its worktree exists, instead
    of writing the record a second time once the command is built.
    """
    if kind.hooks == "none" or not kind.session_id_flag:
        return ""
    return programs.random_uuid()


def resume_command(
    kind: AgentKind, session_id: str, system_prompt: str = "", add_dirs: Sequence[str] = (), workdir: Path | None = None
) -> Launch:
    """The command that brings an agent's conversation back after a restart.

    With a known session id and a ``resume`` template, resume that exact
    conversation; otherwise fall back to ``continue`` (the newest conversation
    in the worktree), and failing that start the agent afresh.
    """
    program = programs.get(kind.program)
    if session_id and not program.valid_session_id(session_id):
        # The last gate before argv: an id such as "--dangerously-skip-permissions" is never passed.
        raise AgentsError(f"{session_id[:60]!r} is not a {program.name} session id: not resuming it")
    argv = _base_argv(kind, add_dirs)
    hooks, env = _prepare(program, kind, workdir)
    if hooks:
        argv += program.hook_args(kind)
    if session_id and kind.resume:
        argv += program.resume_args(kind, session_id)
    elif kind.continue_args:
        argv += program.continue_args(kind)
    if system_prompt and kind.system_prompt_flag:
        argv += [kind.system_prompt_flag, system_prompt]
    return Launch(argv=tuple(argv), session_id=session_id, hooks=hooks, env=env,
                  screen_start=hooks and not program.reports_start)
