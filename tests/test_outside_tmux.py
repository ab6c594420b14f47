"""The CLI from a plain terminal: which server it talks to, and which session agents go to (issue 12, points 2 and 3).

Each test gets its own TMUX_TMPDIR, so "the default socket" and the socket
`agents up` uses (-L agents) are private to it.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from conftest import AGENTS, STANDIN, Repo, init_repo, wait_for


class Terminal:
    """A plain terminal (no $TMUX) with private tmux sockets."""

    def __init__(self, env: dict[str, str], tmpdir: Path) -> None:
        tmpdir.mkdir()
        self.env = {**env, "TMUX_TMPDIR": str(tmpdir)}

    def agents(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(AGENTS), *args], env=self.env, cwd=cwd, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=60, check=False)

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", *args], env=self.env, capture_output=True, text=True, check=False).stdout


@pytest.fixture
def terminal(test_env: dict[str, str], tmp_path: Path) -> Iterator[Terminal]:
    term = Terminal(test_env, tmp_path / "tmux-sockets")
    try:
        yield term
    finally:
        for flags in ([], ["-L", "agents"], ["-L", "mine"]):
            term.tmux(*flags, "kill-server")


def _agent_rows(term: Terminal, *flags: str) -> list[str]:
    return [line for line in term.tmux(*flags, "list-panes", "-a", "-F", "#{session_name} #{@agent_name}").splitlines()
            if line.split(" ")[1:] != [""]]


def test_outside_tmux_the_cli_finds_the_up_server_and_takes_socket_flags_anywhere(terminal: Terminal, repo: Repo) -> None:
    # Only a default server (a user's own tmux): the CLI uses it, as before.
    terminal.tmux("-f", "/dev/null", "new-session", "-d", "-s", "mine")
    plain = terminal.agents("list", cwd=repo.path)
    assert plain.returncode == 0 and "no agents" in plain.stdout and plain.stderr == ""

    assert terminal.agents("up", "-d", cwd=repo.path).returncode == 0
    terminal.tmux("-L", "agents", "set-option", "-g", "@agents-command", str(STANDIN))
    # Both servers run: no -L/-S means the one `up` runs, and it says so.
    spawned = terminal.agents("spawn", "Fix the parser", cwd=repo.path)
    assert spawned.returncode == 0, spawned.stderr
    assert "-L agents" in spawned.stderr
    assert _agent_rows(terminal, "-L", "agents") == ["project fix-the-parser"]
    assert _agent_rows(terminal) == []  # nothing went to the plugin-less default server
    listed = terminal.agents("list", cwd=repo.path)
    assert "fix-the-parser" in listed.stdout and "-L agents" in listed.stderr

    # -L, -S and -C before or after the subcommand.
    sock = terminal.tmux("-L", "agents", "display-message", "-p", "#{socket_path}").strip()
    elsewhere = repo.path.parent
    for argv in (["-L", "agents", "list"], ["list", "-L", "agents"], ["-S", sock, "list"], ["list", "-S", sock],
                 ["-C", str(repo.path), "list", "-L", "agents"], ["list", "-C", str(repo.path), "-L", "agents"]):
        out = terminal.agents(*argv, cwd=elsewhere)
        assert out.returncode == 0 and "fix-the-parser" in out.stdout and out.stderr == "", (argv, out)
    # -L after the subcommand wins over the default; -C after it is the subcommand's own folder.
    assert "no agents" in terminal.agents("list", "-L", "default", cwd=elsewhere).stdout
    after = terminal.agents("spawn", "Second task", "-C", str(repo.path), cwd=elsewhere)
    assert after.returncode == 0, after.stderr
    before = terminal.agents("-C", str(repo.path), "spawn", "Third task", cwd=elsewhere)
    assert before.returncode == 0, before.stderr
    assert {row.split()[1] for row in _agent_rows(terminal, "-L", "agents")} == {"fix-the-parser", "second-task", "third-task"}
    bad = terminal.agents("-C", str(elsewhere / "missing"), "list", cwd=elsewhere)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "missing" in bad.stderr


def _hint(stderr: str) -> str:
    found = re.search(r"start one with `([^`]+)`", stderr)
    assert found, stderr
    return found.group(1)


def test_no_server_at_all_names_the_way_out(terminal: Terminal, repo: Repo) -> None:
    out = terminal.agents("list", cwd=repo.path)
    assert out.returncode == 1 and out.stderr.count("\n") == 1
    assert "agents up" in out.stderr and "-L agents" in out.stderr
    # The way out works pasted into the shell the error appeared in (the repository, not the plugin's folder).
    assert _hint(out.stderr) == f"{AGENTS} up"
    on_path = {**terminal.env, "PATH": f"{AGENTS.parents[1] / '.bin'}:{terminal.env['PATH']}"}
    named = subprocess.run([str(AGENTS), "list", "-L", "mine"], env=on_path, cwd=repo.path, capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=60, check=False)
    assert named.returncode == 1 and _hint(named.stderr) == "agents -L mine up", named.stderr
    try:
        started = subprocess.run(_hint(named.stderr), shell=True, env=on_path, cwd=repo.path, capture_output=True, text=True,
                                 stdin=subprocess.DEVNULL, timeout=60, check=False)
        assert started.returncode == 0 and "session project started" in started.stdout, started
        assert "no agents" in terminal.agents("list", "-L", "mine", cwd=repo.path).stdout
    finally:
        terminal.tmux("-L", "mine", "kill-server")

    # A shell that outlived its tmux server ($TMUX names a dead one) is told so, and where `up`'s server is.
    assert terminal.agents("up", "-d", cwd=repo.path).returncode == 0
    stale = {**terminal.env, "TMUX": f"{terminal.env['TMUX_TMPDIR']}/gone,4242,0"}
    out = subprocess.run([str(AGENTS), "list"], env=stale, cwd=repo.path, capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=60, check=False)
    assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
    assert "this shell ($TMUX:" in out.stderr and "/gone)" in out.stderr and "-L agents" in out.stderr, out.stderr
    assert "neither on the default socket" not in out.stderr


def test_spawn_from_outside_goes_to_the_repository_session_and_same_named_repos_never_collide(
    terminal: Terminal, repo: Repo, tmp_path: Path, test_env: dict[str, str]
) -> None:
    (tmp_path / "elsewhere").mkdir()
    other = init_repo(tmp_path / "elsewhere" / "project", test_env, {"a.txt": "a\n"})
    first = terminal.agents("up", "-d", cwd=repo.path)
    second = terminal.agents("up", "-d", cwd=other.path)
    assert first.returncode == 0 and second.returncode == 0, (first.stderr, second.stderr)
    assert "session project started" in first.stdout
    assert "session project-" in second.stdout and "started" in second.stdout, second.stdout
    sessions = dict(line.split("\t") for line in terminal.tmux("-L", "agents", "list-sessions", "-F", "#{session_name}\t#{@agents-repo}").splitlines())
    assert sorted(sessions.values()) == sorted([str(repo.path), str(other.path)])
    other_session = next(name for name, path in sessions.items() if path == str(other.path))
    # up again finds each repository's own session.
    assert f"session {other_session} is running" in terminal.agents("up", "-d", cwd=other.path).stdout
    assert "session project is running" in terminal.agents("up", "-d", cwd=repo.path).stdout

    terminal.tmux("-L", "agents", "set-option", "-g", "@agents-command", str(STANDIN))
    # A client views the first repository's session; a spawn for the other one still goes to its own.
    client = pexpect.spawn("tmux", ["-L", "agents", "attach-session", "-t", "=project"], env=terminal.env, dimensions=(40, 160))
    try:
        wait_for(lambda: terminal.tmux("-L", "agents", "list-clients", "-F", "#{session_name}").strip() == "project",
                 message="the client to attach")
        out = terminal.agents("spawn", "Other work", cwd=other.path)
    finally:
        client.terminate(force=True)
    assert out.returncode == 0, out.stderr
    assert _agent_rows(terminal, "-L", "agents") == [f"{other_session} other-work"]
    # A repository whose session is gone gets it back (made, marked) on the next spawn.
    terminal.tmux("-L", "agents", "kill-session", "-t", "=project")
    out = terminal.agents("spawn", "Mine", cwd=repo.path)
    assert out.returncode == 0, out.stderr
    wait_for(lambda: "project mine" in _agent_rows(terminal, "-L", "agents"), message="the agent in its repository's session")
    assert terminal.tmux("-L", "agents", "show-options", "-v", "-t", "=project:", "@agents-repo").strip() == str(repo.path)


def test_restore_with_no_server_starts_one_as_up_does(terminal: Terminal, repo: Repo) -> None:
    # Nothing recorded: nothing to restore, and no server is started for it.
    nothing = terminal.agents("restore", cwd=repo.path)
    assert nothing.returncode == 0 and "nothing to restore" in nothing.stdout
    assert terminal.tmux("-L", "agents", "list-sessions") == "" and terminal.tmux("list-sessions") == ""

    assert terminal.agents("up", "-d", cwd=repo.path).returncode == 0
    terminal.tmux("-L", "agents", "set-option", "-g", "@agents-command", str(STANDIN))
    assert terminal.agents("spawn", "Survive a reboot", cwd=repo.path).returncode == 0
    terminal.tmux("-L", "agents", "kill-server")
    wait_for(lambda: terminal.tmux("-L", "agents", "list-sessions") == "", message="the server to go")

    out = terminal.agents("restore", cwd=repo.path)
    assert out.returncode == 0, out.stderr
    assert "started a tmux server" in out.stdout and "tmux -L agents attach -t project" in out.stdout
    assert "restored survive-a-reboot" in out.stdout
    assert _agent_rows(terminal, "-L", "agents") == ["project survive-a-reboot"]
    # Started as `up -d` starts it: conf and plugin loaded.
    assert "scripts/ask-task" in terminal.tmux("-L", "agents", "list-keys", "-T", "prefix")


def test_an_agent_running_in_another_server_is_not_removed_from_here(terminal: Terminal, repo: Repo) -> None:
    # From your own tmux (or a wrong -L, or no server at all) an agent of the
    # `up` server has no pane: rm, park and merge --rm must not pull its
    # worktree from under it. The refusal's hint, pasted, acts where it runs.
    assert terminal.agents("up", "-d", cwd=repo.path).returncode == 0
    terminal.tmux("-L", "agents", "set-option", "-g", "@agents-command", str(STANDIN))
    assert terminal.agents("spawn", "Keep running", cwd=repo.path).returncode == 0
    terminal.tmux("-f", "/dev/null", "new-session", "-d", "-s", "mine")
    worktree = repo.path.parent / "project.agents" / "keep-running"
    assert worktree.is_dir()
    for server in (["-L", "default"], ["-L", "nothing-runs-here"]):
        for argv in (["rm", "keep-running"], ["rm", "keep-running", "--force"], ["rm", "keep-running", "--keep-worktree"],
                     ["rm", "keep-running", "other"], ["park", "keep-running"], ["merge", "keep-running", "--rm"]):
            out = terminal.agents(*argv, *server, cwd=repo.path)
            assert out.returncode == 1, (server, argv, out)
            assert "runs in another tmux server" in out.stderr and "nothing was changed" in out.stderr, (argv, out.stderr)
            assert "Traceback" not in out.stderr
            assert worktree.is_dir() and "agent/keep-running" in repo.branches()
            assert _agent_rows(terminal, "-L", "agents") == ["project keep-running"]
    # Nor is it sent text, or restarted, from there: the line to paste goes to its own server.
    restart = terminal.agents("restart", "keep-running", "--force", "-L", "default", cwd=repo.path)
    assert restart.returncode == 1 and "agents -S " in restart.stderr and "restart keep-running --force" in restart.stderr
    sent = terminal.agents("send", "keep-running", "hello there", "-L", "default", cwd=repo.path)
    assert sent.returncode == 1 and "runs in another tmux server" in sent.stderr, sent.stderr
    on_path = {**terminal.env, "PATH": f"{AGENTS.parents[1] / '.bin'}:{terminal.env['PATH']}"}
    resent = subprocess.run(sent.stderr.split("run it there: ", 1)[1].strip(), shell=True, env=on_path, cwd=repo.path,
                            capture_output=True, text=True, timeout=60, check=False)
    assert resent.returncode == 0, resent.stderr
    pane = terminal.tmux("-L", "agents", "list-panes", "-a", "-F", "#{pane_id} #{@agent_name}").split("keep-running")[0].split()[-1]
    wait_for(lambda: "hello there" in terminal.tmux("-L", "agents", "capture-pane", "-p", "-t", pane), message="the text sent there")

    out = terminal.agents("rm", "keep-running", "-L", "default", cwd=repo.path)
    hint = out.stderr.split("run it there: ", 1)[1].strip()
    pasted = subprocess.run(hint, shell=True, env=on_path,
                            cwd=repo.path, capture_output=True, text=True, timeout=60, check=False)
    assert pasted.returncode == 0, pasted.stderr
    assert "removed keep-running" in pasted.stdout
    assert not worktree.exists() and _agent_rows(terminal, "-L", "agents") == []


def test_see_lines_name_the_server_the_command_used(terminal: Terminal, repo: Repo) -> None:
    # "(see: tmux ...)" pasted into the plain terminal lists the server the command looked at, not the default one.
    assert terminal.agents("up", "-d", cwd=repo.path).returncode == 0
    for argv in (["jump", "--client", "nope"], ["context", "--pane", "%999"], ["spawn", "a task", "--pane", "%999"]):
        out = terminal.agents(*argv, cwd=repo.path)
        assert out.returncode == 1 and out.stderr.count("\n") == 2, out.stderr  # the server line, then the error
        see = re.search(r"\(see: (tmux [^)]*)\)", out.stderr)
        assert see and "-L agents" in see.group(1), out.stderr
        pasted = subprocess.run(see.group(1), shell=True, env=terminal.env, capture_output=True, text=True, check=False)
        assert pasted.returncode == 0, (see.group(1), pasted)
        if "list-panes" in see.group(1):
            assert pasted.stdout.startswith("project:"), pasted.stdout


def test_hints_carry_the_socket_flags_the_command_was_given(terminal: Terminal, repo: Repo) -> None:
    # Only the server -L mine runs: a hint without -L/-S, pasted in this shell, would find no server at all.
    assert terminal.agents("up", "-d", "-L", "mine", cwd=repo.path).returncode == 0
    terminal.tmux("-L", "mine", "set-option", "-g", "@agents-command", str(STANDIN))
    name = terminal.agents("spawn", "Park me", "-L", "mine", cwd=repo.path).stdout.strip()
    assert name == "park-me"
    parked = terminal.agents("park", name, "-L", "mine", cwd=repo.path)
    assert parked.returncode == 0, parked.stderr
    hint = parked.stdout.split("Bring it back with: ", 1)[1].strip()
    assert hint == f"agents -L mine unpark {name}", parked.stdout
    # Hints written deep inside a command (parking, restore) carry them too, -S as given.
    sock = terminal.tmux("-L", "mine", "display-message", "-p", "#{socket_path}").strip()
    again = terminal.agents("-S", sock, "park", name, cwd=repo.path)
    assert again.returncode == 1 and f"agents -S {sock} unpark {name}" in again.stderr, again.stderr
    restore = terminal.agents("restore", name, "-L", "mine", cwd=repo.path)
    assert restore.returncode == 1 and f"`agents -L mine unpark {name}`" in restore.stderr, restore.stderr
    on_path = {**terminal.env, "PATH": f"{AGENTS.parents[1] / '.bin'}:{terminal.env['PATH']}"}
    pasted = subprocess.run(hint, shell=True, env=on_path, cwd=repo.path, capture_output=True, text=True, timeout=60, check=False)
    assert pasted.returncode == 0 and f"unparked {name}" in pasted.stdout, pasted
    assert [row.split()[1] for row in _agent_rows(terminal, "-L", "mine")] == [name]


def test_spawn_in_a_server_without_the_plugin_says_how_to_load_it(terminal: Terminal, repo: Repo) -> None:
    # The user's own tmux, without agents.tmux: spawn works, and says once why no status or keys show.
    terminal.tmux("-f", "/dev/null", "new-session", "-d", "-s", "mine", "-c", str(repo.path))
    terminal.tmux("set-option", "-g", "@agents-command", str(STANDIN))
    spawned = terminal.agents("spawn", "Plain server", cwd=repo.path)
    assert spawned.returncode == 0 and spawned.stdout.strip() == "plain-server", spawned
    (line,) = spawned.stderr.splitlines()
    assert line.startswith("agents spawn: note: the plugin is not loaded in this tmux server: "), line
    doctor = terminal.agents("doctor", "-L", "default", cwd=repo.path)
    fix = line.split("note: ", 1)[1].split(" or load it now: ")[0]
    assert fix in doctor.stdout, (line, doctor.stdout)  # the same words as doctor's fix
    load = line.rsplit("or load it now: ", 1)[1]
    assert subprocess.run(load, shell=True, env=terminal.env, capture_output=True, check=False).returncode == 0
    assert terminal.tmux("show-options", "-gqv", "@agents-cli").strip()
    # Loaded now: no note.
    again = terminal.agents("spawn", "Plain server again", cwd=repo.path)
    assert again.returncode == 0 and again.stderr == "", again.stderr
