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
from conftest import Repo, Tmux, agent_panes, commit_in, expect_text, use_quiet_agents, wait_for


@pytest.fixture
def quiet(tmux: Tmux, repo: Repo) -> Repo:
    """A repository whose agents are `sleep`, ignoring *.log, build/, .env and its config."""
    return use_quiet_agents(tmux, repo, ignored="*.log\nbuild/\n.env\nnode_modules/\ndocs\n")


def spawn(tmux: Tmux, task: str, kind: str = "quiet") -> tuple[str, Path]:
    name = tmux.agents("spawn", task, "-d", "--agent", kind).stdout.strip()
    return name, tmux.cwd.parent / "project.agents" / name  # type: ignore[union-attr]


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


# --------------------------------------------------------------------------
# rm: ignored files that are not disposable are work


def test_plain_rm_deletes_only_disposable_ignored_files(tmux: Tmux, quiet: Repo) -> None:
    # The list is the config's: here scratch.log is disposable too.
    with (quiet.path / ".agents.toml").open("a") as config:
        config.write('disposable = ["node_modules", "build", "scratch.log"]\n')
    (quiet.path / ".env").write_text("TOKEN=1\n")
    name, worktree = spawn(tmux, "only caches")
    assert (worktree / ".env").read_text() == "TOKEN=1\n"  # copied in, unchanged: not work
    (worktree / "node_modules" / "pkg").mkdir(parents=True)
    (worktree / "node_modules" / "pkg" / "index.js").write_text("x\n")
    (worktree / "build").mkdir()
    (worktree / "build" / "out.bin").write_bytes(b"\0\1")
    (worktree / "scratch.log").write_text("noise\n")
    out = tmux.agents("rm", name).stdout
    assert not worktree.exists()
    assert "disposable ignored files deleted (build/, node_modules/, scratch.log)" in out
    assert " saved in " not in out


def test_plain_rm_refuses_ignored_work_and_force_archives_every_byte(tmux: Tmux, quiet: Repo, attach: Callable[..., object]) -> None:
    (quiet.path / ".env").write_text("TOKEN=1\n")
    name, worktree = spawn(tmux, "ignored work")
    (worktree / ".env").write_text("TOKEN=2\n")  # edited after the copy: work
    (worktree / "notes.log").write_text("my notes\n")
    (worktree / "deep" / "er").mkdir(parents=True)
    (worktree / "deep" / "er" / "trace.log").write_bytes(bytes(range(256)))
    (worktree / "link.log").symlink_to("notes.log")
    (worktree / "node_modules").mkdir()
    (worktree / "node_modules" / "big.js").write_text("x\n")
    expected = {".env": b"TOKEN=2\n", "notes.log": b"my notes\n", "deep/er/trace.log": bytes(range(256))}
    before = tree_bytes(worktree)

    proc = tmux.agents("rm", name, check=False)
    assert proc.returncode == 1, proc.stdout
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "4 ignored files that are not disposable (.env, deep/er/trace.log, link.log and 1 more)" in proc.stderr
    assert "Nothing was changed" in proc.stderr and "--force" in proc.stderr
    assert tree_bytes(worktree) == before

    # The menu's "Remove" runs the same refusing rm, pressed for real.
    from test_jump_menu import press

    tmux.load_plugin()
    client = attach(timeout=15)
    pane = tmux.run("list-panes", "-a", "-F", "#{pane_id} #{@agent_name}").split(f" {name}\n")[0].split()[-1]
    tmux.run("select-window", "-t", pane)
    tmux.run("select-pane", "-t", pane)
    press(client, "a")  # type: ignore[arg-type]
    expect_text(client, "Actions on")  # type: ignore[arg-type]
    client.send("x")  # type: ignore[attr-defined]
    expect_text(client, "Remove")  # type: ignore[arg-type]
    client.send("X")  # type: ignore[attr-defined]
    expect_text(client, "(y/n)")  # type: ignore[arg-type]
    client.send("y")  # type: ignore[attr-defined]
    expect_text(client, "removing it would lose")  # type: ignore[arg-type]
    expect_text(client, "[Enter closes]")  # type: ignore[arg-type]
    client.send("\r")  # type: ignore[attr-defined]
    assert tree_bytes(worktree) == before
    assert pane in tmux.panes()

    out = tmux.agents("rm", name, "--force").stdout
    assert not worktree.exists()
    archive = Path(out.split(" saved in ")[1].split(";")[0].strip())
    assert archive.parent == next(Path(tmux.env["XDG_STATE_HOME"]).glob("agents-tmux/repos/*/saved"))
    assert archive.stat().st_mode & 0o077 == 0  # it may hold secrets (.env)
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert set(members) == set(expected) | {"link.log"}
        for rel, data in expected.items():
            assert tar.extractfile(members[rel]).read() == data  # type: ignore[union-attr]
        assert members["link.log"].issym() and members["link.log"].linkname == "notes.log"
    assert f"branch agent/{name}" in out
    assert "disposable ignored files deleted (node_modules/)" in out


def test_rm_force_refuses_before_stopping_anything_when_the_archive_cannot_be_written(tmux: Tmux, quiet: Repo) -> None:
    name, worktree = spawn(tmux, "nowhere to save")
    (worktree / "notes.log").write_text("my notes\n")
    state = next(Path(tmux.env["XDG_STATE_HOME"]).glob("agents-tmux/repos/*"))
    (state / "saved").write_text("a file where the archive folder goes\n")
    proc = tmux.agents("rm", name, "--force", check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert "nothing was changed" in proc.stderr
    assert (worktree / "notes.log").read_text() == "my notes\n"
    assert name in tmux.run("list-panes", "-a", "-F", "#{@agent_name}").split()


# --------------------------------------------------------------------------
# rm --force says where every piece of work went


def test_rm_force_names_the_branch_and_commit_of_a_detached_head(tmux: Tmux, quiet: Repo) -> None:
    name, worktree = spawn(tmux, "detached work")
    commit_in(quiet, worktree, "first.txt", "on the branch\n")
    quiet.git("switch", "-q", "--detach", cwd=worktree)
    (worktree / "second.txt").write_text("on the detached head, uncommitted\n")
    out = tmux.agents("rm", name, "--force").stdout
    saved = quiet.git("rev-parse", f"refs/heads/agent/{name}-saved").strip()
    assert quiet.git("show", f"{saved}:second.txt") == "on the detached head, uncommitted\n"
    assert f"work saved on branch agent/{name}-saved, commit {saved[:12]}" in out
    # Its own branch is held entirely by the saved one: deleted, and it says where its commits are.
    assert f"agent/{name}" not in quiet.branches()
    assert f"branch agent/{name} deleted: its commits, up to " in out and f"are on agent/{name}-saved" in out


def test_rm_names_where_the_commits_of_a_merged_branch_are(tmux: Tmux, quiet: Repo) -> None:
    name, worktree = spawn(tmux, "merged work")
    commit_in(quiet, worktree, "done.txt", "done\n")
    tip = quiet.git("rev-parse", "HEAD", cwd=worktree).strip()
    quiet.git("merge", "-q", "--ff-only", f"agent/{name}")
    out = tmux.agents("rm", name).stdout
    assert f"branch agent/{name} deleted: its commits, up to {tip[:12]}, are on main" in out


# --------------------------------------------------------------------------
# several at once: rm NAME..., rm --merged, merge --rm


def test_rm_takes_several_names_each_refused_or_removed_on_its_own(tmux: Tmux, quiet: Repo) -> None:
    first, first_wt = spawn(tmux, "first clean")
    busy, busy_wt = spawn(tmux, "busy one")
    last, last_wt = spawn(tmux, "last clean")
    (busy_wt / "draft.txt").write_text("unsaved\n")
    proc = tmux.agents("rm", first, busy, "nobody", last, check=False)
    assert proc.returncode == 1
    assert [line.split(":")[0] for line in proc.stdout.splitlines()] == [f"removed {first}", f"removed {last}"]
    errors = proc.stderr.splitlines()
    assert len(errors) == 2 and busy in errors[0] and "draft.txt" in errors[0] and "'nobody'" in errors[1]
    assert not first_wt.exists() and not last_wt.exists()
    assert (busy_wt / "draft.txt").read_text() == "unsaved\n"


def test_rm_merged_removes_every_clean_agent_whose_branch_is_merged(tmux: Tmux, quiet: Repo) -> None:
    # Kinds whose state is certain: one that finished (exited: its shell is
    # left), one that prints all the time (working), one whose screen shows
    # an error (the watcher reads it from the screen, as it does for Aider).
    with (quiet.path / ".agents.toml").open("a") as config:
        config.write('[agents.finished]\ncommand = ["true"]\nprompt = "none"\n'
                     '[agents.chatty]\ncommand = ["sh", "-c", "while :; do date +%N; sleep 0.3; done"]\nprompt = "none"\n'
                     '[agents.broken]\ncommand = ["sh", "-c", "echo FATAL: the model is gone; sleep 600"]\nprompt = "none"\n'
                     '[agents.broken.screen]\nerror = ["^FATAL: "]\n')
    chatty, chatty_wt = spawn(tmux, "still busy", "chatty")
    commit_in(quiet, chatty_wt, "chatty.txt", "in main\n")
    broken, broken_wt = spawn(tmux, "stopped on an error", "broken")
    commit_in(quiet, broken_wt, "broken.txt", "in main\n")
    merged, merged_wt = spawn(tmux, "merged one", "finished")
    commit_in(quiet, merged_wt, "merged.txt", "in main\n")
    holding, holding_wt = spawn(tmux, "merged with notes", "finished")
    commit_in(quiet, holding_wt, "holding.txt", "in main\n")
    (holding_wt / "notes.log").write_text("mine\n")
    unmerged, unmerged_wt = spawn(tmux, "not merged", "finished")
    commit_in(quiet, unmerged_wt, "later.txt", "not yet\n")
    fresh, fresh_wt = spawn(tmux, "nothing yet", "finished")  # no commit: equal to main, but nothing was merged
    for name in (merged, holding, chatty, broken):
        quiet.git("merge", "-q", "--no-ff", "-m", f"merge {name}", f"agent/{name}")
    panes = agent_panes(tmux)
    for name, state in ((merged, "exited"), (holding, "exited"), (chatty, "working"), (broken, "error")):
        wait_for(lambda: tmux.option(panes[name], "@agent_state") == state, timeout=30, message=f"{name} to be {state}")

    out = tmux.agents("rm", "--merged").stdout
    assert f"removed {merged}: " in out
    assert f"kept {holding}: agent/{holding} is merged into main, but it holds 1 ignored file" in out
    assert f"kept {chatty}: agent/{chatty} is merged into main, but it is working" in out
    assert f"kept {broken}: agent/{broken} is merged into main, but it stopped on an error" in out
    assert len(out.splitlines()) == 4, out
    assert not merged_wt.exists()
    assert holding_wt.is_dir() and broken_wt.is_dir() and unmerged_wt.is_dir() and fresh_wt.is_dir()
    assert f"agent/{unmerged}" in quiet.branches() and f"agent/{fresh}" in quiet.branches()


def test_merge_rm_merges_then_removes_and_refuses_before_merging_what_rm_would_refuse(tmux: Tmux, quiet: Repo) -> None:
    done, done_wt = spawn(tmux, "done work")
    commit_in(quiet, done_wt, "done.txt", "done\n")
    out = tmux.agents("merge", done, "--rm").stdout.splitlines()
    assert out[0].startswith(f"merged agent/{done} (1 commit) into main")
    assert out[1].startswith(f"removed {done}: ") and f"are on main" in out[1]
    assert (quiet.path / "done.txt").read_text() == "done\n"
    assert not done_wt.exists() and f"agent/{done}" not in quiet.branches()

    # A squash keeps the branch (its commits are not in main): --rm removes the agent and keeps it.
    squashed, squashed_wt = spawn(tmux, "squashed work")
    commit_in(quiet, squashed_wt, "squashed.txt", "squashed\n")
    tip = quiet.git("rev-parse", "HEAD", cwd=squashed_wt).strip()
    out = tmux.agents("merge", squashed, "--squash", "--rm").stdout.splitlines()
    assert out[1].startswith(f"removed {squashed}: ") and f"branch agent/{squashed}, commit {tip[:12]}" in out[1], out
    assert not squashed_wt.exists() and quiet.git("rev-parse", f"agent/{squashed}").strip() == tip
    assert (quiet.path / "squashed.txt").read_text() == "squashed\n"

    kept, kept_wt = spawn(tmux, "with notes")
    commit_in(quiet, kept_wt, "kept.txt", "kept\n")
    (kept_wt / "notes.log").write_text("mine\n")
    head = quiet.git("rev-parse", "HEAD")
    proc = tmux.agents("merge", kept, "--rm", check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert "notes.log" in proc.stderr and "nothing was changed" in proc.stderr
    assert quiet.git("rev-parse", "HEAD") == head
    assert (kept_wt / "notes.log").read_text() == "mine\n"
