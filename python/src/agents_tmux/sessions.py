"""The tmux session that belongs to a repository: the one ``up``, ``restore`` and outside spawns use.

A session is tied to its repository by the session option ``@agents-repo``
(the repository's path). Its name is the folder's name, or the name plus a
short hash of the path when another repository already has that name, so two
checkouts called ``app`` never share (or steal) a session.
Standard library only: ``up`` runs without libtmux.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from agents_tmux.errors import AgentsError
from agents_tmux.tmuxcmd import Socket, no_formats, read_records, run

#: The session option naming the repository a session belongs to.
REPO_OPTION = "@agents-repo"


def session_name(folder: Path) -> str:
    """A tmux session name from a folder name: letters, digits, ``_`` and ``-`` only.

    tmux forbids ``.`` and ``:``, expands ``#`` as a format and stores ``$``
    and control characters escaped (so the name could not be found again).

    >>> session_name(Path("/src/my.app:v2")), session_name(Path("/src/we'ird $(x) #{y}"))
    ('my_app_v2', 'we_ird_x_y')
    """
    return re.sub(r"[^\w-]+", "_", folder.name).strip("_") or "agents"


def unique_name(folder: Path) -> str:
    """``session_name`` plus a short hash of the whole path: unique per repository.

    >>> unique_name(Path("/a/app")) != unique_name(Path("/b/app"))
    True
    """
    digest = hashlib.sha256(str(folder).encode("utf-8", "surrogateescape")).hexdigest()[:6]
    return f"{session_name(folder)}-{digest}"


def _sessions(socket: Socket) -> list[tuple[str, str, str]]:
    """(name, @agents-repo, start folder) of every session; [] when no server runs."""
    # Read by length, not split on a separator: a folder may hold a newline.
    try:
        records = read_records(socket, ("session_name", REPO_OPTION, "session_path"), "list-sessions", "-F", check=False)
    except AgentsError:
        return []
    return [(name, owner, path) for name, owner, path in records]


def find(socket: Socket, repo: Path) -> tuple[str, bool]:
    """The session of ``repo`` and whether it exists already.

    The session marked with the repository wins; else an unmarked session
    started in the repository (the plain name first: one made before
    sessions were marked, or by the user in that folder); else the plain
    name if free, else the name with the hash.
    """
    sessions = _sessions(socket)
    for name, owner, _ in sessions:
        if owner == str(repo):
            return name, True
    plain = session_name(repo)
    started_here = sorted((name != plain, name) for name, owner, path in sessions if not owner and path == str(repo))
    if started_here:
        return started_here[0][1], True
    if plain not in {name for name, _, _ in sessions}:
        return plain, False
    return unique_name(repo), unique_name(repo) in {name for name, _, _ in sessions}


def mark(socket: Socket, session: str, repo: Path) -> None:
    """Record on ``session`` which repository it belongs to."""
    run(socket, "set-option", "-t", f"={session}:", REPO_OPTION, str(repo))


def ensure(socket: Socket, repo: Path) -> tuple[str, bool]:
    """The session of ``repo``, made (detached, in the repository) when missing; (name, made now)."""
    name, exists = find(socket, repo)
    if not exists:
        run(socket, "new-session", "-d", "-s", no_formats(name), "-c", no_formats(str(repo)))
    mark(socket, name, repo)
    return name, not exists
