"""The git work agents.tmux does: find the repository, create and inspect worktrees.

Every call runs the real ``git`` with an argument vector (no shell), and
every failure becomes one :class:`AgentsError` line.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from agents_tmux.errors import AgentsError
from agents_tmux.tmuxcmd import find_program


def git(cwd: Path | str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``git -C cwd args...`` and return the finished process."""
    if find_program("git") is None:
        raise AgentsError("git is not installed or not on PATH (Debian/Ubuntu: apt-get install git)")
    env = dict(os.environ)
    # Never stop to ask: a prompt in a key binding's background job would hang.
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    proc = subprocess.run(
        ["git", "-C", str(cwd), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if check and proc.returncode != 0:
        lines = [line for line in (proc.stderr or proc.stdout).strip().splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit status {proc.returncode}"
        raise AgentsError(f"git {args[0]} failed: {detail.removeprefix('fatal: ')}")
    return proc


@dataclass(frozen=True)
class Repo:
    """A git repository as seen from one of its working trees."""

    #: The main working tree (where ``.git`` is), even when found from a linked worktree.
    root: Path
    #: The working tree the lookup started in (the main one or a linked worktree).
    worktree: Path
    #: HEAD of ``worktree`` when it was found: its commit, and its branch ("" when detached).
    head_commit: str = ""
    head_branch: str = ""
    #: The common git folder (``.git`` of the main checkout), "" when not read.
    common_dir: str = ""

    @property
    def name(self) -> str:
        return self.root.name


def find_repo(path: Path | str) -> Repo:
    """The repository containing ``path``, or a clear error saying why there is none.

    One ``git rev-parse`` answers everything when ``path`` is in a working
    tree with a commit (each spawn runs this); anything else is asked again
    step by step, to say exactly what is wrong.
    """
    start = Path(path)
    if not start.is_dir():
        raise AgentsError(f"not a folder: {start}")
    quick = git(start, "rev-parse", "--is-bare-repository", "--is-inside-work-tree", "--show-toplevel", "--path-format=absolute",
                "--git-common-dir", "HEAD^{commit}", "--symbolic-full-name", "HEAD", check=False)
    lines = quick.stdout.splitlines()
    if quick.returncode == 0 and len(lines) == 6 and lines[:2] == ["false", "true"]:
        worktree, common, commit, head = Path(lines[2]), Path(lines[3]), lines[4], lines[5]
        if common.name == ".git":
            # What `git worktree list` names first: the common git folder's real path without "/.git".
            branch = head.removeprefix("refs/heads/") if head.startswith("refs/heads/") else ""
            return Repo(root=Path(os.path.realpath(common)).parent, worktree=worktree, head_commit=commit, head_branch=branch,
                        common_dir=str(common))
    probe = git(start, "rev-parse", "--is-bare-repository", "--is-inside-work-tree", check=False)
    if probe.returncode != 0:
        raise AgentsError(f"not inside a git repository: {start} (cd into a repository first, or run `git init`)")
    bare, inside = (probe.stdout.split() + ["", ""])[:2]
    if bare == "true" or inside != "true":
        raise AgentsError(f"{start} is a bare repository or a .git folder: agents need a working tree")
    worktree = Path(git(start, "rev-parse", "--show-toplevel").stdout.strip())
    common = git(start, "rev-parse", "--path-format=absolute", "--git-common-dir").stdout.strip()
    listing = git(start, "worktree", "list", "--porcelain").stdout
    first = next((line[len("worktree "):] for line in listing.splitlines() if line.startswith("worktree ")), "")
    root = Path(first) if first else Path(common).parent
    if git(start, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False).returncode != 0:
        raise AgentsError(f"the repository {root} has no commits yet: make a first commit so agents have something to branch from")
    return Repo(root=root, worktree=worktree)


def resolve_base(repo: Repo, ref: str | None) -> tuple[str, str]:
    """``(name, commit)`` of the base to branch from: ``ref`` or the current HEAD.

    The name is a branch name when there is one (so a later merge knows
    where to go back to), else the commit itself.
    """
    if ref is None:
        if repo.head_commit:
            return (repo.head_branch or repo.head_commit), repo.head_commit
        branch = git(repo.worktree, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).stdout.strip()
        commit = git(repo.worktree, "rev-parse", "--verify", "HEAD^{commit}").stdout.strip()
        return (branch or commit), commit
    if ref.startswith("-"):
        raise AgentsError(f"not a valid base: {ref!r}")
    proc = git(repo.worktree, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", check=False)
    if proc.returncode != 0:
        raise AgentsError(f"base {ref!r} is not a commit, branch or tag in {repo.root}")
    return ref, proc.stdout.strip()


def branch_exists(repo: Repo, branch: str) -> bool:
    """True when ``refs/heads/<branch>`` exists."""
    return git(repo.root, "show-ref", "--verify", "--quiet", f"refs/heads/{branch}", check=False).returncode == 0


#: Branch names git certainly accepts: parts of letters, digits, '_' and '-', each starting with a letter or digit
#: (no '.', '@', '//' or anything else check-ref-format looks at), so no git process is needed to know.
_PLAIN_BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(?:/[A-Za-z0-9][A-Za-z0-9_-]*)*")


def valid_branch_name(repo: Repo, branch: str) -> bool:
    """True when git accepts ``branch`` as a branch name.

    >>> valid_branch_name(Repo(Path("/nowhere"), Path("/nowhere")), "agent/fix-login-2")
    True
    """
    if _PLAIN_BRANCH.fullmatch(branch) and branch != "HEAD":
        return True
    return git(repo.root, "check-ref-format", "--branch", branch, check=False).returncode == 0


def add_worktree(repo: Repo, path: Path, branch: str, base_commit: str) -> None:
    """Create ``branch`` at ``base_commit`` checked out in a new worktree at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    git(repo.root, "worktree", "add", "--quiet", "-b", branch, str(path), base_commit)


def registered_worktrees(repo: Repo) -> set[Path]:
    """Every worktree path git knows for ``repo``, including missing ones."""
    listing = git(repo.root, "worktree", "list", "--porcelain").stdout
    return {Path(line[len("worktree "):]) for line in listing.splitlines() if line.startswith("worktree ")}


def clear_stale_locks(worktree: Path, branch: str = "") -> list[Path]:
    """Remove the lock files a git killed part-way left for ``worktree``; the ones removed.

    ``index.lock`` and ``HEAD.lock`` of the worktree, and the lock of its
    ``branch``: an ``agents rm`` killed during its ``git add`` or ``commit``
    leaves them, and every later ``git add`` there then fails. They are
    removed only when no git runs in the worktree or its repository (seen in
    /proc); where that cannot be seen, or git does run there, nothing is
    removed and the error says what to do.
    """
    proc = git(worktree, "rev-parse", "--absolute-git-dir", "--path-format=absolute", "--git-common-dir", "--show-toplevel",
               check=False)
    lines = proc.stdout.splitlines()
    if proc.returncode != 0 or len(lines) < 3:
        return []
    git_dir, common_dir, top = (Path(line) for line in lines[:3])
    locks = [git_dir / "index.lock", git_dir / "HEAD.lock"]
    if branch:
        locks.append(common_dir / "refs" / "heads" / f"{branch}.lock")
    found = [lock for lock in locks if lock.exists()]
    if not found:
        return []
    running = git_processes_in((top, common_dir.parent))
    if running is None:
        raise AgentsError(f"{found[0]} is left from a git that stopped part-way, it seems: if no git runs in {top}, "
                          "remove it and run this again")
    if running:
        raise AgentsError(f"git is running in {top} (pid {running[0]}): wait for it to finish, then run this again")
    for lock in found:
        lock.unlink(missing_ok=True)
    return found


def git_processes_in(folders: tuple[Path, ...]) -> list[int] | None:
    """Pids of the git processes working in one of ``folders`` (their cwd inside it); None without /proc."""
    proc_root = Path("/proc")
    if not (proc_root / "self" / "cwd").exists():
        return None
    roots = [str(folder) for folder in folders]
    found: list[int] = []
    for entry in proc_root.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if not (entry / "comm").read_text().startswith("git"):
                continue
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if any(cwd == root or cwd.startswith(root.rstrip("/") + "/") for root in roots):
            found.append(int(entry.name))
    return found
