"""The shared context folder: one folder per repository that every agent sees.

The folder is real in the main checkout (``<repo>/.agents/context`` by
default, ``context_dir`` in the config) and a relative symlink at the same
path in every worktree agents.tmux creates, so a file one agent writes there
is there at once for all of them. It is kept out of git by one line in the
repository's ``info/exclude`` (the common git folder, shared by every
worktree); the user's ``.gitignore`` is never touched.

Only the standard library is used: ``agents note`` runs it from agents' panes.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from agents_tmux.errors import AgentsError

if TYPE_CHECKING:
    from agents_tmux.config import Config
    from agents_tmux.gitops import Repo

EXCLUDE_COMMENT = "# agents.tmux: the agents' shared context folder (see `agents context`)"
README = """\
# Shared context

This folder is shared by every agent working on this repository: each one
sees it at `{rel}` in its own checkout (a link to `{shared}`), and a file
written here by one agent is visible to all of them at once. git does not
see it (it is listed in .git/info/exclude).

What goes where:

- `plan.md`       the plan: the goal, the design, the steps in order (the planner writes it)
- `decisions/`    one file per decision and why it was taken
- `progress.md`   what has been done and what is next (the coder keeps it current)
- `review.md`     findings of the review, most important first
- `notes.md`      short messages between agents and you: `agents note "TEXT"` adds a line
- `team.md`       the agents of the last team started: role, name, branch, worktree

Read what is here before you start, and keep files short and current.
"""
_SAFE = re.compile(r"[A-Za-z0-9._-]+")


def relative_dir(cfg: Config) -> PurePosixPath:
    """``context_dir`` as a clean relative path, or a located config error.

    A path inside the checkout, of plain names only (it becomes a line of
    info/exclude, where other characters would be patterns).
    """
    raw = cfg.context_dir.strip()
    path = PurePosixPath(raw)
    problem = ""
    if not raw or path.is_absolute():
        problem = "expected a relative path inside the checkout, like \".agents/context\""
    elif any(part in ("..", ".") for part in path.parts) or path.parts[0] == ".git":
        problem = "expected a path inside the checkout (no '..', '.' or '.git' parts)"
    elif not all(_SAFE.fullmatch(part) for part in path.parts):
        problem = "expected folder names of letters, digits, '.', '_' and '-' only"
    if problem:
        from agents_tmux.config import ConfigError

        source, line = cfg.locate("defaults.context_dir")
        raise ConfigError(source, "defaults.context_dir", f"{problem}, got {cfg.context_dir!r}", line)
    return path


def shared_dir(repo_root: Path, cfg: Config) -> Path:
    """The real folder, in the main checkout."""
    return repo_root / relative_dir(cfg)


def _git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-C", str(cwd), *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise AgentsError(f"git {args[0]} failed: {detail.removeprefix('fatal: ')}")
    return proc.stdout.strip()


#: The common git folder of each repository this process has asked git about (or been told).
_COMMON_DIRS: dict[Path, str] = {}


def exclude_file(repo_root: Path) -> Path:
    """``info/exclude`` of the common git folder (read by every worktree)."""
    common = _COMMON_DIRS.get(repo_root) or _git(repo_root, "rev-parse", "--path-format=absolute", "--git-common-dir")
    _COMMON_DIRS[repo_root] = common
    return Path(common) / "info" / "exclude"


def add_exclude(repo_root: Path, rel: PurePosixPath) -> bool:
    """Make sure ``/<rel>`` is in info/exclude; True when a line was added.

    No trailing slash: the pattern must match the symlink in a worktree as
    well as the folder in the main checkout.
    """
    pattern = "/" + rel.as_posix()
    path = exclude_file(repo_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        text = handle.read()
        if pattern in (line.strip() for line in text.splitlines()):
            return False
        prefix = "" if not text or text.endswith("\n") else "\n"
        handle.write(f"{prefix}{EXCLUDE_COMMENT}\n{pattern}\n")
        handle.flush()
    return True


def ensure_shared(repo_root: Path, cfg: Config) -> Path:
    """Create the shared folder (seeded with its README) and exclude it from git."""
    rel = relative_dir(cfg)
    shared = repo_root / rel
    try:
        add_exclude(repo_root, rel)
        shared.mkdir(parents=True, exist_ok=True)
        (shared / "decisions").mkdir(exist_ok=True)
        readme = shared / "README.md"
        if not readme.exists():
            _create(readme, README.format(rel=rel.as_posix(), shared=shared))
    except OSError as exc:
        raise AgentsError(f"cannot prepare the shared context folder {shared}: {exc.strerror or exc}") from None
    return shared


def _create(path: Path, text: str) -> None:
    """Write a new file, never replacing one another process made meanwhile."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def wire(repo_root: Path, cfg: Config, worktree: Path | None) -> Path:
    """Make the shared folder visible at ``context_dir`` in ``worktree``; its path there.

    ``worktree`` None (or the main checkout) only prepares the real folder.
    Something already at that path in the worktree (a folder tracked in
    git, say) is left alone.
    """
    shared = ensure_shared(repo_root, cfg)
    if worktree is None or worktree.resolve() == repo_root.resolve():
        return shared
    link = worktree / relative_dir(cfg)
    if link.is_symlink() or link.exists():
        return link
    try:
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(shared, link.parent), link)
    except OSError as exc:
        raise AgentsError(f"cannot link the shared context folder into {worktree}: {exc.strerror or exc}") from None
    return link


def extra_dirs(repo_root: Path, cfg: Config, worktree: Path | None) -> tuple[str, ...]:
    """Folders outside ``worktree`` an agent working there needs: the real shared folder.

    None for an agent in the main checkout (the folder is inside it already),
    or when the path in the worktree is not our link (something of the
    user's is there).
    """
    if worktree is None or worktree.resolve() == repo_root.resolve():
        return ()
    shared = shared_dir(repo_root, cfg)
    link = worktree / relative_dir(cfg)
    try:
        if not shared.is_dir() or link.resolve() != shared.resolve():
            return ()
    except OSError:
        return ()
    return (str(shared),)


def prepare(repo: Repo, cfg: Config, worktree: Path | None) -> Path:
    """What ``spawn`` calls for every agent, before the agent starts."""
    if repo.common_dir:
        _COMMON_DIRS[repo.root] = repo.common_dir
    return wire(repo.root, cfg, worktree)


def note_line(author: str, text: str, now: datetime | None = None) -> str:
    """One line of notes.md (continuation lines indented under it).

    >>> from datetime import timezone
    >>> note_line("coder", "done with step 2\\nnext: tests", datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    '- 2025-01-02T03:04:05+00:00 [coder] done with step 2\\n  next: tests\\n'
    >>> note_line("user", "a\\nb").count("\\n  ")
    1
    """
    stamp = (now or datetime.now().astimezone()).isoformat(timespec="seconds")
    lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    body = "\n  ".join(lines)
    return f"- {stamp} [{author}] {body}\n"


def append_note(shared: Path, author: str, text: str) -> Path:
    """Append one timestamped note to ``notes.md`` (locked, one write)."""
    path = shared / "notes.md"
    line = note_line(author, text)
    try:
        with open(path, "a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            if handle.tell() == 0:
                handle.write("# Notes\n\n")
            handle.write(line)
            handle.flush()
    except OSError as exc:
        raise AgentsError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def index(shared: Path) -> str:
    """The folder at a glance: its files (newest first) and then its README."""
    entries: list[tuple[float, str]] = []
    for path in shared.rglob("*"):
        if path.is_file() and path.name != "README.md":
            try:
                stat = path.stat()
            except OSError:
                continue
            rel = path.relative_to(shared).as_posix()
            when = datetime.fromtimestamp(stat.st_mtime).strftime("%Y-%m-%d %H:%M")
            entries.append((stat.st_mtime, f"  {when}  {stat.st_size:>7}  {rel}"))
    entries.sort(reverse=True)
    out = [str(shared), ""]
    out += [line for _, line in entries] or ["  (no files yet)"]
    readme = shared / "README.md"
    if readme.is_file():
        out += ["", readme.read_text(encoding="utf-8", errors="replace").rstrip()]
    return "\n".join(out) + "\n"
