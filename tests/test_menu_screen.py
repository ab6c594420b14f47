"""The agents menu and the picker as a user sees them (issue 12, point 5).

The client is real: `tmux attach` runs in a pane of a second, outer tmux
server, whose capture-pane renders what that client draws, menus included.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Repo, Tmux, stop_server, wait_for

PREFIX = "C-b"


class Screen:
    """A real client of the test server, attached inside an outer tmux pane of ``size``."""

    def __init__(self, tmux: Tmux, size: tuple[int, int] = (160, 45)) -> None:
        self.outer = f"agents-outer-{uuid.uuid4().hex[:8]}"
        self.env = tmux.env
        env = {k: v for k, v in tmux.env.items() if not k.startswith("TMUX")}
        subprocess.run(["tmux", "-L", self.outer, "-f", "/dev/null", "new-session", "-d", "-x", str(size[0]), "-y", str(size[1]),
                        "tmux", "-L", tmux.socket, "attach-session", "-t", "main"], env=env, check=True)
        subprocess.run(["tmux", "-L", self.outer, "set-option", "-g", "status", "off"], env=env, check=True)
        wait_for(lambda: tmux.run("list-clients", "-F", "#{client_name}").strip(), message="the client to attach")

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "-L", self.outer, "send-keys", *keys], env=self.env, check=True)

    def text(self) -> str:
        return subprocess.run(["tmux", "-L", self.outer, "capture-pane", "-p"], env=self.env, capture_output=True, text=True,
                              check=True).stdout

    def shows(self, *words: str, timeout: float = 15) -> str:
        def drawn() -> str:
            text = self.text()
            return text if all(word in text for word in words) else ""

        return str(wait_for(drawn, timeout=timeout, message=f"{words} on the client's screen"))


@pytest.fixture
def screen(tmux: Tmux) -> Iterator[Screen]:
    tmux.load_plugin()
    view = Screen(tmux)
    try:
        yield view
    finally:
        stop_server(view.outer, tmux.env)


TASK = "fix the login redirect flow"


def _team(tmux: Tmux) -> dict[str, str]:
    """Three agents named like a team's members (<task>-<role>), with their roles."""
    panes = {}
    for role in ("planner", "coder", "reviewer"):
        name = tmux.agents("spawn", f"{TASK} {role}", "-d", "--target", "window").stdout.strip()
        pane = next(line.split()[0] for line in tmux.run("list-panes", "-a", "-F", "#{pane_id} #{@agent_name}").splitlines()
                    if line.endswith(" " + name))
        tmux.run("set-option", "-p", "-t", pane, "@agent_role", role)
        panes[role] = pane
    return panes


def test_menu_draws_one_separator_one_ellipsis_and_every_role(tmux: Tmux, repo: Repo, screen: Screen) -> None:
    tmux.run("set-option", "-g", "@agents-command", "sleep")
    panes = _team(tmux)
    # Opened on a member's pane: its actions entry names it.
    tmux.run("select-window", "-t", panes["coder"])
    screen.keys(PREFIX, "a")
    text = screen.shows("Spawn agent", "Actions on")
    menu = [line for line in text.splitlines() if "│" in line or "├" in line]
    # The roles tell the three members apart.
    for role in ("planner", "coder", "reviewer"):
        assert any(f"-{role}" in line and "agent/" in line for line in menu), (role, text)
    # One separator between the agents and the commands (and one between them: none elsewhere).
    assert sum(1 for line in menu if "├" in line) == 1, text
    assert "……" not in text and "… …" not in text, text
    assert "-coder…" in next(line for line in menu if "Actions on" in line), text
    screen.keys("Escape")


def test_picker_shows_agents_only_with_name_state_and_role(tmux: Tmux, repo: Repo, screen: Screen) -> None:
    tmux.run("set-option", "-g", "@agents-command", "sleep")
    panes = _team(tmux)
    tmux.run("new-session", "-d", "-s", "unrelated", "-c", str(repo.path))
    screen.keys(PREFIX, "a")
    screen.shows("Pick with live preview")
    screen.keys("p")
    text = screen.shows("role planner", "role coder", "role reviewer")
    assert "unrelated" not in text  # sessions without agents are filtered out
    assert f"{TASK.replace(' ', '-')}-coder" in text
    # Choosing one (its number in the tree: 0 is the session) jumps to it.
    wait_for(lambda: tmux.run("list-panes", "-a", "-F", "#{pane_id} #{pane_mode}").count("tree-mode") == 1, message="the tree mode")
    screen.keys("1")
    wait_for(lambda: tmux.run("list-clients", "-F", "#{pane_id}").strip() in panes.values(), message="the jump to a chosen agent")
