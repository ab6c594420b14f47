"""The end of an agent's life: `agents rm`, `merge`, `diff` and `prune` never lose work.

Real git, real tmux; the agents here are `sleep` (a quiet agent kind), so the
tests are about worktrees and branches, not about the agent.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from conftest import AGENTS, Repo, Tmux, commit_in, use_quiet_agents


@pytest.fixture
def quiet(tmux: Tmux, repo: Repo) -> Repo:
    """A repository whose agents are `sleep`, ignoring *.log and build/, with a high cap."""
    return use_quiet_agents(tmux, repo, ignored="*.log\nbuild/\n")


def spawn(tmux: Tmux, task: str) -> tuple[str, Path]:
    name = tmux.agents("spawn", task, "-d").stdout.strip()
    return name, tmux.cwd.parent / "project.agents" / name  # type: ignore[union-attr]


def registry_entry(tmux: Tmux, name: str) -> dict:
    state = Path(tmux.env["XDG_STATE_HOME"]) / "agents-tmux" / "repos"
    for path in state.glob("*/registry.json"):
        agents = json.loads(path.read_text())["agents"]
        if name in agents:
            return agents[name]
    raise AssertionError(f"{name} is not in any registry")


def agent_panes(tmux: Tmux) -> dict[str, str]:
    out = tmux.run("list-panes", "-a", "-F", "#{@agent_name}\t#{pane_id}")
    return {name: pane for name, _, pane in (line.partition("\t") for line in out.splitlines()) if name}


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (not .git) by relative path."""
    found = {}
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if rel.parts[0] == ".git" or path.is_dir() and not path.is_symlink():
            continue
        found[str(rel)] = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
    return found


def snapshot(repo: Repo, folder: Path) -> tuple:
    """HEAD, index, status and every byte of a checkout: equal snapshots mean nothing changed."""
    return (
        repo.git("rev-parse", "HEAD", cwd=folder),
        repo.git("symbolic-ref", "-q", "HEAD", cwd=folder, check=False),
        repo.git("ls-files", "-s", cwd=folder),
        repo.git("status", "--porcelain=v1", "--untracked-files=all", "--ignored", cwd=folder),
        files_of(folder),
        sorted(p.name for p in (folder / ".git").iterdir()) if (folder / ".git").is_dir() else None,
    )


def blob(repo: Repo, rev: str, path: str) -> bytes:
    proc = subprocess.run(["git", "cat-file", "blob", f"{rev}:{path}"], cwd=repo.path, env=repo.env, capture_output=True, check=True)
    return proc.stdout


# --------------------------------------------------------------------------
# rm


def test_rm_of_a_clean_agent_removes_worktree_pane_and_merged_branch(tmux: Tmux, quiet: Repo) -> None:
    name, worktree = spawn(tmux, "nothing to do")
    assert name in agent_panes(tmux)
    out = tmux.agents("rm", name).stdout
    assert "removed nothing-to-do" in out
    assert not worktree.exists()
    assert name not in agent_panes(tmux)
    assert "agent/nothing-to-do" not in quiet.branches()
    assert registry_entry(tmux, name)["status"] == "removed"


def test_rm_refuses_and_changes_nothing_then_force_saves(tmux: Tmux, quiet: Repo) -> None:
    name, worktree = spawn(tmux, "busy agent")
    (worktree / "app.py").write_text("print('changed')\n")
    (worktree / "notes.txt").write_text("new notes\n")
    (worktree / "debug.log").write_text("ignored\n")
    before = snapshot(quiet, worktree)
    proc = tmux.agents("rm", name, check=False)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1
    assert "1 uncommitted file (app.py)" in proc.stderr and "1 untracked file (notes.txt)" in proc.stderr
    assert "--force" in proc.stderr
    assert snapshot(quiet, worktree) == before
    assert name in agent_panes(tmux)

    out = tmux.agents("rm", name, "--force").stdout
    assert "branch agent/busy-agent" in out and "commit" in out and "debug.log" in out
    assert not worktree.exists() and name not in agent_panes(tmux)
    assert blob(quiet, "agent/busy-agent", "app.py") == b"print('changed')\n"
    assert blob(quiet, "agent/busy-agent", "notes.txt") == b"new notes\n"
    tree = quiet.git("ls-tree", "-r", "--name-only", "agent/busy-agent").split()
    assert "debug.log" not in tree
    message = quiet.git("log", "-1", "--format=%s", "agent/busy-agent").strip()
    assert message == f"agents.tmux: save work of {name} before removal"
    assert registry_entry(tmux, name)["status"] == "removed"
    # Removed already: says so, touches nothing.
    again = tmux.agents("rm", name, check=False)
    assert again.returncode == 1 and "removed already" in again.stderr


def test_rm_does_not_count_the_shared_context_link_as_lost(tmux: Tmux, quiet: Repo) -> None:
    name, worktree = spawn(tmux, "context user")
    shared = quiet.path / ".agents" / "context"
    link = worktree / ".agents" / "context"
    assert link.is_symlink() and link.resolve() == shared.resolve()
    (link / "plan.md").write_text("the plan\n")  # written through the link, as an agent does
    (worktree / "notes.txt").write_text("new notes\n")
    (worktree / "debug.log").write_text("ignored\n")

    out = tmux.agents("rm", name, "--force").stdout
    assert not worktree.exists()
    # The real ignored file is archived; the link to the shared folder is not "lost".
    assert out.split("ignored files (")[1].split(") saved in ")[0] == "debug.log"
    # The shared folder, in the main checkout, is untouched.
    assert (shared / "plan.md").read_text() == "the plan\n"
    assert (shared / "README.md").is_file()

    # A folder of the user's own under .agents/ in a worktree is still reported.
    name2, worktree2 = spawn(tmux, "own files")
    (worktree2 / ".agents" / "mine.txt").write_text("mine\n")
    with (quiet.path / ".git" / "info" / "exclude").open("a") as exclude:
        exclude.write("/.agents/mine.txt\n")
    out2 = tmux.agents("rm", name2, "--force").stdout
    # git lists the folder as a whole (all it holds is ignored): the real file in it is archived, not the link.
    assert out2.split("ignored files (")[1].split(") saved in ")[0] == ".agents/mine.txt"
    assert (shared / "plan.md").is_file()


def test_rm_refuses_unmerged_commits(tmux: Tmux, quiet: Repo) -> None:
    name, worktree = spawn(tmux, "committer")
    commit_in(quiet, worktree, "feature.py", "x = 1\n", "feature")
    proc = tmux.agents("rm", name, check=False)
    assert proc.returncode == 1 and "1 commit on agent/committer not merged" in proc.stderr
    assert worktree.is_dir()
    out = tmux.agents("rm", name, "--force").stdout
    assert "agent/committer" in out
    assert "agent/committer" in quiet.branches()
    assert blob(quiet, "agent/committer", "feature.py") == b"x = 1\n"


def test_rm_force_without_identity_and_with_failing_hooks(tmux: Tmux, quiet: Repo) -> None:
    name, worktree = spawn(tmux, "no identity")
    hooks = quiet.path / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    for hook in ("pre-commit", "commit-msg", "post-commit"):
        (hooks / hook).write_text("#!/bin/sh\ntouch \"$GIT_DIR/../hook-ran-" + hook + "\"\nexit 1\n")
        (hooks / hook).chmod(0o755)
    (worktree / "wip.txt").write_text("unfinished\n")
    env = {k: v for k, v in tmux.env.items() if not k.startswith(("GIT_AUTHOR", "GIT_COMMITTER")) and k != "EMAIL"}
    env["GIT_CONFIG_GLOBAL"] = "/dev/null"
    proc = subprocess.run([str(AGENTS), "-L", tmux.socket, "rm", name, "--force"], env=env, cwd=quiet.path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert quiet.git("log", "-1", "--format=%an <%ae>", "agent/no-identity").strip() == "agents.tmux <agents.tmux@localhost>"
    assert blob(quiet, "agent/no-identity", "wip.txt") == b"unfinished\n"
    assert not list(quiet.path.parent.rglob("hook-ran-*"))


def test_rm_keep_worktree_keeps_everything(tmux: Tmux, quiet: Repo) -> None:
    name, worktree = spawn(tmux, "keep it")
    (worktree / "draft.txt").write_text("draft\n")
    head = quiet.git("rev-parse", "HEAD", cwd=worktree).strip()
    out = tmux.agents("rm", name, "--keep-worktree").stdout
    # Where the work is, as every rm says it: the worktree, its branch and commit, what is not committed.
    assert f"worktree {worktree} kept, its work on branch agent/keep-it, commit {head[:12]}, 1 uncommitted or untracked file in it" in out, out
    assert (worktree / "draft.txt").read_text() == "draft\n"
    assert "agent/keep-it" in quiet.branches()
    assert name not in agent_panes(tmux)
    assert registry_entry(tmux, name)["status"] == "removed"


def test_rm_keep_worktree_names_the_branch_and_commit_when_the_worktree_is_gone(tmux: Tmux, quiet: Repo) -> None:
    name, worktree = spawn(tmux, "folder gone")
    tip = quiet.git("rev-parse", "HEAD", cwd=worktree).strip()
    shutil.rmtree(worktree)
    out = tmux.agents("rm", name, "--keep-worktree").stdout
    assert f"worktree {worktree} was gone already, branch agent/{name} kept, commit {tip[:12]}" in out, out


def test_rm_of_an_agent_whose_pane_is_gone(tmux: Tmux, quiet: Repo) -> None:
    name, worktree = spawn(tmux, "paneless")
    (worktree / "left.txt").write_text("left behind\n")
    tmux.run("kill-pane", "-t", agent_panes(tmux)[name])
    proc = tmux.agents("rm", name, check=False)
    assert proc.returncode == 1 and "left.txt" in proc.stderr
    tmux.agents("rm", name, "--force")
    assert not worktree.exists()
    assert blob(quiet, "agent/paneless", "left.txt") == b"left behind\n"
    # With no tmux server at all, from the registry alone.
    name2, worktree2 = spawn(tmux, "no server")
    tmux.run("kill-server")
    tmux.agents("rm", name2)
    assert not worktree2.exists()


def test_rm_force_refuses_nested_repository(tmux: Tmux, quiet: Repo) -> None:
    name, worktree = spawn(tmux, "nested")
    inner = worktree / "vendor" / "lib"
    inner.mkdir(parents=True)
    quiet.git("init", "-q", cwd=inner)
    (inner / "code.c").write_text("int x;\n")
    proc = tmux.agents("rm", name, "--force", check=False)
    assert proc.returncode == 1 and "vendor/lib" in proc.stderr
    assert (inner / "code.c").read_text() == "int x;\n"


def _random_name(rng: random.Random) -> str:
    stems = ["a", "b c", "ünï", "dir/x", "dir/sub/y", "tab\tname", "new\nline", "-dash", "q'uote", "semi;"]
    return f"{rng.choice(stems)}{rng.randrange(1000)}"


def _random_bytes(rng: random.Random) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:
        return b""
    if kind == 1:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
    return "".join(rng.choice("abc \n\t€😀") for _ in range(rng.randrange(1, 200))).encode()


@pytest.mark.parametrize("seed", range(20))
def test_property_rm_force_saves_every_byte(tmux: Tmux, quiet: Repo, seed: int) -> None:
    rng = random.Random(seed)
    name, worktree = spawn(tmux, f"case {seed}")
    branch = f"agent/case-{seed}"

    def write(rel: str, data: bytes, executable: bool = False) -> None:
        path = worktree / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o755 if executable else 0o644)

    # Unmerged commits, some of the time.
    for i in range(rng.choice([0, 0, 1, 2])):
        write(f"committed-{i}.txt", _random_bytes(rng))
        quiet.git("add", "-A", cwd=worktree)
        quiet.git("commit", "-q", "-m", f"commit {i}", cwd=worktree)
    tracked = quiet.git("ls-files", "-z", cwd=worktree).split("\0")
    tracked = [t for t in tracked if t]
    kinds = rng.sample(["staged", "unstaged", "untracked", "ignored", "deleted", "staged-then-changed"], rng.randrange(0, 5))
    for kind in kinds:
        for _ in range(rng.randrange(1, 4)):
            rel = _random_name(rng)
            if kind == "staged":
                write(rel, _random_bytes(rng), rng.random() < 0.3)
                quiet.git("add", "--", rel, cwd=worktree)
            elif kind == "unstaged" and tracked:
                write(rng.choice(tracked), _random_bytes(rng))
            elif kind == "untracked":
                write(rel, _random_bytes(rng), rng.random() < 0.3)
            elif kind == "ignored":
                write(rng.choice(["x.log", "build/out.bin", "deep/y.log"]), _random_bytes(rng))
            elif kind == "deleted" and tracked:
                victim = rng.choice(tracked)
                if (worktree / victim).exists():
                    (worktree / victim).unlink()
            elif kind == "staged-then-changed":
                write(rel, b"first")
                quiet.git("add", "--", rel, cwd=worktree)
                write(rel, _random_bytes(rng))
    ignored = set(quiet.git("ls-files", "-z", "--others", "--ignored", "--exclude-standard", cwd=worktree).split("\0")) - {""}
    expected = {rel: data for rel, data in files_of(worktree).items() if rel not in ignored}
    modes = {rel: os.access(worktree / rel, os.X_OK) for rel in expected}
    dirty = bool(quiet.git("status", "--porcelain", cwd=worktree))
    unmerged = int(quiet.git("rev-list", "--count", branch, "--not", "main").strip())

    # Ignored files are work too, but for the disposable build/ (and the link to the shared folder).
    precious = {rel: files_of(worktree)[rel] for rel in ignored if not rel.startswith(("build/", ".agents/"))}

    plain = tmux.agents("rm", name, check=False)
    if dirty or unmerged or precious:
        assert plain.returncode == 1, plain.stdout
        assert worktree.is_dir()
        result = tmux.agents("rm", name, "--force")
    else:
        assert plain.returncode == 0, plain.stderr
        result = plain
    assert not worktree.exists()
    if precious:
        archive = Path(result.stdout.split(" saved in ")[1].split(";")[0].strip())
        with tarfile.open(archive) as tar:
            archived = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
        assert archived == precious
    else:
        assert " saved in " not in result.stdout
    assert ("disposable ignored files deleted (build/)" in result.stdout) == any(rel.startswith("build/") for rel in ignored)
    # The shared context link is not reported: the folder it points to stays.
    assert ".agents/context" not in result.stdout
    if not dirty and not unmerged:
        assert branch not in quiet.branches()
        return
    assert branch in quiet.branches()
    saved = set(quiet.git("ls-tree", "-r", "-z", "--name-only", branch).split("\0")) - {""}
    assert saved == set(expected), (saved ^ set(expected))
    for rel, data in expected.items():
        assert blob(quiet, branch, rel) == data, rel
        mode = quiet.git("ls-tree", branch, "--", rel).split()[0]
        assert (mode == "100755") == modes[rel], rel
    assert not saved & ignored


# --------------------------------------------------------------------------
# merge


def test_merge_makes_a_merge_commit(tmux: Tmux, quiet: Repo) -> None:
    name, worktree = spawn(tmux, "add feature")
    commit_in(quiet, worktree, "feature.py", "x = 1\n")
    out = tmux.agents("merge", name).stdout
    assert "merged agent/add-feature" in out and "into main" in out
    parents = quiet.git("log", "-1", "--format=%P", "main").split()
    assert len(parents) == 2
    assert "Merge agent add-feature (agent/add-feature) into main" in quiet.git("log", "-1", "--format=%B", "main")
    assert (quiet.path / "feature.py").read_text() == "x = 1\n"
    # Merged: rm now deletes the branch.
    tmux.agents("rm", name)
    assert "agent/add-feature" not in quiet.branches()


def test_merge_refuses_a_dirty_main_checkout_and_leaves_it_untouched(tmux: Tmux, quiet: Repo) -> None:
    name, worktree = spawn(tmux, "dirty main")
    commit_in(quiet, worktree, "app.py", "print('agent')\n")
    commit_in(quiet, worktree, "incoming.txt", "from the agent\n")
    cases = [
        lambda: (quiet.path / "README.md").write_text("# edited\n"),
        lambda: ((quiet.path / "staged.txt").write_text("s"), quiet.git("add", "staged.txt")),
        lambda: (quiet.path / "incoming.txt").write_text("mine, untracked\n"),
    ]
    start = quiet.git("rev-parse", "main").strip()
    for make_dirty in cases:
        quiet.git("reset", "-q", "--hard", start)
        quiet.git("clean", "-qfd", "-e", ".agents.toml")
        make_dirty()
        before = snapshot(quiet, quiet.path)
        proc = tmux.agents("merge", name, check=False)
        assert proc.returncode == 1, proc.stdout
        assert "nothing was changed" in proc.stderr
        assert snapshot(quiet, quiet.path) == before


def test_merge_refuses_when_main_checkout_is_on_another_branch(tmux: Tmux, quiet: Repo) -> None:
    name, worktree = spawn(tmux, "other branch")
    commit_in(quiet, worktree, "f.txt", "f\n")
    quiet.git("switch", "-q", "-c", "elsewhere")
    proc = tmux.agents("merge", name, check=False)
    assert proc.returncode == 1 and "switch main" in proc.stderr
    assert quiet.git("symbolic-ref", "--short", "HEAD").strip() == "elsewhere"
    tmux.agents("merge", name, "--into", "elsewhere")
    assert (quiet.path / "f.txt").exists()


def test_merge_refuses_the_agents_uncommitted_work(tmux: Tmux, quiet: Repo) -> None:
    name, worktree = spawn(tmux, "half done")
    commit_in(quiet, worktree, "done.txt", "done\n")
    (worktree / "pending.txt").write_text("not committed\n")
    proc = tmux.agents("merge", name, check=False)
    assert proc.returncode == 1 and "rm half-done --force" in proc.stderr
    assert not (quiet.path / "done.txt").exists()


def test_conflicting_merge_is_aborted_and_repository_unchanged(tmux: Tmux, quiet: Repo) -> None:
    name, worktree = spawn(tmux, "conflict")
    commit_in(quiet, worktree, "app.py", "print('agent version')\n")
    (quiet.path / "app.py").write_text("print('main version')\n")
    quiet.git("commit", "-q", "-am", "main changes app.py")
    before = snapshot(quiet, quiet.path)
    proc = tmux.agents("merge", name, check=False)
    assert proc.returncode == 1
    assert "would conflict in app.py" in proc.stderr and "nothing was changed" in proc.stderr
    assert f"agents -L {tmux.socket} sync conflict" in proc.stderr
    assert snapshot(quiet, quiet.path) == before
    assert not (quiet.path / ".git" / "MERGE_HEAD").exists()


# --------------------------------------------------------------------------
# diff


def test_diff_shows_committed_and_uncommitted_work(tmux: Tmux, quiet: Repo) -> None:
    name, worktree = spawn(tmux, "diff me")
    commit_in(quiet, worktree, "committed.py", "committed = True\n")
    (worktree / "app.py").write_text("print('edited')\n")
    (worktree / "brand new.txt").write_text("untracked line\n")
    (worktree / "skip.log").write_text("ignored\n")
    staged_before = quiet.git("diff", "--cached", "--name-only", cwd=worktree)
    out = tmux.agents("diff", name).stdout
    assert "committed on agent/diff-me since main (1 commit)" in out
    assert "+committed = True" in out
    assert "+print('edited')" in out
    assert "new file mode" in out and "+untracked line" in out
    assert "skip.log" not in out
    assert "\x1b[" not in out  # not a terminal: no colours
    # The agent's index is not touched.
    assert quiet.git("diff", "--cached", "--name-only", cwd=worktree) == staged_before
    assert "?? brand new.txt" in quiet.git("status", "--porcelain", cwd=worktree).replace('"', "")


# --------------------------------------------------------------------------
# prune


def test_prune_is_a_dry_run_then_cleans_only_what_is_safe(tmux: Tmux, quiet: Repo) -> None:
    clean, clean_wt = spawn(tmux, "clean gone")
    dirty, dirty_wt = spawn(tmux, "dirty gone")
    alive, alive_wt = spawn(tmux, "still alive")
    vanished, vanished_wt = spawn(tmux, "folder deleted")
    (dirty_wt / "work.txt").write_text("unsaved\n")
    panes = agent_panes(tmux)
    for name in (clean, dirty, vanished):
        tmux.run("kill-pane", "-t", panes[name])
    subprocess.run(["rm", "-rf", str(vanished_wt)], check=True)

    dry = tmux.agents("prune").stdout
    assert "would remove clean-gone" in dry
    assert "would retire folder-deleted" in dry
    assert "git worktree prune" in dry
    assert "kept: dirty-gone" in dry and "1 untracked file" in dry
    assert "still-alive" not in dry
    assert clean_wt.exists() and "agent/clean-gone" in quiet.branches()

    tmux.agents("prune", "--yes")
    assert not clean_wt.exists() and "agent/clean-gone" not in quiet.branches()
    assert (dirty_wt / "work.txt").read_text() == "unsaved\n"
    assert alive_wt.exists()
    assert vanished_wt not in quiet.worktrees()
    assert registry_entry(tmux, clean)["status"] == "removed"
    assert registry_entry(tmux, vanished)["status"] == "removed"
    assert registry_entry(tmux, dirty)["status"] == "active"
    assert registry_entry(tmux, alive)["status"] == "active"
    assert "nothing to prune" in tmux.agents("prune").stdout or "kept: dirty-gone" in tmux.agents("prune").stdout


def test_unknown_agent_is_one_line(tmux: Tmux, quiet: Repo) -> None:
    for command in (["rm", "nope"], ["merge", "nope"], ["diff", "nope"], ["log", "nope"], ["send", "nope", "hi"]):
        proc = tmux.agents(*command, check=False)
        assert proc.returncode == 1, command
        assert proc.stderr.count("\n") == 1 and "nope" in proc.stderr, proc.stderr


def test_cap_refuses_from_the_cli_unless_forced_and_exited_agents_do_not_count(tmux: Tmux, quiet: Repo) -> None:
    tmux.run("set-option", "-g", "@agents-max", "2")
    first, _ = spawn(tmux, "one")
    spawn(tmux, "two")
    branches = quiet.branches()
    proc = tmux.agents("spawn", "three", "-d", check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert "2 agents are running and the cap is 2 (@agents-max)" in proc.stderr and "--force" in proc.stderr
    assert quiet.branches() == branches and len(agent_panes(tmux)) == 2
    tmux.agents("spawn", "three", "-d", "--force")
    assert len(agent_panes(tmux)) == 3
    # An exited agent no longer spends quota: it does not count.
    tmux.run("set-option", "-p", "-t", agent_panes(tmux)[first], "@agent_state", "exited")
    tmux.run("set-option", "-g", "@agents-max", "3")
    tmux.agents("spawn", "four", "-d")
    assert len(agent_panes(tmux)) == 4
