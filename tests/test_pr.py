"""`agents pr`: push an agent's branch to a real (local, bare) remote and open a pull request.

The GitHub CLI is replaced by a stand-in `gh` on PATH that records its
arguments and prints a URL, as `gh pr create` does; everything else is real
git and real tmux.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import Repo, Tmux, commit_in, pane_of
from test_lifecycle import quiet, registry_entry, spawn  # noqa: F401 - fixture

URL = "https://github.com/example/project/pull/7"
STANDIN_GH = f"""#!/bin/sh
# Records its argv (NUL-separated) and the folder it ran in; prints a pull request URL.
printf '%s\\0' "$@" > "$GH_ARGV"
pwd > "$GH_ARGV.cwd"
echo "{URL}"
"""


@pytest.fixture
def gh(tmp_path: Path) -> dict[str, str]:
    """PATH with the stand-in gh first, and where it records its argv."""
    folder = tmp_path / "gh-bin"
    folder.mkdir()
    (folder / "gh").write_text(STANDIN_GH)
    (folder / "gh").chmod(0o755)
    return {"PATH": f"{folder}:{os.environ['PATH']}", "GH_ARGV": str(tmp_path / "gh-argv")}


def recorded_argv(env: dict[str, str]) -> list[str]:
    return Path(env["GH_ARGV"]).read_text().split("\0")[:-1]


def bare_remote(repo: Repo, name: str, tmp_path: Path) -> Path:
    """A bare repository as ``name``, with main pushed and tracked."""
    remote = tmp_path / f"{name}.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True, env=repo.env)
    repo.git("remote", "add", name, str(remote))
    repo.git("push", "-q", "-u", name, "main")
    return remote


def remote_refs(remote: Path, env: dict[str, str]) -> str:
    return subprocess.run(["git", "-C", str(remote), "for-each-ref"], capture_output=True, text=True, env=env, check=True).stdout


def test_pr_pushes_the_branch_opens_it_with_gh_and_records_the_url(tmux: Tmux, quiet: Repo, gh: dict[str, str], tmp_path: Path) -> None:
    remote = bare_remote(quiet, "origin", tmp_path)
    name, worktree = spawn(tmux, "Fix the login redirect")
    first = commit_in(quiet, worktree, "login.py", "redirect = '/home'\n", "Send users home after login")
    head = commit_in(quiet, worktree, "test_login.py", "assert True\n", "Test the redirect")
    context = quiet.path / ".agents" / "context"
    (context / "plan.md").write_text("1. change the redirect\n2. test it\n")
    (context / "review.md").write_text("No blocking findings.\n")

    out = tmux.agents("pr", name, "--draft", env=gh).stdout
    assert URL in out
    # The branch is on the remote at the agent's commit, and tracks it.
    assert f"{head} commit\trefs/heads/agent/{name}" in remote_refs(remote, quiet.env)
    assert quiet.git("config", f"branch.agent/{name}.remote").strip() == "origin"
    argv = recorded_argv(gh)
    body_path = Path(argv[argv.index("--body-file") + 1])
    assert argv == ["pr", "create", "--head", f"agent/{name}", "--base", "main", "--title", "Fix the login redirect",
                    "--body-file", str(body_path), "--draft"]
    assert Path(gh["GH_ARGV"] + ".cwd").read_text().strip() == str(quiet.path)
    body = body_path.read_text()
    assert "- Send users home after login\n- Test the redirect" in body
    assert "1. change the redirect" in body and "No blocking findings." in body
    assert first != head
    # Recorded: registry, pane option, list, list --json.
    assert registry_entry(tmux, name)["pr_url"] == URL
    assert tmux.option(pane_of(tmux, name), "@agent_pr") == URL
    assert [a["pr"] for a in json.loads(tmux.agents("list", "--json").stdout) if a["name"] == name] == [URL]
    assert URL in tmux.agents("list").stdout

    # Again after more work: pushed, and the known pull request is named, not opened twice.
    Path(gh["GH_ARGV"]).unlink()
    newer = commit_in(quiet, worktree, "notes.txt", "more\n", "Address the review")
    out = tmux.agents("pr", name, env=gh).stdout
    assert URL in out and not Path(gh["GH_ARGV"]).exists()
    assert f"{newer} commit\trefs/heads/agent/{name}" in remote_refs(remote, quiet.env)

    # An agent started from a commit has no base branch: gh picks the remote's default branch.
    sha = quiet.git("rev-parse", "main").strip()
    from_commit = tmux.agents("spawn", "From a commit", "-d", "--base", sha).stdout.strip()
    commit_in(quiet, quiet.path.parent / "project.agents" / from_commit, "c.txt", "c\n", "C")
    tmux.agents("pr", from_commit, env=gh)
    argv = recorded_argv(gh)
    assert "--base" not in argv and argv[argv.index("--head") + 1] == f"agent/{from_commit}"


def test_pr_without_gh_pushes_to_the_base_upstream_and_prints_a_runnable_gh_line(
    tmux: Tmux, quiet: Repo, gh: dict[str, str], tmp_path: Path
) -> None:
    if shutil.which("gh", path=os.environ["PATH"]):
        pytest.skip("a real gh is installed on this machine: the no-gh path cannot be shown")
    # The base tracks "upstream"; an "origin" exists too but is not the base's remote.
    upstream = bare_remote(quiet, "upstream", tmp_path)
    other = tmp_path / "other.git"
    subprocess.run(["git", "init", "-q", "--bare", str(other)], check=True, env=quiet.env)
    quiet.git("remote", "add", "origin", str(other))
    task = "Quote 'this' and $(touch pwned) \"too\""
    name, worktree = spawn(tmux, task)
    head = commit_in(quiet, worktree, "q.txt", "q\n", "Quote things")

    out = tmux.agents("pr", name).stdout.splitlines()
    assert f"{head} commit\trefs/heads/agent/{name}" in remote_refs(upstream, quiet.env)
    assert remote_refs(other, quiet.env) == ""
    assert "gh (the GitHub CLI) is not installed" in out[0]
    line = out[-1]
    assert line.startswith("gh pr create ")
    # The printed line, run by a shell with the stand-in gh, passes the task through as one word.
    subprocess.run(["sh", "-c", line], cwd=quiet.path, env={**quiet.env, **gh}, check=True, capture_output=True)
    argv = recorded_argv(gh)
    assert argv[:6] == ["pr", "create", "--head", f"agent/{name}", "--base", "main"]
    assert argv[argv.index("--title") + 1] == task
    assert not (quiet.path / "pwned").exists()
    assert "pr_url" not in registry_entry(tmux, name)


def test_pr_refuses_changing_nothing(tmux: Tmux, quiet: Repo, gh: dict[str, str], tmp_path: Path) -> None:
    name, worktree = spawn(tmux, "Refusals")
    commit_in(quiet, worktree, "a.txt", "a\n", "A")
    # No remote at all.
    proc = tmux.agents("pr", name, check=False, env=gh)
    assert proc.returncode == 1 and "no remote" in proc.stderr and "Traceback" not in proc.stderr
    remote = bare_remote(quiet, "origin", tmp_path)
    before = remote_refs(remote, quiet.env)
    # Uncommitted work in the worktree.
    (worktree / "a.txt").write_text("changed\n")
    proc = tmux.agents("pr", name, check=False, env=gh)
    assert proc.returncode == 1 and "uncommitted work" in proc.stderr and "a.txt" in proc.stderr
    assert (worktree / "a.txt").read_text() == "changed\n"
    # Nothing the base lacks.
    other, _ = spawn(tmux, "Nothing yet")
    proc = tmux.agents("pr", other, check=False, env=gh)
    assert proc.returncode == 1 and "nothing to propose" in proc.stderr
    assert remote_refs(remote, quiet.env) == before
    assert not Path(gh["GH_ARGV"]).exists()
    assert "pr_url" not in registry_entry(tmux, name)
