"""Every subcommand against bad input and awkward situations.

The standard: bad input gets one clear line (``agents <cmd>: ...``, or
argparse's one-line usage error) and a non-zero exit, never a traceback;
nothing is lost (no uncommitted work, no branch, no registry entry, and the
main checkout is never reset or deleted); nothing typed reaches a shell.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import AGENTS, Repo, Tmux, first_pane, read_standin_log, wait_for

# --------------------------------------------------------------------------
# helpers


def registry_files(env: dict[str, str]) -> dict[str, str]:
    root = Path(env["XDG_STATE_HOME"])
    return {str(p): p.read_text() for p in sorted(root.rglob("registry.json"))}


def main_checkout(repo: Repo) -> dict[str, object]:
    """What the main checkout holds: HEAD, its branch, status and every file's bytes."""
    files = {
        str(p.relative_to(repo.path)): p.read_bytes()
        for p in sorted(repo.path.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo.path).parts and ".agents" not in p.relative_to(repo.path).parts
    }
    return {
        "head": repo.git("rev-parse", "HEAD").strip(),
        "branch": repo.git("symbolic-ref", "--short", "HEAD").strip(),
        "status": repo.git("status", "--porcelain", "--untracked-files=all", "--", ".", ":!.agents"),
        "files": files,
    }


def snapshot(repo: Repo, env: dict[str, str]) -> dict[str, object]:
    """Everything a refused command must leave exactly as it was."""
    return {
        "branches": repo.branches(),
        "worktrees": repo.worktrees(),
        "registry": registry_files(env),
        "main": main_checkout(repo),
    }


def one_line_error(proc: subprocess.CompletedProcess[str], command: str, *words: str) -> str:
    assert proc.returncode != 0, (command, proc.stdout, proc.stderr)
    err = proc.stderr
    assert "Traceback" not in err and "unexpected error" not in err, err
    assert err.endswith("\n") and err.count("\n") == 1, f"expected exactly one line, got {err!r}"
    assert err.startswith(f"agents {command}:"), err
    for word in words:
        assert word in err, f"{word!r} not in {err!r}"
    return err


def cli(env: dict[str, str], *args: str, cwd: Path, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real command line without the fixture's -L."""
    return subprocess.run([str(AGENTS), *args], env=env, cwd=cwd, capture_output=True, text=True, check=False,
                          timeout=60, input=input)


def spawn_agent(tmux: Tmux, task: str = "sample work") -> tuple[str, str]:
    """A running stand-in agent: (name, pane id)."""
    name = tmux.agents("spawn", task, "-d", "--force").stdout.strip()
    pane = agent_pane(tmux, name)
    wait_for(lambda: tmux.option(pane, "@agent_state") in ("working", "idle", "waiting"), timeout=30, message=f"{name} to start")
    wait_settled(tmux, name)
    return name, pane


def wait_settled(tmux: Tmux, name: str) -> None:
    """Wait until the agent's SessionStart hook has recorded its transcript in the registry.

    The hook updates the pane first and the registry right after: a snapshot
    taken between the two would count the agent's own start as a change.
    """

    def recorded() -> bool:
        for path in Path(tmux.env["XDG_STATE_HOME"]).rglob("registry.json"):
            entry = json.loads(path.read_text()).get("agents", {}).get(name, {})
            if entry.get("transcript"):
                return True
        return False

    wait_for(recorded, timeout=30, message=f"{name}'s session in the registry")


def agent_pane(tmux: Tmux, name: str) -> str:
    rows = [line.split("\t") for line in tmux.run("list-panes", "-a", "-F", "#{pane_id}\t#{@agent_name}").splitlines()]
    return next(pane for pane, agent in rows if agent == name)


def registry_path(tmux: Tmux, repo: Repo) -> Path:
    code = "import sys; from pathlib import Path; from agents_tmux import registry; print(registry.registry_path(Path(sys.argv[1])))"
    python = AGENTS.parent.parent / ".venv" / "bin" / "python"
    out = subprocess.run([str(python), "-c", code, str(repo.path)], env=tmux.env, capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


#: Names no agent has; the tests add the pane id of a plain (non-agent) pane.
BAD_NAMES = ["nosuch", "--force", "-f", "", "x" * 3000, "é✨ 修复", "$(touch {marker})", "`touch {marker}`", "#{{pane_id}}", "a;", "a ;"]

#: command -> argv builder for one agent name (names starting with '-' go after --).
NAME_COMMANDS = {
    "diff": lambda n: ["diff", "--", n],
    "merge": lambda n: ["merge", "--", n],
    "rm": lambda n: ["rm", "--force", "--", n],
    "send": lambda n: ["send", "--", n, "hello"],
    "restart": lambda n: ["restart", "--force", "--", n],
    "log": lambda n: ["log", "--path", "--", n],
    "menu": lambda n: ["menu", "--print", f"--agent={n}"],
    "restore": lambda n: ["restore", "--", n],
    "sync": lambda n: ["sync", "--", n],
    "pr": lambda n: ["pr", "--", n],
    "park": lambda n: ["park", "--", n],
    "unpark": lambda n: ["unpark", "--", n],
}


# --------------------------------------------------------------------------
# unknown names


@pytest.mark.parametrize("command", sorted(NAME_COMMANDS))
def test_unknown_agent_names(tmux: Tmux, repo: Repo, standin_agent: Path, tmp_path: Path, command: str) -> None:
    marker = tmp_path / "marker"
    name, _ = spawn_agent(tmux)
    plain = first_pane(tmux)
    before = snapshot(repo, tmux.env)
    for bad in [b.format(marker=marker) for b in BAD_NAMES] + [plain]:
        proc = tmux.agents(*NAME_COMMANDS[command](bad), check=False)
        err = one_line_error(proc, command)
        assert "no agent" in err or "no running agent" in err, err
        assert len(err) < 3500
    assert not marker.exists()
    assert snapshot(repo, tmux.env) == before
    # The real agent is still there and still running.
    assert tmux.option(agent_pane(tmux, name), "@agent_state") != "exited"


# --------------------------------------------------------------------------
# no tmux server, no tmux at all, no git repository

SERVER_COMMANDS = [
    ["spawn", "x"], ["list"], ["jump"], ["jump", "--print"], ["menu"], ["menu", "--print"], ["send", "x", "hi"],
    ["broadcast", "hi"], ["restart", "x"], ["team", "--task", "t"],
]  # restore starts a server when it has something to restore (test_restore, test_outside_tmux)
REGISTRY_COMMANDS = [["diff", "x"], ["merge", "x"], ["rm", "x"], ["log", "x"]]


@pytest.mark.parametrize("argv", SERVER_COMMANDS + REGISTRY_COMMANDS, ids=lambda a: " ".join(a))
def test_no_tmux_server_on_the_socket(test_env: dict[str, str], repo: Repo, argv: list[str]) -> None:
    socket = f"agents-test-none-{uuid.uuid4().hex[:8]}"
    before = snapshot(repo, test_env)
    proc = cli(test_env, "-L", socket, *argv, cwd=repo.path)
    one_line_error(proc, argv[0], "no tmux server" if argv in SERVER_COMMANDS else "no agent is called 'x'")
    assert snapshot(repo, test_env) == before
    # Nothing started a server behind our back.
    alive = subprocess.run(["tmux", "-L", socket, "list-sessions"], env=test_env, capture_output=True, check=False)
    assert alive.returncode != 0


@pytest.mark.parametrize("argv", SERVER_COMMANDS, ids=lambda a: " ".join(a))
def test_outside_tmux_without_a_socket(test_env: dict[str, str], repo: Repo, tmp_path: Path, argv: list[str]) -> None:
    sockets = tmp_path / "tmux-sockets"
    sockets.mkdir(mode=0o700)
    env = {**test_env, "TMUX_TMPDIR": str(sockets)}
    assert "TMUX" not in env and "TMUX_PANE" not in env
    proc = cli(env, *argv, cwd=repo.path)
    one_line_error(proc, argv[0], "no tmux server", "default socket")
    assert list(sockets.rglob("*")) == [] or not any(p.is_socket() for p in sockets.rglob("*"))


@pytest.mark.parametrize("argv,words", [
    (["spawn", "x", "-d"], ["not inside a git repository"]),
    (["team", "--task", "t"], ["not inside a git repository"]),
    (["note", "hi"], ["not inside a git repository"]),
    (["context"], ["not inside a git repository"]),
    (["context", "--path"], ["not inside a git repository"]),
    (["prune"], ["not inside a git repository"]),
    (["prune", "--yes"], ["not inside a git repository"]),
    (["restore"], ["not inside a git repository"]),
    (["diff", "x"], ["no agent is called 'x'"]),
    (["rm", "x"], ["no agent is called 'x'"]),
    (["merge", "x"], ["no agent is called 'x'"]),
    (["log", "x"], ["no agent is called 'x'"]),
    (["diff", "x", "--repo", "."], ["not inside a git repository"]),
    (["broadcast", "hi", "--repo", "."], ["not inside a git repository"]),
], ids=lambda a: " ".join(a) if isinstance(a, list) and a and a[0][0].isalpha() and " " not in a[0] else "")
def test_outside_a_git_repository(tmux: Tmux, repo: Repo, standin_agent: Path, tmp_path: Path, argv: list[str], words: list[str]) -> None:
    elsewhere = tmp_path / "not-a-repo"
    elsewhere.mkdir()
    before = snapshot(repo, tmux.env)
    proc = tmux.agents(*argv, check=False, cwd=elsewhere)
    one_line_error(proc, argv[0], *words)
    assert snapshot(repo, tmux.env) == before
    assert list(elsewhere.iterdir()) == []


# --------------------------------------------------------------------------
# unknown option values

@pytest.mark.parametrize("argv,words", [
    (["spawn", "x", "--target", "bogus"], ["invalid choice"]),
    (["spawn", "x", "--agent", "bogus", "-d"], ["unknown agent kind 'bogus'"]),
    (["spawn", "x", "--agent", "", "-d"], ["--agent is empty"]),
    (["spawn", "x", "--base", "bogus", "-d"], ["bogus"]),
    (["spawn", "x", "--base=-x", "-d"], []),
    (["spawn", "x", "--pane", "%999", "-d"], ["no pane '%999'"]),
    (["spawn", "x", "--pane", "nosuch", "-d", "--target", "window"], ["no pane 'nosuch'"]),
    (["spawn", "x", "--dir", "/nonexistent/folder", "-d"], ["/nonexistent/folder"]),
    (["spawn", "x" * 5000, "-d"], ["longer than 4000"]),
    (["team", "bogus", "--task", "t"], ["unknown layout 'bogus'"]),
    (["team", "--task", "t", "--base", "bogus"], ["bogus"]),
    (["team", "--task", "t", "--pane", "%999"], ["no pane '%999'"]),
    (["team", "--task", ""], ["say what the team should do"]),
    (["team", "--task", "t", "--session", ":."], []),
    (["menu", "--agent", "bogus"], ["no running agent is called 'bogus'"]),
    (["jump", "--client", "bogus"], ["no tmux client is called 'bogus'"]),
    (["broadcast", "hi", "--state", "bogus"], ["invalid choice"]),
    (["diff", "x", "--color", "bogus"], ["invalid choice"]),
    (["context", "--pane", "%999"], ["no pane '%999'"]),
    (["note", ""], ["say what to note"]),
    (["note", "x" * 5000], ["longer than 4000"]),
    (["up", "/nonexistent/folder", "-d"], ["not a folder"]),
    (["up", "-d", "--config", "/nonexistent/tmux.conf"], ["tmux config not found"]),
    (["up", "-d", "--session", ""], ["session name is empty"]),
    (["doctor", "--dir", "/nonexistent/folder"], []),
    (["nosuchcommand"], ["invalid choice"]),
], ids=lambda a: " ".join(a)[:60] if isinstance(a, list) and a and a[0][0].isalpha() and " " not in a[0] else "")
def test_unknown_option_values(tmux: Tmux, repo: Repo, standin_agent: Path, argv: list[str], words: list[str]) -> None:
    (repo.path / "README.md").write_text("# project\nlocal edit\n")
    before = snapshot(repo, tmux.env)
    panes = tmux.panes()
    proc = tmux.agents(*argv, check=False)
    if argv[0] == "doctor":
        # doctor reports problems as a list; it must not crash.
        assert proc.returncode != 0 and "Traceback" not in proc.stderr
        return
    command = argv[0] if argv[0] != "nosuchcommand" else ""
    if command:
        one_line_error(proc, command, *words)
    else:
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "invalid choice" in proc.stderr
    assert snapshot(repo, tmux.env) == before
    assert tmux.panes() == panes


def test_merge_into_bad_targets(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    name, _ = spawn_agent(tmux)
    worktree = repo.path.parent / "project.agents" / name
    (worktree / "feature.py").write_text("x = 1\n")
    repo.git("add", "feature.py", cwd=worktree)
    repo.git("commit", "-q", "-m", "feature", cwd=worktree)
    before = snapshot(repo, tmux.env)
    for into, words in [("bogus", ["'bogus' is not a local branch"]), ("-x", []), ("", ["--into is empty"]), (" ", ["--into is empty"]), (f"agent/{name}", []),
                        ("main;", []), ("HEAD", [])]:
        proc = tmux.agents("merge", name, f"--into={into}", check=False)
        one_line_error(proc, "merge", *words)
    assert snapshot(repo, tmux.env) == before


# --------------------------------------------------------------------------
# free text is text

PAYLOADS = ["$(touch {marker})", "`touch {marker}`", "#{{pane_id}} #(touch {marker})", "x ;", "; run-shell 'touch {marker}' ;"]


@pytest.mark.parametrize("template", PAYLOADS)
def test_free_text_never_reaches_a_shell(tmux: Tmux, repo: Repo, standin_agent: Path, tmp_path: Path, template: str) -> None:
    marker = tmp_path / "marker"
    text = template.format(marker=marker)
    name, pane = spawn_agent(tmux)
    # send: arrives exactly as typed.
    tmux.agents("send", name, text)
    wait_for(lambda: any(e.get("event") == "input" and e.get("line") == text for e in read_standin_log(tmux.env)),
             timeout=20, message="the text to arrive as typed")
    tmux.agents("broadcast", text)
    noted = tmux.agents("note", text).stdout
    assert text in (repo.path / ".agents" / "context" / "notes.md").read_text(), noted
    spawned = tmux.agents("spawn", text, "-d", "--force", check=False)
    if spawned.returncode == 0:
        other = spawned.stdout.strip()
        assert tmux.option(agent_pane(tmux, other), "@agent_task") == text
    else:
        one_line_error(spawned, "spawn", "no letters or digits")
    for argv in (["spawn", "y", "--base", text, "-d"], ["spawn", "y", "--agent", text, "-d"], ["team", text, "--task", "t"],
                 ["jump", "--client", text], ["menu", "--agent", text]):
        one_line_error(tmux.agents(*argv, check=False), argv[0])
    up = tmux.agents("up", "-d", "--session", text, check=False)
    assert up.returncode == 0 and "Traceback" not in up.stderr, up.stderr
    sessions = tmux.run("list-sessions", "-F", "#{session_name}").splitlines()
    assert text.replace(".", "_").replace(":", "_") in sessions, sessions
    assert not marker.exists()


@pytest.mark.parametrize("session", ["bogus", "", "$(touch {marker})", "#{{pane_id}}", "x ;"])
def test_restore_into_a_session_that_is_not_there(tmux: Tmux, repo: Repo, standin_agent: Path, tmp_path: Path, session: str) -> None:
    marker = tmp_path / "marker"
    session = session.format(marker=marker)
    name, pane = spawn_agent(tmux)
    tmux.run("kill-pane", "-t", pane)
    before = snapshot(repo, tmux.env)
    sessions = tmux.run("list-sessions", "-F", "#{session_name}")
    proc = tmux.agents("restore", "--session", session, check=False)
    one_line_error(proc, "restore", "session")
    assert snapshot(repo, tmux.env) == before
    assert tmux.run("list-sessions", "-F", "#{session_name}") == sessions
    assert not marker.exists()
    # A no-op is fine: with nothing to restore, the session is not even looked at.
    tmux.agents("restore", name)
    if session:
        assert tmux.agents("restore", "--session", session).stdout.startswith("nothing to restore")
    else:
        one_line_error(tmux.agents("restore", "--session", session, check=False), "restore", "--session is empty")


# --------------------------------------------------------------------------
# a damaged registry


@pytest.mark.parametrize("damage", [
    '{"version": 1, "agents": {"x": {"name": "x", "branch": ["agent/x"], "worktree": "/tmp"}}}',
    '{"version": 1, "agents": {"x": {"name": 3, "worktree": 7}}}',
    '{"version": 1, "agents": {"x": 5}}',
    '{"version": 1, "agents": {"x": {"name": "x", "status": null}}}',
    '{"version": 1, "agents": {"x": {"name": "x"',
])
def test_damaged_registry_every_command(tmux: Tmux, repo: Repo, standin_agent: Path, damage: str) -> None:
    path = registry_path(tmux, repo)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(damage)
    before = snapshot(repo, tmux.env)
    for argv in (["rm", "x", "--force"], ["diff", "x"], ["merge", "x"], ["log", "x"], ["restore"], ["restore", "x"],
                 ["prune", "--yes"], ["spawn", "y", "-d"], ["team", "--task", "t"]):
        proc = tmux.agents(*argv, check=False)
        # restore refuses a bad entry by itself and would restore the others (issue 10 item 7).
        words = ("not restored x", "registry", str(path)) if argv[0] == "restore" and "not restored" in proc.stderr else ("registry", str(path))
        one_line_error(proc, argv[0], *words)
        assert path.read_text() == damage
    assert snapshot(repo, tmux.env) == before


# --------------------------------------------------------------------------
# agents that work in the main checkout: nothing may reset or delete it

SOLO_REVIEWER = '[layouts.solo]\npanes = [ { role = "reviewer" } ]\n'


def dirty_main(repo: Repo) -> None:
    (repo.path / "app.py").write_text("print('uncommitted edit')\n")
    (repo.path / "notes.txt").write_text("untracked, precious\n")


@pytest.mark.parametrize("how", ["team-reviewer", "forged-entry"])
def test_main_checkout_agent_is_never_touched(tmux: Tmux, repo: Repo, standin_agent: Path, how: str) -> None:
    if how == "team-reviewer":
        (repo.path / ".agents.toml").write_text(SOLO_REVIEWER)
        repo.git("add", ".agents.toml")
        repo.git("commit", "-q", "-m", "solo layout")
        out = tmux.agents("team", "solo", "--task", "review it", "--pane", first_pane(tmux)).stdout
        name = out.split("\t")[1]
        pane = agent_pane(tmux, name)
        wait_for(lambda: tmux.option(pane, "@agent_state") in ("working", "idle"), timeout=30, message="the reviewer to start")
        wait_settled(tmux, name)
        assert tmux.option(pane, "@agent_worktree") == str(repo.path)
    else:
        # An entry edited by hand: a branch and the main checkout spelled differently.
        name = "forged"
        path = registry_path(tmux, repo)
        path.parent.mkdir(parents=True, exist_ok=True)
        entry = {"name": name, "branch": "main", "base": "main", "worktree": f"{repo.path}/../{repo.path.name}", "status": "active"}
        path.write_text(json.dumps({"version": 1, "repo": str(repo.path), "agents": {name: entry}}))
    dirty_main(repo)
    main_before = main_checkout(repo)
    worktrees = repo.worktrees()

    def unchanged() -> None:
        assert main_checkout(repo) == main_before
        assert repo.worktrees() == worktrees
        assert "main" in repo.branches()
        assert not repo.git("stash", "list")

    diff = tmux.agents("diff", name, check=False)
    assert "Traceback" not in diff.stderr
    unchanged()
    for argv in (["merge", name], ["merge", name, "--into", "main"]):
        one_line_error(tmux.agents(*argv, check=False), "merge", "main checkout")
        unchanged()
    if how == "team-reviewer":
        tmux.run("kill-pane", "-t", pane)
    prune = tmux.agents("prune", "--yes", check=False)
    assert prune.returncode == 0 and "Traceback" not in prune.stderr, prune.stderr
    unchanged()
    rm = tmux.agents("rm", name, "--force", check=False)
    assert rm.returncode == 0, rm.stderr
    assert "main checkout" in rm.stdout
    unchanged()
    again = tmux.agents("rm", name, "--force", check=False)
    one_line_error(again, "rm", "removed already")
    unchanged()


# --------------------------------------------------------------------------
# a worktree deleted by hand


def test_worktree_deleted_by_hand(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    import shutil

    name, pane = spawn_agent(tmux)
    worktree = Path(tmux.option(pane, "@agent_worktree"))
    (worktree / "work.py").write_text("done = True\n")
    repo.git("add", "work.py", cwd=worktree)
    repo.git("commit", "-q", "-m", "the agent's work", cwd=worktree)
    commit = repo.git("rev-parse", f"agent/{name}").strip()
    tmux.run("kill-pane", "-t", pane)
    shutil.rmtree(worktree)
    dirty_main(repo)
    main_before = main_checkout(repo)

    diff = tmux.agents("diff", name)
    assert "work.py" in diff.stdout and "is gone" in diff.stdout
    one_line_error(tmux.agents("restart", name, check=False), "restart", "no pane")
    restore = tmux.agents("restore", name, check=False)
    # A refusal goes to stderr, as one line, with a non-zero exit.
    assert restore.returncode == 1 and not restore.stdout, restore.stdout
    assert "worktree" in restore.stderr and "gone" in restore.stderr, restore.stderr
    one_line_error(tmux.agents("rm", name, check=False), "rm", "1 commit", "Nothing was changed")
    assert repo.git("rev-parse", f"agent/{name}").strip() == commit
    # prune retires the gone agent but keeps the branch that holds its commit.
    prune = tmux.agents("prune", "--yes")
    assert f"keep branch agent/{name}" in prune.stdout, prune.stdout
    assert repo.git("rev-parse", f"agent/{name}").strip() == commit
    one_line_error(tmux.agents("rm", name, "--force", check=False), "rm", "removed already", f"branch agent/{name} is kept")
    assert repo.git("rev-parse", f"agent/{name}").strip() == commit
    assert main_checkout(repo) == main_before


# --------------------------------------------------------------------------
# key-binding variants with a client that is not there


@pytest.mark.parametrize("argv", [
    ["jump"], ["menu"], ["menu", "--agent", "{name}"], ["menu", "--agent", "nosuch"], ["spawn"], ["team"],
    ["context"], ["diff", "{name}"], ["diff", "nosuch"], ["merge", "{name}"], ["log", "{name}"], ["restore"],
], ids=lambda a: " ".join(a))
def test_from_key_with_a_bogus_client(tmux: Tmux, repo: Repo, standin_agent: Path, argv: list[str]) -> None:
    name, _ = spawn_agent(tmux)
    before = snapshot(repo, tmux.env)
    panes = tmux.panes()
    args = [a.format(name=name) for a in argv]
    proc = tmux.agents(*args, "--from-key", "--client", "no-such-client", check=False)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert proc.returncode in (0, 1), (proc.returncode, proc.stderr)
    assert proc.stderr.count("\n") <= 1, proc.stderr
    assert snapshot(repo, tmux.env) == before
    assert tmux.panes() == panes


# --------------------------------------------------------------------------
# the hook: whatever Claude (or anything else) pipes in, it never gets in the way


@pytest.mark.parametrize("payload", ["", "garbage", '{"hook_event_name": 5}', "[1]", '{"hook_event_name": "Stop", "session_id": "$(touch {marker})"}'])
def test_hook_with_garbage_input(test_env: dict[str, str], tmp_path: Path, payload: str) -> None:
    marker = tmp_path / "marker"
    proc = cli({**test_env, "TMUX_PANE": "%0"}, "-L", f"agents-test-none-{uuid.uuid4().hex[:8]}", "hook",
               cwd=tmp_path, input=payload.replace("{marker}", str(marker)))
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert not marker.exists()
