"""What an agent changed: the text ``agents diff`` shows.

The uncommitted part is read through a temporary copy of the worktree's
index with the untracked files marked intent-to-add, so new files show as
new files while the agent's real index (what it staged) is never touched.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from agents_tmux import gitops
from agents_tmux.errors import AgentsError
from agents_tmux.lifecycle import AgentRef


def _git(cwd: Path, *args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    full = {k: v for k, v in os.environ.items() if k not in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE")}
    full["GIT_TERMINAL_PROMPT"] = "0"
    full.update(env or {})
    proc = subprocess.run(
        ["git", "-C", str(cwd), *args], input=stdin, capture_output=True, text=True, env=full, check=False,
        errors="surrogateescape",
    )
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise AgentsError(f"git {args[0]} failed: {detail.removeprefix('fatal: ')}")
    return proc.stdout


def _base_ref(ref: AgentRef) -> str:
    """What the branch is compared with: its base branch if it still exists, else the base commit."""
    for candidate in (ref.base, ref.base_commit):
        if candidate and gitops.git(ref.repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{candidate}^{{commit}}", check=False).returncode == 0:
            return candidate
    return ""


def committed(ref: AgentRef, color: bool, stat: bool) -> str:
    """Header, commit list and diff of the branch since it left its base."""
    branch = ref.branch
    if not branch or gitops.git(ref.repo, "show-ref", "--verify", "--quiet", f"refs/heads/{branch}", check=False).returncode != 0:
        return f"# {ref.name}: no branch {branch or '(none)'} (nothing committed to show)\n"
    base = _base_ref(ref)
    if not base:
        return f"# {ref.name}: the base {ref.base or ref.base_commit or '(unknown)'} no longer exists; cannot tell what {branch} changed\n"
    merge_base = _git(ref.repo, "merge-base", base, branch).strip()
    colour = "--color=always" if color else "--color=never"
    log = _git(ref.repo, "log", "--oneline", colour, f"{merge_base}..{branch}")
    count = len(log.splitlines())
    out = [f"# {ref.name}: committed on {branch} since {base} ({count} commit{'' if count == 1 else 's'})\n", log]
    if count:
        out.append(_git(ref.repo, "diff", colour, "--stat" if stat else "--patch-with-stat", merge_base, branch))
    return "".join(out)


def uncommitted(ref: AgentRef, color: bool, stat: bool) -> str:
    """Header and diff of the worktree against its HEAD, untracked files as new files."""
    worktree = ref.worktree
    if worktree is None or not worktree.is_dir():
        return f"# {ref.name}: the worktree {worktree} is gone (nothing uncommitted to show)\n"
    status = _git(worktree, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames")
    untracked = [item[3:] for item in status.split("\0") if item.startswith("?? ") and not item.endswith("/")]
    nested = [item[3:] for item in status.split("\0") if item.startswith("?? ") and item.endswith("/")]
    index = _git(worktree, "rev-parse", "--path-format=absolute", "--git-path", "index").strip()
    colour = "--color=always" if color else "--color=never"
    with tempfile.TemporaryDirectory(prefix="agents-diff-") as tmp:
        temp_index = os.path.join(tmp, "index")
        if os.path.exists(index):
            shutil.copyfile(index, temp_index)
        env = {"GIT_INDEX_FILE": temp_index}
        if untracked:
            _git(worktree, "add", "--intent-to-add", "--pathspec-from-file=-", "--pathspec-file-nul", env=env,
                 stdin="\0".join(untracked) + "\0")
        diff = _git(worktree, "diff", colour, "--stat" if stat else "--patch-with-stat", "HEAD", env=env)
    files = len([p for p in status.split("\0") if len(p) > 3])
    head = f"# {ref.name}: uncommitted in {worktree} ({files} file{'' if files == 1 else 's'}"
    head += f", {len(untracked)} untracked)\n" if untracked else ")\n"
    extra = f"# not shown: git repositories inside the worktree: {', '.join(nested)}\n" if nested else ""
    return head + extra + diff


def describe(ref: AgentRef, color: bool = False, stat: bool = False) -> str:
    """The whole text of ``agents diff``."""
    if not ref.own_worktree:
        return f"# {ref.name} works in the main checkout {ref.repo}: see `{shlex.join(['git', '-C', str(ref.repo), 'diff'])}`\n"
    parts = [committed(ref, color, stat), uncommitted(ref, color, stat)]
    return "\n".join(part if part.endswith("\n") else part + "\n" for part in parts)
