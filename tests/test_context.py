"""The shared context folder: same path in every checkout, one real folder, invisible to git."""

from __future__ import annotations

import os
import re
from pathlib import Path

from conftest import AGENTS, Repo, Tmux, agent_start, first_pane, pane_of, read_standin_log, wait_for

GITIGNORE = "node_modules/\n*.log\n"


def exclude_lines(repo: Repo) -> list[str]:
    return (repo.path / ".git" / "info" / "exclude").read_text().splitlines()


def test_every_checkout_sees_one_folder_and_git_sees_none(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    (repo.path / ".gitignore").write_text(GITIGNORE)
    repo.git("add", ".gitignore")
    repo.git("commit", "-q", "-m", "ignore")
    first = tmux.agents("spawn", "first task", "-d").stdout.strip()
    second = tmux.agents("spawn", "second task", "-d").stdout.strip()
    shared = repo.path / ".agents" / "context"
    a = repo.path.parent / "project.agents" / first
    b = repo.path.parent / "project.agents" / second

    # A real folder in the main checkout, a relative link at the same path in each worktree.
    assert shared.is_dir() and not shared.is_symlink()
    for worktree in (a, b):
        link = worktree / ".agents" / "context"
        assert link.is_symlink() and not os.path.isabs(os.readlink(link))
        assert link.resolve() == shared.resolve()
    # Seeded with an index saying what goes where.
    readme = (shared / "README.md").read_text()
    for item in ("plan.md", "decisions/", "progress.md", "notes.md"):
        assert item in readme

    # Wired before the agent started: the stand-in's first look finds it.
    start = agent_start(tmux.env)
    assert (Path(start["cwd"]) / ".agents" / "context" / "README.md").is_file()

    # A write through one worktree is there at once through the other and in the main checkout.
    (a / ".agents" / "context" / "plan.md").write_text("step 1\n")
    assert (b / ".agents" / "context" / "plan.md").read_text() == "step 1\n"
    assert (shared / "plan.md").read_text() == "step 1\n"
    (b / ".agents" / "context" / "decisions" / "001-db.md").write_text("sqlite\n")
    assert (a / ".agents" / "context" / "decisions" / "001-db.md").read_text() == "sqlite\n"

    # git sees none of it, anywhere; the user's .gitignore is untouched; one exclude line.
    for checkout in (repo.path, a, b):
        assert repo.git("status", "--porcelain", "--untracked-files=all", cwd=checkout) == ""
    assert (repo.path / ".gitignore").read_text() == GITIGNORE
    assert exclude_lines(repo).count("/.agents/context") == 1
    assert repo.git("check-ignore", "-q", ".agents/context", cwd=a) == ""


def test_agent_in_the_main_checkout_and_custom_context_dir(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    (repo.path / ".agents.toml").write_text('[defaults]\ncontext_dir = "docs/agents-shared"\n')
    name = tmux.agents("spawn", "custom place", "-d").stdout.strip()
    worktree = repo.path.parent / "project.agents" / name
    assert (worktree / "docs" / "agents-shared").resolve() == (repo.path / "docs" / "agents-shared").resolve()
    assert "/docs/agents-shared" in exclude_lines(repo)
    # .agents.toml is the user's own (untracked) file: it shows, nothing of ours does.
    assert repo.git("status", "--porcelain").splitlines() == ["?? .agents.toml"]
    assert repo.git("status", "--porcelain", cwd=worktree) == ""


def test_bad_context_dir_is_one_located_line_and_nothing_is_made(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    config = repo.path / ".agents.toml"
    config.write_text('[defaults]\nagent = "claude"\ncontext_dir = "../outside"\n')
    failed = tmux.agents("spawn", "bad dir", "-d", check=False)
    assert failed.returncode == 1
    assert failed.stderr == (
        f"agents spawn: config error in {config} line 3: defaults.context_dir: "
        "expected a path inside the checkout (no '..', '.' or '.git' parts), got '../outside'\n"
    )
    assert repo.branches() == ["main"] and not (repo.path.parent / "outside").exists()


def test_a_tracked_folder_at_the_context_path_is_left_alone(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    (repo.path / ".agents" / "context").mkdir(parents=True)
    (repo.path / ".agents" / "context" / "tracked.md").write_text("mine\n")
    repo.git("add", "-f", ".agents")
    repo.git("commit", "-q", "-m", "tracked context")
    name = tmux.agents("spawn", "tracked", "-d").stdout.strip()
    inside = repo.path.parent / "project.agents" / name / ".agents" / "context"
    assert inside.is_dir() and not inside.is_symlink()
    assert (inside / "tracked.md").read_text() == "mine\n"


def test_note_from_an_agent_pane_a_worktree_and_the_user(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    name = tmux.agents("spawn", "note taker", "-d").stdout.strip()
    pane = pane_of(tmux, name)
    worktree = repo.path.parent / "project.agents" / name
    notes = repo.path / ".agents" / "context" / "notes.md"
    wait_for(lambda: any(e["event"] == "start" for e in read_standin_log(tmux.env)), message="the agent to start")
    # The agent ends; its pane is a shell in the worktree: run `agents note` there, as an agent would.
    tmux.run("send-keys", "-t", pane, "/exit", "Enter")
    wait_for(lambda: "is now a shell" in tmux.capture(pane), timeout=20, message="the pane's shell")
    text = 'step 1 done; $(touch pwned) `id` #{pane_id} "quoted"'
    tmux.run("send-keys", "-t", pane, "-l", f"{AGENTS} note '{text}'")
    tmux.run("send-keys", "-t", pane, "Enter")
    wait_for(lambda: notes.exists() and text in notes.read_text(), timeout=20, message="the note")
    line = next(line for line in notes.read_text().splitlines() if text in line)
    assert re.fullmatch(r"- \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d \[note-taker\] " + re.escape(text), line)
    assert not (worktree / "pwned").exists()

    # From the main checkout, outside any agent: the user; several words are one note.
    tmux.agents("note", "check", "the", "plan", cwd=repo.path)
    # From a worktree folder, reading stdin.
    tmux.agents("note", "-", input="two\nlines\n", cwd=worktree)
    lines = notes.read_text().splitlines()
    assert lines[0] == "# Notes"
    assert lines[-3].endswith("[user] check the plan")
    assert lines[-2].endswith("[user] two") and lines[-1] == "  lines"
    assert repo.git("status", "--porcelain") == ""

    empty = tmux.agents("note", check=False)
    assert (empty.returncode, empty.stderr) == (1, 'agents note: say what to note: agents note "TEXT"\n')


def test_context_prints_the_folder_and_its_index(tmux: Tmux, repo: Repo) -> None:
    out = tmux.agents("context", "--path", cwd=repo.path).stdout
    shared = repo.path / ".agents" / "context"
    assert out == f"{shared}\n"
    (shared / "plan.md").write_text("the plan\n")
    listing = tmux.agents("context", "--pane", first_pane(tmux)).stdout
    assert listing.splitlines()[0] == str(shared)
    assert re.search(r"\d+  plan\.md$", listing, re.MULTILINE)
    assert "# Shared context" in listing
    outside = tmux.agents("context", "--dir", str(repo.path.parent), check=False)
    assert outside.returncode == 1 and outside.stderr.startswith("agents context: not inside a git repository")
