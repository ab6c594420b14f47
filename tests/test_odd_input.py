"""Odd input never makes an agent invisible, and never reaches tmux as a format or a command.

Tasks may hold any character (newlines from ``"$(cat task.md)"``, control
characters, tmux formats); registry names may be edited by hand. Every
command must still see every agent, and nothing typed may run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Repo, Tmux, use_quiet_agents, wait_for


#: Tasks that broke listing, by what is odd about them.
ODD_TASKS = {
    "newline": "first line of the task\nsecond line\n\nlast line",
    "unit-separator": "split\x1fhere\x1fand here",
    "tab-and-cr": "tab\there\rcarriage return",
    "formats": "#{pane_id} #(touch pwned-task) ##{session_name}",
    "semicolon": "stop at the end;",
    "dash": "-leading dash --help",
    "wide": "修复登录 🎉 émoji",
    "long": "long " + "x\x1fy\n" * 900,
}


@pytest.fixture
def quiet(tmux: Tmux, repo: Repo) -> Repo:
    """A repository whose agents are `sleep`, with a high cap."""
    return use_quiet_agents(tmux, repo, ignored="")


def panes_named(tmux: Tmux, name: str) -> list[str]:
    """Panes whose agent is ``name`` (read one pane at a time: no separator to trust)."""
    return [p for p in tmux.panes() if tmux.option(p, "@agent_name") == name]


def test_every_command_sees_agents_whose_task_holds_any_text(tmux: Tmux, quiet: Repo) -> None:
    names = {}
    for label, task in ODD_TASKS.items():
        names[label] = tmux.agents("spawn", "-d", "-T", "window", "--", task).stdout.strip()
    assert all(names.values()) and len(set(names.values())) == len(ODD_TASKS)

    listed = {agent["name"]: agent for agent in json.loads(tmux.agents("list", "--json").stdout)}
    for label, task in ODD_TASKS.items():
        assert names[label] in listed, f"{label}: {sorted(listed)}"
        assert listed[names[label]]["task"] == task, label
        assert listed[names[label]]["worktree"] == str(quiet.path.parent / "project.agents" / names[label])
    table = tmux.agents("list").stdout
    assert all(name in table for name in names.values())

    # The cap counts every one of them.
    tmux.run("set-option", "-g", "@agents-max", str(len(ODD_TASKS)))
    proc = tmux.agents("spawn", "-d", "-T", "window", "one more", check=False)
    assert proc.returncode == 1 and f"{len(ODD_TASKS)} agents are running" in proc.stderr
    tmux.run("set-option", "-g", "@agents-max", "100")

    # send and broadcast find them.
    tmux.agents("send", names["newline"], "hello")
    sent = tmux.agents("broadcast", "hi all").stdout
    assert all(name in sent for name in names.values()), sent

    # restore sees them running: no second agent in the same worktree.
    tmux.agents("restore", names["newline"], names["unit-separator"], check=False)
    assert len(panes_named(tmux, names["newline"])) == 1
    assert len(panes_named(tmux, names["unit-separator"])) == 1

    # prune sees them running: their worktrees stay.
    tmux.agents("prune", "--yes", check=False)
    for name in names.values():
        assert (quiet.path.parent / "project.agents" / name).is_dir(), name

    # rm takes the pane with the worktree: no agent left running in a deleted folder.
    tmux.agents("rm", names["unit-separator"])
    assert not (quiet.path.parent / "project.agents" / names["unit-separator"]).exists()
    wait_for(lambda: not panes_named(tmux, names["unit-separator"]), message="the removed agent's pane to close")
    for path in (quiet.path, Path(tmux.env["HOME"])):
        assert not list(path.rglob("pwned*")), path


def registry_file(tmux: Tmux) -> Path:
    (path,) = (Path(tmux.env["XDG_STATE_HOME"]) / "agents-tmux" / "repos").glob("*/registry.json")
    return path


def test_names_from_the_registry_reach_tmux_as_text_never_as_formats(tmux: Tmux, quiet: Repo, tmp_path: Path) -> None:
    name = tmux.agents("spawn", "-d", "victim").stdout.strip()
    wait_for(lambda: panes_named(tmux, name), message="the agent's pane")
    tmux.run("kill-pane", "-t", panes_named(tmux, name)[0])
    # A hand-edited (or hostile) registry: the name runs a command if tmux expands it.
    pwned = tmp_path / "pwned"
    evil = f"evil #(touch {pwned}) #{{pane_id}} ##"
    path = registry_file(tmux)
    data = json.loads(path.read_text())
    entry = data["agents"].pop(name)
    data["agents"][evil] = {**entry, "name": evil}
    path.write_text(json.dumps(data))

    out = tmux.agents("restore").stdout
    assert "restored" in out, out
    (pane,) = wait_for(lambda: panes_named(tmux, evil), message="the restored pane")
    assert tmux.display("#{window_name}", pane) == evil
    assert tmux.display("#{pane_title}", pane) == evil
    # A format job would have run by the time tmux answers a few more commands.
    for _ in range(5):
        tmux.display("#{window_name}", pane)
    assert not pwned.exists()


def edit_registry(tmux: Tmux, change: dict[str, dict]) -> None:
    """Set fields on registry entries by hand (``change``: name -> fields)."""
    path = registry_file(tmux)
    data = json.loads(path.read_text())
    for name, fields in change.items():
        data["agents"][name].update(fields)
    path.write_text(json.dumps(data))


def test_one_bad_registry_entry_is_reported_and_the_others_restored(tmux: Tmux, quiet: Repo) -> None:
    names = [tmux.agents("spawn", "-d", "-T", "window", f"agent {i}").stdout.strip() for i in range(3)]
    for name in names:
        tmux.run("kill-pane", "-t", wait_for(lambda: panes_named(tmux, name))[0])
    edit_registry(tmux, {names[0]: {"created": "yesterday"}, names[1]: {"worktree": 42}})
    # Another repository's registry is damaged beyond reading.
    damaged = registry_file(tmux).parent.parent / "other-0123456789ab" / "registry.json"
    ours = registry_file(tmux)
    damaged.parent.mkdir()
    damaged.write_text('{"version": 1, "agents": {')

    proc = tmux.agents("restore", "--all", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert [line.split(":")[0] for line in proc.stdout.splitlines()] == [f"restored {names[2]}"], proc.stdout
    # What was not restored is a refusal: on stderr, one line each.
    lines = proc.stderr.splitlines()
    assert any(line.startswith(f"agents restore: not restored {names[0]}") and "created is not a number" in line for line in lines), lines
    assert any(line.startswith(f"agents restore: not restored {names[1]}") and "worktree is not a string" in line for line in lines), lines
    assert any(str(damaged) in line and "damaged" in line for line in lines), lines
    assert len(lines) == 3, lines
    assert len(panes_named(tmux, names[2])) == 1 and not panes_named(tmux, names[0])
    # The bad entries are still there, untouched, for the user to fix.
    agents = json.loads(ours.read_text())["agents"]
    assert agents[names[0]]["created"] == "yesterday" and agents[names[1]]["worktree"] == 42


@pytest.mark.parametrize("bad_id", ["--dangerously-skip-permissions", "../../x"])
def test_a_recorded_session_id_that_is_not_one_never_reaches_argv(tmux: Tmux, repo: Repo, standin_agent: Path, bad_id: str) -> None:
    name = tmux.agents("spawn", "-d", "resumable").stdout.strip()
    pane = wait_for(lambda: panes_named(tmux, name))[0]
    wait_for(lambda: tmux.option(pane, "@agent_state") in ("working", "idle"), timeout=30, message="the agent running")
    # The hook records the session after the state: wait for it, so it does not undo the edit below.
    wait_for(lambda: json.loads(registry_file(tmux).read_text())["agents"][name].get("session_at"), timeout=30,
             message="the session recorded")
    tmux.run("kill-pane", "-t", pane)
    edit_registry(tmux, {name: {"session_id": bad_id}})

    proc = tmux.agents("restore", check=False)
    assert proc.returncode == 1 and proc.stdout == "" and proc.stderr.count("\n") == 1, proc
    assert f"not restored {name}" in proc.stderr and "not a claude session id" in proc.stderr, proc
    assert not panes_named(tmux, name)
    from conftest import read_standin_log

    assert not any(bad_id in entry.get("argv", []) for entry in read_standin_log(tmux.env) if entry["event"] == "start")


@pytest.mark.parametrize("planted", ["open folder", "symlink"])
def test_the_wake_fifo_folder_is_private_or_not_used(tmux: Tmux, repo: Repo, standin_agent: Path, tmp_path: Path, planted: str) -> None:
    # No XDG_RUNTIME_DIR: the FIFO folder goes under TMPDIR, where anyone may have made it first.
    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    folder = shared / "agents-tmux-0"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    if planted == "symlink":
        folder.symlink_to(elsewhere)
    else:
        folder.mkdir()
        folder.chmod(0o777)
    tmux.run("set-environment", "-g", "-u", "XDG_RUNTIME_DIR")
    tmux.run("set-environment", "-g", "TMPDIR", str(shared))
    name = tmux.agents("spawn", "-d", "watched").stdout.strip()
    pane = wait_for(lambda: panes_named(tmux, name))[0]
    # The agent runs (its hooks set its state) but no FIFO was made in a folder others control.
    wait_for(lambda: tmux.option(pane, "@agent_state") in ("working", "idle"), timeout=30, message="the agent running")
    # Nothing (no FIFO, no lock) was made in that folder, or where its symlink points.
    assert not list(folder.iterdir()) and not list(elsewhere.iterdir())
