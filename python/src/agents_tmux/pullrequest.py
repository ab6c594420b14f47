"""From an agent's branch to a pull request: the remote, the push, the text, the ``gh`` command.

The agent's branch goes to the remote its base branch tracks (``git config
branch.<base>.remote``), else to ``origin``. The pull request is opened with
the GitHub CLI when it is installed; its title is the task's first line,
its body the agent's commits plus the shared context's ``plan.md`` and
``review.md`` when they exist. The body goes through a file under the
repository's state folder, so the ``gh pr create`` line printed when ``gh``
is missing stays short and can be run as it is.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from agents_tmux import gitops, paths
from agents_tmux.errors import AgentsError
from agents_tmux.lifecycle import AgentRef

#: Longest pull request title taken from a task (GitHub shows about this much).
TITLE_LIMIT = 120
#: Most characters of one context file put into the body (GitHub caps a body at 65536).
CONTEXT_LIMIT = 20000
#: Shared context files quoted in the body, with their headings.
CONTEXT_FILES = (("plan.md", "Plan"), ("review.md", "Review"))


@dataclass(frozen=True)
class Target:
    """Where the branch goes: the remote, and the branch the pull request is for there."""

    remote: str
    #: The base branch as the remote calls it ("" when the agent has no base on record).
    base: str
    #: The local ref the agent's commits are counted from ("" when unknown).
    base_ref: str


def _config(repo: Path, key: str) -> str:
    return gitops.git(repo, "config", "--get", key, check=False).stdout.strip()


def _is_remote(repo: Path, name: str) -> bool:
    return bool(name) and name != "." and gitops.git(repo, "remote", "get-url", "--", name, check=False).returncode == 0


def target_of(ref: AgentRef, base: str) -> Target:
    """The remote and base of ``ref``'s pull request; a clear error when there is no remote."""
    repo = ref.repo
    upstream = _config(repo, f"branch.{base}.remote") if base else ""
    remote = upstream if _is_remote(repo, upstream) else "origin" if _is_remote(repo, "origin") else ""
    if not remote:
        raise AgentsError(
            f"{repo} has no remote to push {ref.branch} to (the base {base or '?'} tracks none and there is no origin): "
            "add one with `git remote add origin URL`; nothing was changed"
        )
    remote_base = base
    if base and upstream == remote:
        merge = _config(repo, f"branch.{base}.merge")
        remote_base = merge.removeprefix("refs/heads/") or base
    base_ref = ""
    if base and gitops.git(repo, "show-ref", "--verify", "--quiet", f"refs/heads/{base}", check=False).returncode == 0:
        base_ref = f"refs/heads/{base}"
    elif ref.base_commit:
        base_ref = ref.base_commit
    return Target(remote=remote, base=remote_base, base_ref=base_ref)


def commits(ref: AgentRef, base_ref: str) -> list[str]:
    """The subjects of the agent's commits the base lacks, oldest first."""
    span = f"{base_ref}..refs/heads/{ref.branch}" if base_ref else f"refs/heads/{ref.branch}"
    out = gitops.git(ref.repo, "log", "--reverse", "--no-merges", "--format=%s", span).stdout
    return [line for line in out.splitlines() if line.strip()]


def title_of(ref: AgentRef, subjects: list[str]) -> str:
    """The task's first line, shortened; else the first commit's subject; else the branch."""
    first = next((line.strip() for line in ref.task.splitlines() if line.strip()), "")
    first = re.sub(r"[\x00-\x1f\x7f]", " ", first)
    if len(first) > TITLE_LIMIT:
        first = first[: TITLE_LIMIT - 1].rstrip() + "…"
    return first or (subjects[0] if subjects else ref.branch)


def body_of(ref: AgentRef, subjects: list[str], context_dir: Path | None) -> str:
    """The pull request's text: the task, the commits, the plan and the review."""
    parts = [f"Work of the agent `{ref.name}` (branch `{ref.branch}`), opened with `agents pr`."]
    if ref.task.strip():
        parts.append("## Task\n\n" + "\n".join("> " + line if line else ">" for line in ref.task.strip().splitlines()))
    if subjects:
        parts.append("## Commits\n\n" + "\n".join(f"- {subject}" for subject in subjects))
    for file_name, heading in CONTEXT_FILES:
        path = context_dir / file_name if context_dir is not None else None
        try:
            text = path.read_text(encoding="utf-8", errors="replace").strip() if path is not None and path.is_file() else ""
        except OSError:
            text = ""
        if text:
            if len(text) > CONTEXT_LIMIT:
                text = text[:CONTEXT_LIMIT] + f"\n\n… (cut; the whole file is {file_name} in the shared context folder)"
            parts.append(f"## {heading} ({file_name})\n\n{text}")
    return "\n\n".join(parts) + "\n"


def body_file(ref: AgentRef, body: str) -> Path:
    """Write ``body`` where ``gh --body-file`` can read it; its path."""
    from agents_tmux.atomic import atomic_write

    safe = re.sub(r"[^A-Za-z0-9._-]", "_", ref.name) or "agent"
    path = paths.repo_state_dir(ref.repo) / "pull-requests" / f"{safe}.md"
    atomic_write(path, body)
    return path


def push(ref: AgentRef, remote: str) -> None:
    """Push the agent's branch to ``remote`` and make it the branch's upstream."""
    spec = f"refs/heads/{ref.branch}:refs/heads/{ref.branch}"
    proc = gitops.git(ref.repo, "push", "--porcelain", "--set-upstream", remote, spec, check=False)
    if proc.returncode != 0:
        lines = [line for line in (proc.stderr or proc.stdout).strip().splitlines() if line.strip()]
        detail = (lines[-1] if lines else f"exit status {proc.returncode}").removeprefix("error: ").removeprefix("fatal: ")
        raise AgentsError(f"pushing {ref.branch} to {remote} failed ({detail}); nothing else was done")


def gh_argv(ref: AgentRef, target: Target, title: str, body_path: Path, draft: bool) -> list[str]:
    """The ``gh pr create`` command for this pull request."""
    argv = ["gh", "pr", "create", "--head", ref.branch]
    if target.base:
        argv += ["--base", target.base]
    argv += ["--title", title, "--body-file", str(body_path)]
    if draft:
        argv.append("--draft")
    return argv


def shell_line(argv: list[str]) -> str:
    """``argv`` as one line a POSIX shell runs unchanged."""
    return " ".join(shlex.quote(word) for word in argv)


def gh_installed() -> str | None:
    return shutil.which("gh")


def open_with_gh(ref: AgentRef, argv: list[str]) -> str:
    """Run ``gh pr create`` in the repository; the pull request's URL."""
    try:
        proc = subprocess.run(argv, cwd=ref.repo, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise AgentsError(f"gh pr create could not run ({exc})") from None
    urls = re.findall(r"https?://\S+", proc.stdout)
    if proc.returncode != 0 or not urls:
        lines = [line for line in (proc.stderr or proc.stdout).strip().splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit status {proc.returncode}"
        raise AgentsError(f"gh pr create failed ({detail})")
    return urls[-1]
