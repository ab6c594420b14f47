"""`agents park` / `agents unpark`: an agent stopped with its work saved and its record kept, then brought back.

Real git and tmux; the agents are `sleep` (test_lifecycle's quiet kind). The
resumed conversation with the real Claude Code is in test_claude_park.py.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Repo, Tmux, agent_panes, stop_server, wait_for
from test_lifecycle import quiet, registry_entry, spawn  # noqa: F401 - fixture


def test_park_saves_the_work_frees_pane_and_worktree_and_unpark_brings_it_back(tmux: Tmux, quiet: Repo) -> None:
    name, worktree = spawn(tmux, "Park me")
    session_id = registry_entry(tmux, name)["session_id"]
    (worktree / "app.py").write_text("print('changed')\n")
    (worktree / "new.txt").write_text("untracked work\n")
    (worktree / "debug.log").write_text("ignored\n")

    out = tmux.agents("park", name).stdout
    assert f"parked {name}: work saved on branch agent/{name}" in out and "debug.log" in out
    archive = registry_entry(tmux, name)["archive"]
    assert archive in out and Path(archive).exists()
    assert name not in agent_panes(tmux)
    assert not worktree.exists()
    assert quiet.git("show", f"agent/{name}:app.py") == "print('changed')\n"
    assert quiet.git("show", f"agent/{name}:new.txt") == "untracked work\n"
    entry = registry_entry(tmux, name)
    assert entry["status"] == "parked" and entry["session_id"] == session_id
    # Listed only with --all, without a pane.
    assert name not in tmux.agents("list").stdout
    assert [line for line in tmux.agents("list", "--all").stdout.splitlines() if line.startswith(name)][0].split()[1] == "parked"
    rows = [a for a in json.loads(tmux.agents("list", "--all", "--json").stdout) if a["name"] == name]
    assert rows and rows[0]["state"] == "parked" and rows[0]["pane_id"] == ""
    # Parking again, or unparking what runs, is refused in one line.
    again = tmux.agents("park", name, check=False)
    assert again.returncode == 1 and "parked already" in again.stderr

    # Not counted against the cap: with a cap of 1 another agent starts without --force...
    tmux.run("set-option", "-g", "@agents-max", "1")
    other, _ = spawn(tmux, "Another")
    busy = tmux.agents("unpark", other, check=False)
    assert busy.returncode == 1 and "not parked" in busy.stderr
    # ...and unparking is held to the cap, changing nothing.
    capped = tmux.agents("unpark", name, check=False)
    assert capped.returncode == 1 and "cap" in capped.stderr and not worktree.exists()
    assert registry_entry(tmux, name)["status"] == "parked"

    out = tmux.agents("unpark", name, "--force").stdout
    assert f"unparked {name}" in out
    assert (worktree / "new.txt").read_text() == "untracked work\n"
    assert quiet.git("symbolic-ref", "--short", "HEAD", cwd=worktree).strip() == f"agent/{name}"
    pane = wait_for(lambda: agent_panes(tmux).get(name), message="the unparked agent's pane")
    assert tmux.display("#{pane_current_path}", pane) == str(worktree)
    assert tmux.option(pane, "@agent_branch") == f"agent/{name}"
    assert registry_entry(tmux, name)["status"] == "active"
    assert name in tmux.agents("list").stdout


def test_unpark_refuses_when_something_took_the_worktree_path(tmux: Tmux, quiet: Repo) -> None:
    name, worktree = spawn(tmux, "Squatted")
    tmux.agents("park", name)
    worktree.mkdir()
    (worktree / "mine.txt").write_text("someone else's\n")
    proc = tmux.agents("unpark", name, check=False)
    assert proc.returncode == 1 and "exists already" in proc.stderr and "Traceback" not in proc.stderr
    assert (worktree / "mine.txt").read_text() == "someone else's\n"
    assert registry_entry(tmux, name)["status"] == "parked"
    assert name not in agent_panes(tmux)


def test_unpark_refuses_when_the_branch_is_gone(tmux: Tmux, quiet: Repo) -> None:
    name, worktree = spawn(tmux, "Branch gone")
    tmux.agents("park", name)
    quiet.git("branch", "-D", f"agent/{name}")
    proc = tmux.agents("unpark", name, check=False)
    assert proc.returncode == 1 and "no longer exists" in proc.stderr
    assert not worktree.exists() and registry_entry(tmux, name)["status"] == "parked"


def test_list_all_shows_the_parked_agents_with_no_tmux_server(tmux: Tmux, quiet: Repo) -> None:
    name, _ = spawn(tmux, "Parked while tmux is down")
    tmux.agents("park", name)
    spawn(tmux, "Running")  # live: it went with the server, and is not made up from its record
    stop_server(tmux.socket, tmux.env)
    table = tmux.agents("list", "--all", check=False)
    assert table.returncode == 0, table.stderr
    assert [line.split()[:2] for line in table.stdout.splitlines()[1:]] == [[name, "parked"]], table.stdout
    listed = json.loads(tmux.agents("list", "--all", "--json").stdout)
    assert [(a["name"], a["state"], a["pane_id"]) for a in listed] == [(name, "parked", "")]
    # Without --all the live agents are asked for: no server is one line and exit status 1.
    plain = tmux.agents("list", check=False)
    assert plain.returncode == 1 and plain.stderr.count("\n") == 1 and "no tmux server" in plain.stderr


def test_park_unpark_and_restart_take_several_names_and_report_each(tmux: Tmux, quiet: Repo) -> None:
    first, _ = spawn(tmux, "First one")
    second, _ = spawn(tmux, "Second one")
    out = tmux.agents("park", first, "no-such-agent", second, first, check=False)
    # Each known one is parked with its own line; the unknown one is a refusal on stderr; exit status 1.
    assert out.returncode == 1
    assert [line.split(":")[0] for line in out.stdout.splitlines()] == [f"parked {first}", f"parked {second}"], out.stdout
    assert out.stderr.splitlines() == [line for line in out.stderr.splitlines() if "'no-such-agent'" in line] and out.stderr.strip()
    assert {registry_entry(tmux, n)["status"] for n in (first, second)} == {"parked"}

    back = tmux.agents("unpark", first, second)
    assert [line.split(":")[0] for line in back.stdout.splitlines()] == [f"unparked {first}", f"unparked {second}"], back.stdout
    wait_for(lambda: {first, second} <= set(agent_panes(tmux)), message="both back")
    still = tmux.agents("restart", first, second, check=False)
    assert still.returncode == 1 and len(still.stderr.splitlines()) == 2 and "still running" in still.stderr, still
    again = tmux.agents("restart", first, second, "--force")
    assert [line.split(":")[0] for line in again.stdout.splitlines()] == [f"restarted {first}", f"restarted {second}"], again.stdout
    one = tmux.agents("restart", "no-such-agent", check=False)
    assert one.returncode == 1 and one.stderr.count("\n") == 1 and "'no-such-agent'" in one.stderr
