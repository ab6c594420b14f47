"""Paths that try to break out: every command works, and nothing in a path is ever run.

The repository's folder, HOME and XDG_STATE_HOME hold quotes, spaces, ``$(...)``,
backticks, ``#{...}`` and ``;``. Any place where such a path reached a shell or
tmux's parser unquoted would run ``cd; touch pwned`` (a file in HOME) or expand
``#{pane_id}`` (a wrong path, so the command would fail).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pexpect
import pytest
from conftest import (
    PREFIX,
    Repo,
    Tmux,
    agent_panes,
    agent_start,
    client_name,
    expect_text as conftest_expect_text,
    init_repo,
    isolated_env,
    private_server,
    read_standin_log,
    wait_for,
)

#: A folder name that runs code wherever it is not quoted for a shell or tmux.
HOSTILE = "we'ird \"q\" $(cd;touch pwned) `cd;touch pwned` ${HOME} #{pane_id} ##; ~x;dir"


@pytest.fixture
def test_env(tmp_path: Path) -> dict[str, str]:
    """HOME and the state folder with a space and shell/tmux syntax in them."""
    return isolated_env(tmp_path, tmp_path / "ho me", state=tmp_path / "st'ate $(cd;touch pwned) #{session_name};")


@pytest.fixture
def repo(tmp_path: Path, test_env: dict[str, str]) -> Repo:
    """A repository whose folder name is :data:`HOSTILE`, one commit on ``main``."""
    return init_repo(tmp_path / HOSTILE, test_env, {"README.md": "# project\n"})


@pytest.fixture
def tmux(test_env: dict[str, str], repo: Repo, tmp_path: Path) -> Iterator[Tmux]:
    """A private server started from the test folder (never from the plugin's own checkout)."""
    with private_server(test_env, repo, start_in=tmp_path) as server:
        wait_for(lambda: server.display("#{pane_current_path}") == str(repo.path), timeout=15, message="the first pane in the repository")
        yield server


@pytest.fixture(autouse=True)
def no_marker(tmp_path: Path, test_env: dict[str, str]) -> Iterator[None]:
    """After every test: no ``pwned`` file anywhere (HOME, the test folder, the plugin)."""
    yield
    home = Path(test_env["HOME"])
    found = [str(p) for p in tmp_path.rglob("pwned")] + [str(p) for p in (home, Path.cwd()) if (p / "pwned").exists()]
    assert not found, f"a path was run as shell code: {found}"


@pytest.fixture
def client(tmux: Tmux, standin_agent: Path, attach: Callable[..., pexpect.spawn]) -> pexpect.spawn:
    """A real client (15 s timeouts), with the plugin loaded."""
    tmux.load_plugin()
    return attach(timeout=15, attach_timeout=15)


#: Drawing in these folders is slower: wait up to 20 s for a text.
expect_text = partial(conftest_expect_text, timeout=20)


def worktree_of(repo: Repo, name: str) -> Path:
    return repo.path.parent / f"{repo.path.name}.agents" / name


def spawn(tmux: Tmux, task: str, *extra: str) -> tuple[str, str]:
    name = tmux.agents("spawn", task, "--pane", tmux.panes()[0], "-d", *extra).stdout.strip()
    return name, agent_panes(tmux)[name]


def run_as_key(tmux: Tmux, child: pexpect.spawn, command: str, tmp_path: Path) -> None:
    """Run a tmux command line as a key binding does (with the client that pressed it).

    The key's next command marks it done: tmux runs it only once the command
    let the key go (a popup closed, a prompt answered), see :func:`key_done`.
    """
    conf = tmp_path / "cmd.conf"
    conf.write_text(command + "\nset-option -g @test-key-done 1\n")
    tmux.run("set-option", "-gu", "@test-key-done")
    tmux.run("bind-key", "-T", "prefix", "F12", "source-file", str(conf))
    tmux.run("bind-key", "-T", "prefix", "z", "source-file", str(conf))
    child.send(PREFIX)
    child.send("z")


def key_done(tmux: Tmux) -> bool:
    """True once the command of the last :func:`run_as_key` let the key go: until then keys go to its popup."""
    return tmux.run("show-options", "-gqv", "@test-key-done").strip() == "1"


def agents_in_background(tmux: Tmux, *args: str) -> subprocess.Popen[str]:
    """A popup command: it returns only when the popup closes, as from a key (run-shell -b)."""
    from conftest import AGENTS

    return subprocess.Popen([str(AGENTS), "-L", tmux.socket, *args], env=tmux.env, cwd=tmux.cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finished(proc: subprocess.Popen[str]) -> None:
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err


def menu_entries(tmux: Tmux, *args: str) -> dict[str, tuple[str, str]]:
    """key -> (label, command) as the chosen entry runs it (the menu expands its formats once)."""
    out = tmux.agents("menu", "--print", *args).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    return {key: (label, command.replace("##", "#")) for key, label, command in rows if key}


# ---------------------------------------------------------------------------


def test_spawn_from_the_cli_in_a_hostile_folder(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    name, pane = spawn(tmux, "hostile task")
    worktree = worktree_of(repo, name)
    assert worktree.is_dir()
    assert tmux.option(pane, "@agent_worktree") == str(worktree)
    assert tmux.option(pane, "@agent_repo") == str(repo.path)
    wait_for(lambda: tmux.display("#{pane_current_path}", pane) == str(worktree), timeout=20, message="the pane in the worktree")
    start = agent_start(tmux.env, timeout=20)
    assert start["cwd"] == str(worktree)
    # The hooks (a settings file in the hostile state folder) reach the pane.
    # SessionStart then the task as the first prompt: a hook moved the state on.
    wait_for(lambda: tmux.option(pane, "@agent_state") in ("idle", "working"), timeout=30,
             message=f"a hook to report the state (state {tmux.option(pane, '@agent_state')!r}, screen {tmux.capture(pane)!r})")


def test_spawn_key_in_a_hostile_folder(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    client.send(PREFIX)
    client.send("A")
    client.expect("task:")
    client.send("key $(cd;touch pwned) `cd;touch pwned` #{pane_id} x;")
    client.send("\r")
    panes = wait_for(lambda: agent_panes(tmux), timeout=30, message="the agent pane")
    (name,) = panes
    assert worktree_of(repo, name).is_dir()
    start = agent_start(tmux.env, timeout=20)
    assert start["prompt"] == "key $(cd;touch pwned) `cd;touch pwned` #{pane_id} x;"


def test_pane_log_in_a_hostile_state_folder(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    tmux.run("set-option", "-g", "@agents-log", "on")
    name, pane = spawn(tmux, "logged task")
    from agents_tmux import panelog  # the path, as the CLI computes it

    old = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = tmux.env["XDG_STATE_HOME"]
    try:
        log = panelog.log_path(repo.path, name)
    finally:
        if old is None:
            del os.environ["XDG_STATE_HOME"]
        else:
            os.environ["XDG_STATE_HOME"] = old
    assert tmux.display("#{pane_pipe}", pane) == "1"
    tmux.run("send-keys", "-t", pane, "-l", "marker-text-42")
    tmux.run("send-keys", "-t", pane, "Enter")
    wait_for(lambda: log.is_file() and "marker-text-42" in log.read_text(errors="replace"), timeout=20, message="the pane log")
    proc = tmux.agents("log", name, "--path", "--pane-log")
    assert proc.stdout.strip() == str(log)


def test_diff_log_and_context_popups(tmux: Tmux, repo: Repo, client: pexpect.spawn, tmp_path: Path) -> None:
    tmux.run("set-option", "-g", "@agents-log", "on")
    name, pane = spawn(tmux, "popup task")
    worktree = worktree_of(repo, name)
    (worktree / "new-file.txt").write_text("hostile popup content\n")
    me = client_name(tmux)
    proc = agents_in_background(tmux, "diff", name, "--from-key", "--client", me)
    expect_text(client, "new-file.txt")
    client.send("q")
    finished(proc)
    tmux.run("send-keys", "-t", pane, "-l", "log-line-77")
    tmux.run("send-keys", "-t", pane, "Enter")
    wait_for(lambda: tmux.agents("log", name, "--path", "--pane-log", check=False).returncode == 0, timeout=20, message="a log")
    log = Path(tmux.agents("log", name, "--path", "--pane-log").stdout.strip())
    with log.open("a") as handle:
        handle.write("\nonly-in-the-log-file\n")
    proc = agents_in_background(tmux, "log", name, "--pane-log", "--from-key", "--client", me)
    expect_text(client, "only-in-the-log-file")
    client.send("q")
    finished(proc)
    (repo.path / ".agents" / "context").mkdir(parents=True, exist_ok=True)
    (repo.path / ".agents" / "context" / "plan-hostile.md").write_text("# plan\n")
    proc = agents_in_background(tmux, "context", "--from-key", "--client", me, "--pane", tmux.panes()[0])
    expect_text(client, "plan-hostile.md")
    client.send("q")
    finished(proc)


def test_menu_actions_run_in_a_hostile_folder(tmux: Tmux, repo: Repo, client: pexpect.spawn, tmp_path: Path) -> None:
    name, pane = spawn(tmux, "menu task")
    worktree = worktree_of(repo, name)
    (worktree / "work.txt").write_text("menu work\n")
    repo.git("add", "work.txt", cwd=worktree)
    repo.git("commit", "-q", "-m", "agent work", cwd=worktree)
    me = client_name(tmux)
    actions = menu_entries(tmux, "--agent", name, "--client", me)
    # diff: a popup in the worktree, paged.
    run_as_key(tmux, client, actions["d"][1], tmp_path)
    expect_text(client, "work.txt")
    assert not key_done(tmux)  # the popup holds the keys until it closes
    client.send("q")
    wait_for(lambda: key_done(tmux), timeout=20, message="the diff popup to close")
    # merge: asks first, then merges in the hostile main checkout.
    run_as_key(tmux, client, actions["m"][1], tmp_path)
    expect_text(client, f"Merge {name} into its base?")
    client.send("y")
    wait_for(lambda: (repo.path / "work.txt").is_file(), timeout=30, message="the merge")
    assert "Merge agent" in repo.git("log", "-1", "--format=%s")
    # restart: the pane comes back in the worktree.
    tmux.run("send-keys", "-t", pane, "-l", "/exit")
    tmux.run("send-keys", "-t", pane, "Enter")
    wait_for(lambda: tmux.option(pane, "@agent_state") == "exited", timeout=20, message="the agent to exit")
    run_as_key(tmux, client, actions["r"][1], tmp_path)
    expect_text(client, f"restarted {name}")
    client.send("\r")
    wait_for(lambda: tmux.option(pane, "@agent_state") not in ("exited", ""), timeout=30, message="the restart")
    wait_for(lambda: tmux.display("#{pane_current_path}", pane) == str(worktree), timeout=20, message="the restarted pane's folder")
    # remove: asks, then shows the result in a popup; the branch is merged, so all goes.
    run_as_key(tmux, client, actions["X"][1], tmp_path)
    expect_text(client, f"Remove agent {name}")
    client.send("y")
    wait_for(lambda: not worktree.exists(), timeout=30, message="the worktree to go")
    expect_text(client, f"removed {name}")
    client.send("\r")


def test_menu_spawn_entry_and_submenu_in_a_hostile_folder(tmux: Tmux, repo: Repo, client: pexpect.spawn, tmp_path: Path) -> None:
    me = client_name(tmux)
    main = menu_entries(tmux, "--client", me, "--pane", tmux.panes()[0])
    run_as_key(tmux, client, main["s"][1], tmp_path)
    client.expect("task:")
    client.send("from the menu $(cd;touch pwned)")
    client.send("\r")
    panes = wait_for(lambda: agent_panes(tmux), timeout=30, message="the agent from the menu")
    (name,) = panes
    assert worktree_of(repo, name).is_dir()
    main = menu_entries(tmux, "--client", me, "--pane", panes[name])
    run_as_key(tmux, client, main["x"][1], tmp_path)
    expect_text(client, "Jump to it")
    client.send("\x1b")
    run_as_key(tmux, client, main["l"][1], tmp_path)
    expect_text(client, name)
    client.send("\r")


def test_restore_and_restart_in_a_hostile_folder(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    tmux.run("set-option", "-g", "@agents-log", "on")
    name, pane = spawn(tmux, "restored task")
    worktree = worktree_of(repo, name)
    tmux.run("kill-pane", "-t", pane)
    out = tmux.agents("restore", name).stdout
    assert name in out
    new = wait_for(lambda: agent_panes(tmux).get(name), timeout=20, message="the restored pane")
    wait_for(lambda: tmux.display("#{pane_current_path}", new) == str(worktree), timeout=20, message="restored in the worktree")
    assert tmux.display("#{pane_pipe}", new) == "1"
    tmux.agents("restart", name, "--force")
    wait_for(lambda: tmux.display("#{pane_current_path}", new) == str(worktree), timeout=20, message="restarted in the worktree")
    assert tmux.display("#{pane_dead}", new) == "0"


def test_team_in_a_hostile_folder(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    proc = tmux.agents("team", "--task", "hostile team", "--force", "--no-focus", "--pane", tmux.panes()[0], check=False)
    assert proc.returncode == 0, proc.stderr
    panes = wait_for(lambda: agent_panes(tmux) if len(agent_panes(tmux)) >= 2 else None, timeout=30, message="the team")
    for name in panes:
        worktree = tmux.option(panes[name], "@agent_worktree")
        assert Path(worktree).is_dir()


@pytest.mark.parametrize("task", ["typed task ends with;", "typed $(cd;touch pwned) #{pane_id} \\;"])
def test_typed_prompt_arrives_as_typed(tmux: Tmux, repo: Repo, standin_agent: Path, task: str) -> None:
    """An agent that gets its task typed in (prompt = "keys") gets exactly the text, a trailing ';' included."""
    from conftest import STANDIN

    (repo.path / ".agents.toml").write_text(
        f'[agents.typer]\ncommand = ["{STANDIN}"]\nprompt = "keys"\nhooks = "claude"\n'
    )
    tmux.agents("spawn", task, "--agent", "typer", "--pane", tmux.panes()[0], "-d")
    lines = wait_for(lambda: [e["line"] for e in read_standin_log(tmux.env) if e["event"] == "input"], timeout=30, message="typed input")
    assert lines[0] == task


def test_team_over_the_cap_reruns_with_the_exact_task_and_folder(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    """The confirm-before line of keyflow carries --task and --dir through tmux and a shell unchanged."""
    tmux.run("set-option", "-g", "@agents-max", "1")
    task = "cap #{pane_id} ##x $(cd;touch pwned) 'q' \"d\" end;"
    me = client_name(tmux)
    proc = agents_in_background(tmux, "team", "--task", task, "--dir", str(repo.path), "--no-focus", "--from-key", "--client", me)
    expect_text(client, "Start it? (y/n)")
    client.send("y")
    finished(proc)
    try:
        panes = wait_for(lambda: agent_panes(tmux) if len(agent_panes(tmux)) >= 2 else None, timeout=40, message="the team after y")
    except BaseException:
        expect_text(client, "NEVER", timeout=1)
        raise
    for pane in panes.values():
        assert tmux.option(pane, "@agent_task") == task
        assert tmux.option(pane, "@agent_repo") == str(repo.path)


def test_the_switch_line_merge_prints_works_pasted_in_a_hostile_folder(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    name, _pane = spawn(tmux, "switch back")
    worktree = Path(tmux.option(_pane, "@agent_worktree"))
    (worktree / "f.txt").write_text("f\n")
    repo.git("add", "f.txt", cwd=worktree)
    repo.git("commit", "-q", "-m", "f", cwd=worktree)
    repo.git("switch", "-q", "-c", "elsewhere")
    proc = tmux.agents("merge", name, check=False)
    assert proc.returncode == 1 and "nothing was changed" in proc.stderr
    line = proc.stderr.split("switch it first (", 1)[1].rsplit(") or merge into", 1)[0]
    pasted = subprocess.run(line, shell=True, env=tmux.env, cwd=tmux.home, capture_output=True, text=True, check=False)
    assert pasted.returncode == 0, (line, pasted.stderr)
    assert repo.git("symbolic-ref", "--short", "HEAD").strip() == "main"
    assert "merged agent/switch-back" in tmux.agents("merge", name).stdout
