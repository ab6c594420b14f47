"""`agents` is on PATH in every process and shell the plugin starts (issue 12, point 1).

The servers here run bash as a login shell, as tmux does by default: Debian's
/etc/profile then sets PATH from scratch, which is what used to lose `agents`.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from conftest import AGENTS, PREFIX, ROOT, Repo, Tmux, pane_of, stop_server, wait_for

BIN_AGENTS = str(ROOT / ".bin" / "agents")


def _agent_program(tmp_path: Path) -> Path:
    """An agent that notes where `agents` is on its PATH, then exits (leaving the pane's shell)."""
    program = tmp_path / "note-path-agent"
    program.write_text(f'#!/bin/sh\necho "agent:$(command -v agents)" >> {tmp_path}/seen\n')
    program.chmod(0o755)
    return program


def _seen(tmp_path: Path) -> list[str]:
    path = tmp_path / "seen"
    return path.read_text().splitlines() if path.exists() else []


def _type_in(tmux: Tmux, pane: str, line: str) -> None:
    tmux.run("send-keys", "-t", pane, "-l", line)
    tmux.run("send-keys", "-t", pane, "Enter")


def test_agents_and_the_shells_they_leave_have_agents_on_path(tmux: Tmux, repo: Repo, tmp_path: Path) -> None:
    tmux.run("set-option", "-g", "@agents-command", str(_agent_program(tmp_path)))
    # Spawned by the CLI from outside tmux: the agent itself finds `agents`.
    name = tmux.agents("spawn", "Note the path", "-d").stdout.strip()
    wait_for(lambda: _seen(tmp_path), message="the agent to note its PATH")
    assert _seen(tmp_path) == [f"agent:{BIN_AGENTS}"]
    pane = pane_of(tmux, name)
    wait_for(lambda: tmux.option(pane, "@agent_state") == "exited", message="the agent to exit")
    # The login shell it leaves behind: the hint it prints works when pasted.
    wait_for(lambda: f"Restart the agent with: agents restart {name}" in tmux.capture(pane), message="the restart hint")
    _type_in(tmux, pane, f'echo "shell:$(command -v agents)" >> {tmp_path}/seen')
    wait_for(lambda: f"shell:{BIN_AGENTS}" in _seen(tmp_path), message="the login shell to find agents")
    _type_in(tmux, pane, f"agents restart {name}")
    wait_for(lambda: len(_seen(tmp_path)) == 3, message="the pasted restart to run the agent again")
    assert _seen(tmp_path)[2] == f"agent:{BIN_AGENTS}"

    # Restored after the server restarted: the agent finds `agents` too.
    tmux.restart()
    tmux.run("set-option", "-g", "@agents-command", str(_agent_program(tmp_path)))
    assert "restored" in tmux.agents("restore").stdout
    wait_for(lambda: len(_seen(tmp_path)) == 4, message="the restored agent to start")
    assert _seen(tmp_path)[3] == f"agent:{BIN_AGENTS}"


@pytest.fixture
def up_socket(test_env: dict[str, str]) -> Iterator[str]:
    socket = f"agents-up-{uuid.uuid4().hex[:10]}"
    try:
        yield socket
    finally:
        stop_server(socket, test_env)


def test_panes_of_the_up_server_have_agents_on_path(up_socket: str, repo: Repo, test_env: dict[str, str], tmp_path: Path) -> None:
    (Path(test_env["HOME"]) / ".profile").write_text("export FROM_PROFILE=yes\n")
    started = subprocess.run([str(AGENTS), "-L", up_socket, "up", "-d", str(repo.path)], env=test_env, capture_output=True,
                             text=True, stdin=subprocess.DEVNULL, timeout=60, check=False)
    assert started.returncode == 0, started.stderr
    server = Tmux(socket=up_socket, env=test_env, home=Path(test_env["HOME"]), cwd=repo.path)
    # A real client presses prefix + | (split with the user's login shell).
    client = pexpect.spawn("tmux", ["-L", up_socket, "attach-session", "-t", "project"], env=test_env, dimensions=(40, 160))
    try:
        wait_for(lambda: server.run("list-clients", "-F", "#{client_name}").strip(), message="the client to attach")
        first = server.panes()[0]
        client.send(PREFIX + "|")
        wait_for(lambda: len(server.panes()) == 2, message="prefix + | to split")
    finally:
        client.terminate(force=True)
    for pane in server.panes():
        wait_for(lambda p=pane: server.capture(p).strip(), message="the shell's prompt")
        _type_in(server, pane, f'echo "{pane}:$(command -v agents)" >> {tmp_path}/seen')
    wait_for(lambda: len(_seen(tmp_path)) == 2, message="both shells to answer")
    assert sorted(_seen(tmp_path)) == sorted(f"{p}:{BIN_AGENTS}" for p in server.panes())
    assert first in server.panes()
    # Set up as a login shell: the user's ~/.profile ran.
    _type_in(server, first, f'echo "profile:$FROM_PROFILE" >> {tmp_path}/seen')
    wait_for(lambda: "profile:yes" in _seen(tmp_path), message="the user's ~/.profile to have run")


def test_team_members_have_agents_on_path(tmux: Tmux, repo: Repo, tmp_path: Path) -> None:
    # The team prompts ask members to run `agents note`: each member finds it.
    tmux.run("set-option", "-g", "@agents-command", str(_agent_program(tmp_path)))
    tmux.agents("team", "--task", "Share notes")
    members = len([line for line in tmux.run("list-panes", "-a", "-F", "#{@agent_role}").splitlines() if line])
    assert members >= 2
    wait_for(lambda: len(_seen(tmp_path)) == members, message="every member to note its PATH")
    assert set(_seen(tmp_path)) == {f"agent:{BIN_AGENTS}"}
