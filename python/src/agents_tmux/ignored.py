"""Ignored files in an agent's worktree: which are disposable, which are work, and an archive for the work.

git never commits ignored files, and ``git worktree remove`` deletes them.
Build output and caches (``node_modules``, ``.venv``, ``__pycache__``...)
can be made again: they are *disposable* (the ``disposable`` list of the
config). Anything else that is ignored (an edited ``.env``, ``notes.log``,
a data file made by hand) is the user's work: ``agents rm`` refuses to
delete it, and ``agents rm --force`` first packs it into a tar.gz archive
under the repository's state folder, checked byte for byte before the
worktree may go.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import os
import re
import tarfile
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from agents_tmux.errors import AgentsError


def is_disposable(path: str, patterns: Sequence[str]) -> bool:
    """True when ``path`` (relative, ``/``-separated, a folder may end in ``/``) matches a disposable pattern.

    A pattern without ``/`` is matched against each part of the path, so
    ``node_modules`` covers ``web/node_modules/x.js`` and ``*.pyc`` any
    ``.pyc`` file; a pattern with ``/`` is matched against the path from the
    worktree's top (and covers everything below a folder it matches).

    >>> is_disposable("web/node_modules/", ["node_modules"])
    True
    >>> is_disposable("src/app.pyc", ["*.pyc"])
    True
    >>> is_disposable("notes.log", ["node_modules", "*.pyc"])
    False
    >>> is_disposable("data/cache/x", ["data/cache"])
    True
    """
    parts = [part for part in path.split("/") if part]
    by_part, by_path = _compiled(tuple(patterns))
    if by_part is not None and any(by_part.match(part) for part in parts):
        return True
    return by_path is not None and any(by_path.match("/".join(parts[:depth])) for depth in range(1, len(parts) + 1))


@functools.lru_cache(maxsize=8)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
    """One regular expression for the patterns matched against a part of a path, one for those matched against a whole path."""
    anchored = [p.strip("/") for p in patterns if p.strip("/")]
    part = [fnmatch.translate(p) for p in anchored if "/" not in p]
    whole = [fnmatch.translate(p) for p in anchored if "/" in p]
    return (re.compile("|".join(part)) if part else None, re.compile("|".join(whole)) if whole else None)


def files_to_keep(worktree: Path, listed: Iterable[str], patterns: Sequence[str]) -> list[str]:
    """Every file and symlink under the ignored entries ``listed`` (git's ``--directory`` listing) that is not disposable.

    git lists an ignored folder once (``data/``); a disposable one is not
    looked into at all (a ``node_modules`` may hold 100 000 files), any other
    is walked, leaving out the disposable folders inside it. Empty folders,
    sockets and FIFOs hold nothing to lose and are not listed.
    """
    found: list[str] = []
    for entry in listed:
        rel = entry.rstrip("/")
        if not rel or is_disposable(rel, patterns):
            continue
        top = worktree / rel
        if top.is_symlink() or not top.is_dir():
            if top.is_symlink() or top.is_file():
                found.append(rel)
            continue
        for folder, dirnames, filenames in os.walk(top):
            here = Path(folder).relative_to(worktree).as_posix()
            descend = []
            for name in dirnames:
                child = f"{here}/{name}"
                if is_disposable(child, patterns):
                    continue
                # A symlink to a folder is kept as the link: never followed out of the worktree.
                if (Path(folder) / name).is_symlink():
                    found.append(child)
                else:
                    descend.append(name)
            dirnames[:] = descend
            for name in filenames:
                child = f"{here}/{name}"
                path = Path(folder) / name
                if not is_disposable(child, patterns) and (path.is_symlink() or path.is_file()):
                    found.append(child)
    return sorted(found)


def archive(worktree: Path, files: Sequence[str], folder: Path, stem: str) -> Path:
    """Pack ``files`` (relative to ``worktree``) into a new ``<folder>/<stem>-<time>.tar.gz``; its path.

    The archive is written under a temporary name, read back and compared
    with every file (content, or a symlink's target) and only then given its
    name; any failure raises with nothing left behind. Paths in it are
    relative to the worktree: ``tar -xzf ARCHIVE -C DIR`` puts them back.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{stem}-", suffix=".tar.gz.part")
    except OSError as exc:
        raise AgentsError(f"cannot write an archive in {folder} ({exc.strerror or exc}): nothing was removed") from None
    try:
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz") as tar:
                for rel in files:
                    tar.add(worktree / rel, arcname=rel, recursive=False)
            raw.flush()
            os.fsync(raw.fileno())
        _check(Path(temporary), worktree, files)
        target = _free_name(folder, f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}", ".tar.gz")
        # link, not rename: an archive that appeared meanwhile is never replaced.
        os.link(temporary, target)
    except (OSError, tarfile.TarError) as exc:
        raise AgentsError(f"cannot archive the ignored files of {worktree} in {folder} ({exc}): nothing was removed") from None
    finally:
        Path(temporary).unlink(missing_ok=True)
    return target


def _free_name(folder: Path, stem: str, suffix: str) -> Path:
    for number in range(1, 1000):
        path = folder / (f"{stem}{suffix}" if number == 1 else f"{stem}-{number}{suffix}")
        if not path.exists():
            return path
    raise OSError(f"no free archive name like {stem}{suffix}")


def _digest(stream: object) -> str:
    sha = hashlib.sha256()
    while chunk := stream.read(1 << 20):  # type: ignore[attr-defined]
        sha.update(chunk)
    return sha.hexdigest()


def _check(path: Path, worktree: Path, files: Sequence[str]) -> None:
    """Raise unless the archive at ``path`` holds every file of ``files`` exactly as it is in ``worktree``.

    ``files`` come in the order they were packed, so reading them only ever
    seeks forward in the gzip stream (a seek back would decompress it again).
    """
    with tarfile.open(path, mode="r:gz") as tar:
        members = {member.name: member for member in tar.getmembers()}
        for rel in files:
            member = members.get(rel)
            source = worktree / rel
            if member is None:
                raise OSError(f"{rel} is missing from the archive")
            if source.is_symlink():
                if not member.issym() or member.linkname != os.readlink(source):
                    raise OSError(f"the link {rel} differs in the archive")
                continue
            stored = tar.extractfile(member) if member.isfile() else None
            if stored is None:
                raise OSError(f"{rel} is not a file in the archive")
            with source.open("rb") as original:
                if _digest(stored) != _digest(original):
                    raise OSError(f"{rel} differs in the archive")
