"""Work that git does not track is still the user's: merge and rm never delete it.

Git treats ignored files as expendable: a merge overwrites them, and
removing a worktree deletes them. These tests put such files (and folders,
and symlinks) where a merge or an `rm` would lose them, on real git and a
real tmux server, and check that nothing is lost and that the command says
where everything went.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path
from typing import Callable

import pytest
from conftest import Repo, Tmux

QUIET_KIND = '[agents.quiet]\ncommand = ["sleep", "600"]\nprompt = "none"\n'


@pytest.fixture
def quiet(tmux: Tmux, repo: Repo) -> Repo:
    """A repository whose agents are `sleep`, ignoring *.log, build/, .env and its config."""
    (repo.path / ".gitignore").write_text("*.log\nbuild/\n.env\nnode_modules/\ndocs\n.agents.toml\n")
    repo.git("add", ".gitignore")
    repo.git("commit", "-q", "-m", "ignore logs")
    (repo.path / ".agents.toml").write_text(QUIET_KIND + '[defaults]\nagent = "quiet"\n')
    tmux.run("set-option", "-g", "@agents-max", "100")
    return repo


def spawn(tmux: Tmux, task: str) -> tuple[str, Path]:
    name = tmux.agents("spawn", task, "-d").stdout.strip()
    return name, tmux.cwd.parent / "project.agents" / name  # type: ignore[union-attr]


def commit_in(repo: Repo, worktree: Path, rel: str, text: str) -> None:
    """Commit ``rel`` in the worktree, forced past .gitignore as an agent may do."""
    target = worktree / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    repo.git("add", "-f", rel, cwd=worktree)
    repo.git("commit", "-q", "-m", f"add {rel}", cwd=worktree)


def tree_bytes(folder: Path) -> dict[str, bytes]:
    """Every entry under ``folder`` but .git: files by content, symlinks by target, folders as markers."""
    found: dict[str, bytes] = {}
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if rel.parts[0] == ".git":
            continue
        if path.is_symlink():
            found[str(rel)] = b"-> " + os.readlink(path).encode()
        elif path.is_dir():
            found[str(rel)] = b"<dir>"
        else:
            found[str(rel)] = path.read_bytes()
    return found


# --------------------------------------------------------------------------
# merge: every path the merge would create, parent folders included


def _ignored_file_as_parent(repo: Repo) -> str:
    (repo.path / "notes.log").write_text("my own notes\n")
    return "notes.log"


def _ignored_folder_as_file(repo: Repo) -> str:
    (repo.path / "build").mkdir()
    (repo.path / "build" / "out.bin").write_text("built by hand\n")
    return "build"


def _symlink_as_parent(repo: Repo) -> str:
    (repo.path.parent / "elsewhere").mkdir(exist_ok=True)
    (repo.path / "docs").symlink_to(repo.path.parent / "elsewhere")
    return "docs"


def _untracked_file_as_parent(repo: Repo) -> str:
    (repo.path / "todo").write_text("untracked, not ignored\n")
    return "todo"


# (what is in the main checkout's way, the path the agent's branch adds)
IN_THE_WAY: dict[str, tuple[Callable[[Repo], str], str]] = {
    "ignored-file-where-a-folder-comes": (_ignored_file_as_parent, "notes.log/a.txt"),
    "ignored-folder-where-a-file-comes": (_ignored_folder_as_file, "build"),
    "symlink-where-a-folder-comes": (_symlink_as_parent, "docs/guide.md"),
    "untracked-file-where-a-folder-comes": (_untracked_file_as_parent, "todo/first.txt"),
}


@pytest.mark.parametrize("case", sorted(IN_THE_WAY))
def test_merge_refuses_when_anything_is_in_the_way_of_a_path_it_creates(tmux: Tmux, quiet: Repo, case: str) -> None:
    make_obstacle, incoming = IN_THE_WAY[case]
    name, worktree = spawn(tmux, f"merge over {case}")
    commit_in(quiet, worktree, incoming, "from the agent\n")
    obstacle = make_obstacle(quiet)
    before_files = tree_bytes(quiet.path)
    before_head = quiet.git("rev-parse", "HEAD")
    proc = tmux.agents("merge", name, check=False)
    assert proc.returncode == 1, proc.stdout
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert obstacle in proc.stderr and "nothing was changed" in proc.stderr
    assert "move" in proc.stderr
    assert tree_bytes(quiet.path) == before_files
    assert quiet.git("rev-parse", "HEAD") == before_head
    # Once the obstacle is moved away, the same merge goes through.
    os.rename(quiet.path / obstacle, quiet.path.parent / f"moved-{obstacle}")
    tmux.agents("merge", name)
    assert (quiet.path / incoming).read_text() == "from the agent\n"
