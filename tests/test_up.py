"""`agents up`: one session per repository on its own server, conf/tmux.conf and the plugin loaded."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from conftest import AGENTS, ROOT, STANDIN, Repo, read_standin_log, stop_server, wait_for

CONF = ROOT / "conf" / "tmux.conf"
PREFIX = "\x02"
WAITING_ENTRY = "#{?#{==:#{n:#{S:#{W:#{P:#{?#{==:#{@agent_state},waiting},x,}}}}},0}"


class UpServer:
    """The server `agents -L <socket> up` starts; killed (only this one) after the test."""

    def __init__(self, env: dict[str, str]) -> None:
        self.socket = f"agents-up-{uuid.uuid4().hex[:10]}"
        self.env = env

    def up(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(AGENTS), "-L", self.socket, "up", *args], env=self.env, cwd=cwd, capture_output=True, text=True,
            stdin=subprocess.DEVNULL, timeout=60, check=False,
        )

    def run(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(["tmux", "-L", self.socket, *args], env=self.env, capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout

    def sessions(self) -> list[str]:
        return self.run("list-sessions", "-F", "#{session_name}", check=False).split()

    def attached(self, repo: Repo) -> pexpect.spawn:
        """`agents up REPO` typed in a terminal, once its client shows the session; the caller terminates it."""
        child = pexpect.spawn(
            str(AGENTS), ["-L", self.socket, "up", str(repo.path)], env=self.env, cwd=str(repo.path),
            dimensions=(50, 200), encoding="utf-8", codec_errors="replace", timeout=30,
        )
        try:
            wait_for(lambda: self.run("list-clients", "-F", "#{client_session}", check=False).split() == ["project"],
                     timeout=30, message="the client attached to the project session")
            child.expect_exact("project:1.1")  # the status line of conf/tmux.conf
        except BaseException:
            child.terminate(force=True)
            raise
        return child


@pytest.fixture
def up_server(test_env: dict[str, str]) -> Iterator[UpServer]:
    server = UpServer(test_env)
    try:
        yield server
    finally:
        stop_server(server.socket, test_env)


def test_up_detached_starts_one_session_with_conf_and_plugin(up_server: UpServer, repo: Repo) -> None:
    result = up_server.up(str(repo.path), "-d")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    first, tip = result.stdout.splitlines()
    assert first == f"session project started in {repo.path}; attach with: tmux -L {up_server.socket} attach -t project"
    # `agents` is not on this shell's PATH: the line that puts it there.
    assert tip == f'tip: put `agents` on your PATH (in ~/.bashrc or ~/.profile): export PATH={ROOT / ".bin"}:"$PATH"'
    with_path = subprocess.run([str(AGENTS), "-L", up_server.socket, "up", str(repo.path), "-d"], capture_output=True, text=True,
                               env={**up_server.env, "PATH": f"{ROOT / '.bin'}:{up_server.env['PATH']}"}, stdin=subprocess.DEVNULL, check=False)
    assert with_path.returncode == 0 and "tip:" not in with_path.stdout
    assert up_server.sessions() == ["project"]
    assert up_server.run("display-message", "-p", "-t", "project", "#{pane_current_path}").strip() == str(repo.path)

    # Both files, so prefix + r reloads the conf and the plugin.
    conf, loader = up_server.run("display-message", "-p", "#{config_files}").strip().split(",")
    assert conf == str(CONF)
    assert Path(loader).is_file() and str(ROOT / "agents.tmux") in Path(loader).read_text()
    assert Path(loader).is_relative_to(Path(up_server.env["XDG_STATE_HOME"]))
    # The conf's options, and the plugin: its key, its status segment (the placeholder replaced).
    assert up_server.run("show-options", "-gv", "history-limit").strip() == "50000"
    assert up_server.run("show-options", "-sv", "escape-time").strip() == "10"
    assert "scripts/ask-task" in up_server.run("list-keys", "-T", "prefix", "A")
    right = up_server.run("show-options", "-gv", "status-right")
    assert right.count(WAITING_ENTRY) == 1 and "#{agents_status}" not in right, right
    # No config error was shown in the first pane.
    assert up_server.run("list-panes", "-a", "-F", "#{pane_in_mode}").split() == ["0"]

    again = up_server.up(str(repo.path), "-d")
    assert again.returncode == 0, again.stderr
    assert "session project is running" in again.stdout
    assert up_server.sessions() == ["project"]
    assert len(up_server.run("list-windows", "-a", "-F", "#{window_id}").split()) == 1


def test_up_from_inside_the_repository_and_a_subfolder(up_server: UpServer, repo: Repo) -> None:
    sub = repo.path / "src"
    sub.mkdir()
    result = up_server.up("-d", cwd=sub)
    assert result.returncode == 0, result.stderr
    assert up_server.sessions() == ["project"]
    assert up_server.run("display-message", "-p", "-t", "project", "#{pane_current_path}").strip() == str(repo.path)


def test_up_in_a_folder_that_is_not_a_repository_starts_with_a_note(up_server: UpServer, tmp_path: Path, test_env: dict[str, str]) -> None:
    folder = tmp_path / "notes.d"
    folder.mkdir()
    result = up_server.up(str(folder), "-d")
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("agents up: note: not inside a git repository")
    assert len(result.stderr.splitlines()) == 1
    assert up_server.sessions() == ["notes_d"]


def test_up_with_a_missing_config_is_one_line(up_server: UpServer, repo: Repo, tmp_path: Path) -> None:
    missing = tmp_path / "nope.conf"
    result = up_server.up(str(repo.path), "-d", "--config", str(missing))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"agents up: tmux config not found: {missing}\n"
    assert up_server.sessions() == []


def test_up_with_a_missing_folder_is_one_line(up_server: UpServer, tmp_path: Path) -> None:
    result = up_server.up(str(tmp_path / "gone"), "-d")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"agents up: not a folder: {tmp_path / 'gone'}\n"
    assert up_server.sessions() == []


def test_up_attaches_and_prefix_A_spawns(up_server: UpServer, repo: Repo) -> None:
    child = up_server.attached(repo)
    try:
        up_server.run("set-option", "-g", "@agents-command", str(STANDIN))
        child.send(PREFIX + "A")
        child.expect_exact("task:")
        child.send("Write the changelog\r")
        start = wait_for(lambda: next((e for e in read_standin_log(up_server.env) if e["event"] == "start"), None),
                         timeout=30, message="the agent to start")
        assert start["prompt"] == "Write the changelog"
        assert start["cwd"] == str(repo.path.parent / "project.agents" / "write-the-changelog")
        # Detaching ends `agents up` (it became the tmux client) and leaves the session running.
        child.send(PREFIX + "d")
        child.expect(pexpect.EOF)
        assert up_server.sessions() == ["project"]
    finally:
        child.terminate(force=True)


def test_up_from_a_pane_of_its_own_server_switches_instead_of_nesting(
    up_server: UpServer, repo: Repo, tmp_path: Path, test_env: dict[str, str]
) -> None:
    from conftest import init_repo

    other = init_repo(tmp_path / "other", test_env, {"a.txt": "a\n"})
    assert up_server.up("-d", str(other.path)).returncode == 0
    child = up_server.attached(repo)
    try:
        # In the session's shell, `agents up OTHER` (as a user types it there) moves this client to the other session.
        child.send(f"{AGENTS} -L {up_server.socket} up {other.path}\r")
        wait_for(lambda: up_server.run("list-clients", "-F", "#{client_session}", check=False).split() == ["other"],
                 timeout=30, message="the same client on the other session")
        # No second client was started inside the pane (tmux drawn within itself).
        assert "tmux" not in up_server.run("list-panes", "-a", "-F", "#{pane_current_command}")
    finally:
        child.terminate(force=True)


def test_two_clones_of_the_plugin_each_reload_their_own(test_env: dict[str, str], repo: Repo, tmp_path: Path) -> None:
    # A second clone (a TPM install beside this dev clone): its own files, this clone's Python environment.
    clone = tmp_path / "other-clone"
    shutil.copytree(ROOT, clone, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", ".venv*", ".cache", ".bin", "__pycache__", "*.egg-info", ".pytest_cache"))
    (clone / ".venv").symlink_to((ROOT / ".venv").resolve())
    ours, theirs = UpServer(test_env), UpServer(test_env)
    try:
        assert ours.up(str(repo.path), "-d").returncode == 0
        # `agents up` run by the other clone's own code (its plugin folder is the clone).
        code = f"import sys; sys.path.insert(0, {str(clone / 'python' / 'src')!r}); from agents_tmux.cli import main; sys.exit(main())"
        other = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-I", "-c", code, "-L", theirs.socket, "up", str(repo.path), "-d"],
                               env=test_env, capture_output=True, text=True, timeout=60, check=False)
        assert other.returncode == 0, other.stderr
        assert theirs.run("show-options", "-gqv", "@agents-cli").strip() == str(clone / "scripts" / "agents")
        for server, folder in ((ours, ROOT), (theirs, clone)):
            # prefix + r: every file the server started with, read again.
            files = server.run("display-message", "-p", "#{config_files}").strip().split(",")
            server.run("set-option", "-gu", "@agents-cli")
            server.run("source-file", *files)
            assert server.run("show-options", "-gqv", "@agents-cli").strip() == str(folder / "scripts" / "agents"), files
    finally:
        for server in (ours, theirs):
            stop_server(server.socket, test_env)
