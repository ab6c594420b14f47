"""Spawning never makes a pane smaller than the minimum (issue 12, item 4).

A real tmux server with a 200x50 session (conftest), the real `agents`
command line, the stand-in agent. Without the minimum, split-h halved the
same pane each time (49, 24, 11, 5, 2, 1, 1 columns) and the 9th spawn failed.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import AGENTS, Repo, Tmux, first_pane, pane_of, wait_for

Pane = tuple[str, str, int, int, int, str]


def pane_table(tmux: Tmux) -> list[Pane]:
    """(window id, window name, left, width, height, agent name) of every pane."""
    rows = []
    for line in tmux.run("list-panes", "-a", "-F", "#{window_id}\t#{window_name}\t#{pane_left}\t#{pane_width}\t#{pane_height}\t#{@agent_name}").splitlines():
        window, name, left, width, height, agent = line.split("\t")
        rows.append((window, name, int(left), int(width), int(height), agent))
    return rows


def spawn(tmux: Tmux, origin: str, task: str) -> str:
    return tmux.agents("spawn", task, "--pane", origin, "-d").stdout.strip()


def listed(tmux: Tmux) -> set[str]:
    return {agent["name"] for agent in json.loads(tmux.agents("list", "--json").stdout)}


def test_ten_spawns_from_one_pane_keep_every_pane_at_the_minimum(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    tmux.run("set-option", "-g", "@agents-max", "100")
    origin = first_pane(tmux)
    names = [spawn(tmux, origin, f"task {i}") for i in range(10)]
    table = pane_table(tmux)
    too_small = [row for row in table if row[3] < 40 or row[4] < 8]
    assert not too_small, table
    assert listed(tmux) == set(names)
    assert {row[5] for row in table} == {"", *names}
    # 11 panes fit a 200x50 window tiled at 40x8 or more: no window was needed.
    assert len({row[0] for row in table}) == 1, table


def test_the_layout_option_lays_the_window_out(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    tmux.run("set-option", "-g", "@agents-layout", "main-vertical")
    origin = first_pane(tmux)
    # Two plain splits leave 50, 49 and 99 columns; a third would leave 24.
    first, second, third = (spawn(tmux, origin, f"task {i}") for i in range(3))
    window = tmux.display("#{window_id}", origin)
    assert all(row[0] == window for row in pane_table(tmux))
    # main-vertical: the first pane on the left at main-pane-width (80), the agents stacked on its right.
    assert tmux.display("#{pane_left} #{pane_width} #{pane_height}", origin) == "0 80 50"
    for name in (first, second, third):
        left, width, height = map(int, tmux.display("#{pane_left} #{pane_width} #{pane_height}", pane_of(tmux, name)).split())
        assert (left, width) == (81, 119) and height >= 8


def test_a_full_window_sends_the_agent_to_a_new_window_named_after_it(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    tmux.run("set-option", "-g", "@agents-min-pane", "90x20")
    origin = first_pane(tmux)
    window = tmux.display("#{window_id}", origin)
    # 200x50: a split (100|99), then tiled 2 by 2 (99x24 or more); five panes would be 15 rows high.
    names = [spawn(tmux, origin, f"task {i}") for i in range(4)]
    table = pane_table(tmux)
    assert all(width >= 90 and height >= 20 for _, _, _, width, height, _ in table), table
    assert [row[5] for row in table if row[0] == window].count("") == 1
    assert {row[5] for row in table if row[0] == window} == {"", *names[:3]}
    alone = [row for row in table if row[0] != window]
    assert [(row[1], row[5]) for row in alone] == [(names[3], names[3])]
    assert tmux.display("#{session_name}", pane_of(tmux, names[3])) == "main"
    assert listed(tmux) == set(names)


def test_layout_none_opens_a_window_instead_of_laying_out(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    tmux.run("set-option", "-g", "@agents-layout", "none")
    origin = first_pane(tmux)
    names = [spawn(tmux, origin, f"task {i}") for i in range(3)]
    table = pane_table(tmux)
    window = tmux.display("#{window_id}", origin)
    # The two splits stay as they were (50, 49 and 99 columns); the third agent has a window of its own.
    assert sorted(row[3] for row in table if row[0] == window) == [49, 50, 99]
    assert [row[1] for row in table if row[0] != window] == [names[2]]


@pytest.mark.parametrize("option, value, words", [
    ("@agents-min-pane", "wide", ["min_pane", "40x8"]),
    ("@agents-min-pane", "0x8", ["min_pane"]),
    ("@agents-layout", "spiral", ["layout", "tiled"]),
])
def test_a_bad_layout_setting_is_one_line_and_makes_nothing(tmux: Tmux, repo: Repo, standin_agent: Path, option: str, value: str,
                                                             words: list[str]) -> None:
    tmux.run("set-option", "-g", option, value)
    proc = tmux.agents("spawn", "some work", "--pane", first_pane(tmux), "-d", check=False)
    assert proc.returncode != 0 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert option in proc.stderr and all(word in proc.stderr for word in words), proc.stderr
    assert repo.branches() == ["main"] and len(tmux.panes()) == 1


def test_the_placeholder_pane_is_laid_out_before_the_worktree_is_made(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    # The pane opens first and the worktree takes seconds on a large repository: the
    # window must not show a pane below the minimum all that time (splits, then a layout).
    tmux.run("set-option", "-g", "@agents-max", "100")
    origin = first_pane(tmux)
    marker = repo.path.parent / "checking-out"
    hook = repo.path / ".git" / "hooks" / "post-checkout"
    hook.write_text(f'#!/bin/sh\ntouch "{marker}"\nsleep 1.5\n')
    hook.chmod(0o755)
    for i in range(10):
        marker.unlink(missing_ok=True)
        proc = subprocess.Popen([str(AGENTS), "-L", tmux.socket, "spawn", f"task {i}", "--pane", origin, "-d"], env=tmux.env,
                                cwd=tmux.cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(marker.exists, timeout=30, message=f"checkout {i} to start")
            table = pane_table(tmux)
            assert len(table) == i + 2, table
            assert not [row for row in table if row[3] < 40 or row[4] < 8], (i, table)
        finally:
            _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    assert len({row[0] for row in pane_table(tmux)}) == 1
