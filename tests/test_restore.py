"""Agents survive a tmux restart: `agents restore`, `@agents-restore`, `agents restart`, `agents log`."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pexpect

from conftest import PREFIX, ROOT, STANDIN, Repo, Tmux, expect_text, init_repo, read_standin_log, use_quiet_agents, wait_for


def agent_panes(tmux: Tmux) -> dict[str, str]:
    out = tmux.run("list-panes", "-a", "-F", "#{@agent_name}\t#{pane_id}", check=False)
    return {name: pane for name, _, pane in (line.partition("\t") for line in out.splitlines()) if name}


def starts(env: dict[str, str], worktree: Path) -> list[dict]:
    return [e for e in read_standin_log(env) if e["event"] == "start" and e.get("cwd") == str(worktree)]


def registry(env: dict[str, str]) -> dict:
    found = list((Path(env["XDG_STATE_HOME"]) / "agents-tmux" / "repos").glob("*/registry.json"))
    assert len(found) == 1
    return json.loads(found[0].read_text())["agents"]


def spawn_with_a_turn(tmux: Tmux, repo: Repo, task: str) -> tuple[str, Path, str]:
    """Spawn a stand-in agent and let it finish its first turn (so its transcript has a conversation)."""
    name = tmux.agents("spawn", task, "-d").stdout.strip()
    worktree = repo.path.parent / "project.agents" / name
    pane = wait_for(lambda: agent_panes(tmux).get(name), message=f"the pane of {name}")
    wait_for(lambda: tmux.option(pane, "@agent_state") == "working", timeout=30, message=f"{name} working")
    tmux.run("send-keys", "-t", pane, "/done", "Enter")
    wait_for(lambda: tmux.option(pane, "@agent_state") == "idle", timeout=30, message=f"{name} idle")
    return name, worktree, pane


def restart_server(tmux: Tmux, config: Path | None = None) -> None:
    """Kill the test's tmux server and start a new one on the same socket."""
    tmux.restart(config)
    tmux.run("set-option", "-g", "@agents-command", str(STANDIN))


def test_restore_after_the_server_died_resumes_five_agents(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    tmux.run("set-option", "-g", "@agents-max", "10")
    agents = [spawn_with_a_turn(tmux, repo, f"agent number {i}") for i in range(6)]
    # One of them is removed: it must not come back.
    removed_name, removed_wt, _ = agents.pop()
    tmux.agents("rm", removed_name, "--keep-worktree")
    sessions = {name: registry(tmux.env)[name]["session_id"] for name, _, _ in agents}
    assert all(sessions.values())

    restart_server(tmux)
    tmux.run("set-option", "-g", "@agents-max", "10")  # five come back: the default cap (4) would hold one back
    assert agent_panes(tmux) == {}
    out = tmux.agents("restore").stdout
    for name, _, _ in agents:
        assert f"restored {name}: resumed session {sessions[name]}" in out
    assert removed_name not in out

    panes = wait_for(lambda: (p := agent_panes(tmux)) and len(p) == 5 and p, message="five agent panes")
    assert set(panes) == {name for name, _, _ in agents}
    for name, worktree, _ in agents:
        pane = panes[name]
        assert tmux.display("#{pane_current_path}", pane) == str(worktree)
        assert tmux.display("#{window_name}", pane) == name
        # The repository's session: the one the server started in the repository ("main"), now marked as its own.
        assert tmux.display("#{session_name}", pane) == "main"
        assert tmux.display("#{@agents-repo}", pane) == str(repo.path)
        assert tmux.option(pane, "@agent_worktree") == str(worktree)
        assert tmux.option(pane, "@agent_branch") == f"agent/{name}"
        assert tmux.option(pane, "@agent_session_id") == sessions[name]
        resumed = wait_for(lambda w=worktree: len(starts(tmux.env, w)) == 2 and starts(tmux.env, w)[-1], timeout=30,
                           message=f"{name} started again")
        argv = resumed["argv"]
        assert argv[argv.index("--resume") + 1] == sessions[name]
        assert "--session-id" not in argv
        wait_for(lambda p=pane: tmux.option(p, "@agent_state") == "idle", timeout=30, message=f"{name} resumed and idle")
    assert starts(tmux.env, removed_wt) and len(starts(tmux.env, removed_wt)) == 1

    # Idempotent: a second restore finds everything running.
    again = tmux.agents("restore").stdout
    assert "nothing to restore" in again
    assert len(agent_panes(tmux)) == 5


def test_restore_falls_back_to_continue_and_to_a_fresh_start(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    tmux.run("set-option", "-g", "@agents-max", "10")
    name, worktree, pane = spawn_with_a_turn(tmux, repo, "lost transcript")
    session = registry(tmux.env)[name]["session_id"]
    transcript = Path(registry(tmux.env)[name]["transcript"])
    # The session's transcript is gone, another conversation in that folder is there.
    other = transcript.with_name("11111111-2222-4333-8444-555555555555.jsonl")
    transcript.rename(other)
    restart_server(tmux)
    out = tmux.agents("restore").stdout
    assert "continued the newest conversation" in out
    pane = wait_for(lambda: agent_panes(tmux).get(name), message="restored pane")
    start = wait_for(lambda: len(starts(tmux.env, worktree)) == 2 and starts(tmux.env, worktree)[-1], timeout=30, message="restart")
    assert "--continue" in start["argv"] and session not in start["argv"]
    wait_for(lambda: tmux.option(pane, "@agent_session_id") == "11111111-2222-4333-8444-555555555555", timeout=30,
             message="the continued session's id from the hook")

    # No conversation at all: a fresh start with a new session id, no prompt.
    other.unlink()
    restart_server(tmux)
    out = tmux.agents("restore").stdout
    assert "started afresh" in out
    start = wait_for(lambda: len(starts(tmux.env, worktree)) == 3 and starts(tmux.env, worktree)[-1], timeout=30, message="fresh")
    assert "--session-id" in start["argv"] and start["prompt"] is None


def test_restore_reports_a_missing_worktree(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    name = tmux.agents("spawn", "doomed", "-d").stdout.strip()
    worktree = repo.path.parent / "project.agents" / name
    restart_server(tmux)
    subprocess.run(["rm", "-rf", str(worktree)], check=True)
    proc = tmux.agents("restore", check=False)
    assert proc.returncode == 1 and proc.stdout == "" and proc.stderr.count("\n") == 1, proc
    assert proc.stderr.startswith(f"agents restore: not restored {name}") and "worktree" in proc.stderr and "gone" in proc.stderr
    assert agent_panes(tmux) == {}


def test_agents_restore_option_restores_once_per_server_start(tmux: Tmux, repo: Repo, standin_agent: Path, tmp_path: Path) -> None:
    name, worktree, _ = spawn_with_a_turn(tmux, repo, "come back")
    session = registry(tmux.env)[name]["session_id"]
    conf = tmp_path / "tmux.conf"
    conf.write_text(
        f"set -g @agents-command '{STANDIN}'\nset -g default-shell /bin/bash\n"
        f"set -g @agents-restore on\nrun-shell '{ROOT / 'agents.tmux'}'\n"
    )
    restart_server(tmux, conf)
    pane = wait_for(lambda: agent_panes(tmux).get(name), timeout=30, message="the agent restored at server start")
    start = wait_for(lambda: len(starts(tmux.env, worktree)) == 2 and starts(tmux.env, worktree)[-1], timeout=30, message="resumed")
    assert start["argv"][start["argv"].index("--resume") + 1] == session
    # Reloading the plugin does not restore again; a killed agent pane stays gone.
    tmux.run("kill-pane", "-t", pane)
    tmux.load_plugin()
    tmux.load_plugin()
    assert tmux.run("show-options", "-gqv", "@agents-restore-started").strip()
    subprocess.run(["sleep", "2"], check=True)  # time for a restore that must not happen
    assert name not in agent_panes(tmux)


def test_restart_an_exited_agent_in_its_pane(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    name, worktree, pane = spawn_with_a_turn(tmux, repo, "restart me")
    session = tmux.option(pane, "@agent_session_id")
    proc = tmux.agents("restart", name, check=False)
    assert proc.returncode == 1 and "still running" in proc.stderr
    tmux.run("send-keys", "-t", pane, "/exit", "Enter")
    wait_for(lambda: tmux.option(pane, "@agent_state") == "exited", message="exited")
    wait_for(lambda: "agents restart" in tmux.capture(pane), message="the exit message naming agents restart")
    out = tmux.agents("restart", name).stdout
    assert f"resumed session {session}" in out
    start = wait_for(lambda: len(starts(tmux.env, worktree)) == 2 and starts(tmux.env, worktree)[-1], timeout=30, message="restart")
    assert start["argv"][start["argv"].index("--resume") + 1] == session
    assert start["tmux_pane"] == pane
    wait_for(lambda: tmux.option(pane, "@agent_state") == "idle", timeout=30, message="idle again")
    assert agent_panes(tmux)[name] == pane


def test_log_opens_the_transcript_or_the_pane_log(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    tmux.run("set-option", "-g", "@agents-log", "on")
    name, _, pane = spawn_with_a_turn(tmux, repo, "log me")
    path = Path(tmux.agents("log", name, "--path").stdout.strip())
    assert path.name == f"{tmux.option(pane, '@agent_session_id')}.jsonl" and path.is_file()
    assert "log me" in tmux.agents("log", name).stdout
    pane_log = Path(tmux.agents("log", name, "--path", "--pane-log").stdout.strip())
    assert pane_log.name == f"{name}.log" and "agents-tmux" in str(pane_log)
    wait_for(lambda: pane_log.is_file() and "Done: log me" in pane_log.read_text(errors="replace"), timeout=20,
             message="the pane's output in its log")


def test_prune_after_a_server_restart_points_to_restore_and_retires_nothing_restorable(
    tmux: Tmux, repo: Repo, standin_agent: Path
) -> None:
    name, worktree, _ = spawn_with_a_turn(tmux, repo, "keep my conversation")
    restart_server(tmux)
    # Run from another folder with -C: the restore lines it prints work pasted there.
    elsewhere = repo.path.parent
    dry = tmux.agents("prune", "-C", str(repo.path), cwd=elsewhere).stdout
    assert "would remove" not in dry and "would retire" not in dry
    each = re.search(r"`(agents [^`]*restore [^`]*)` resumes", dry)
    summary = re.search(r"run `(agents [^`]*restore[^`]*)`", dry)
    assert each and summary and f"restore {name}" in each.group(1), dry
    tmux.agents("prune", "--yes")
    assert registry(tmux.env)[name]["status"] == "active"
    assert worktree.is_dir() and f"agent/{name}" in repo.branches()
    shell_env = {**tmux.env, "PATH": f"{ROOT / '.bin'}:{tmux.env['PATH']}"}
    for hint in (summary.group(1), each.group(1)):
        pasted = subprocess.run(hint, shell=True, cwd=elsewhere, env=shell_env, capture_output=True, text=True, timeout=60, check=False)
        assert pasted.returncode == 0 and f"restored {name}: resumed session" in pasted.stdout, (hint, pasted)
        restart_server(tmux)


def test_restore_takes_several_names_and_reports_each(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    back, _, _ = spawn_with_a_turn(tmux, repo, "come back")
    parked, _, _ = spawn_with_a_turn(tmux, repo, "stay parked")
    removed, _, _ = spawn_with_a_turn(tmux, repo, "stay removed")
    tmux.agents("park", parked)
    tmux.agents("rm", removed)
    restart_server(tmux)
    out = tmux.agents("restore", back, "no-such-agent", parked, removed, back, check=False)
    # The one that can come back does; every other name gets its own line saying why not.
    assert out.returncode == 1
    assert out.stdout.splitlines() == [line for line in out.stdout.splitlines() if line.startswith(f"restored {back}:")]
    assert len(out.stdout.splitlines()) == 1, out.stdout
    assert set(agent_panes(tmux)) == {back}
    errors = out.stderr.splitlines()
    assert len(errors) == 3, errors
    assert any("'no-such-agent'" in line for line in errors)
    assert any(parked in line and f"agents -L {tmux.socket} unpark {parked}" in line for line in errors), errors
    assert any(removed in line and "removed" in line for line in errors), errors
    # A parked agent alone is not "every active agent is running".
    alone = tmux.agents("restore", parked, check=False)
    assert alone.returncode == 1 and "every active agent is running" not in alone.stdout + alone.stderr
    assert f"agents -L {tmux.socket} unpark {parked}" in alone.stderr


def test_restore_is_held_to_the_cap_most_recently_active_first(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    tmux.run("set-option", "-g", "@agents-max", "10")
    (first, _, pane), (second, _, _), (third, _, _) = (spawn_with_a_turn(tmux, repo, f"capped number {i}") for i in range(3))
    # The oldest agent was at work last (one more turn): activity decides, not creation.
    transcript = Path(registry(tmux.env)[first]["transcript"])
    time.sleep(1.1)  # records count whole seconds
    tmux.run("send-keys", "-t", pane, "one more turn", "Enter")
    wait_for(lambda: tmux.option(pane, "@agent_state") == "working", timeout=30, message=f"{first} working")
    tmux.run("send-keys", "-t", pane, "/done", "Enter")
    wait_for(lambda: transcript.stat().st_mtime > registry(tmux.env)[third]["created"] + 1, timeout=30, message=f"{first}'s turn written")
    wait_for(lambda: tmux.option(pane, "@agent_state") == "idle", timeout=30, message=f"{first} idle")
    restart_server(tmux)
    tmux.run("set-option", "-g", "@agents-max", "2")
    out = tmux.agents("restore", check=False)
    assert out.returncode == 1, out
    assert [line.split(":")[0] for line in out.stdout.splitlines()] == [f"restored {first}", f"restored {third}"], out.stdout
    assert set(agent_panes(tmux)) == {first, third}
    (line,) = out.stderr.splitlines()
    assert line.startswith(f"agents restore: not restored {second} ") and "cap of 2" in line, line
    again = line.split("to bring it back anyway: ", 1)[1]
    assert again == f"agents -L {tmux.socket} restore {second} --force", line
    # Pasted into a shell like the one restore ran in, it brings that agent back past the cap.
    on_path = {**tmux.env, "PATH": f"{ROOT / '.bin'}:{tmux.env['PATH']}"}
    pasted = subprocess.run(again, shell=True, env=on_path, cwd=repo.path, capture_output=True, text=True, timeout=60, check=False)
    assert pasted.returncode == 0 and pasted.stdout.startswith(f"restored {second}:"), pasted
    assert set(agent_panes(tmux)) == {first, second, third}


def test_restore_from_the_menu_asks_before_passing_the_cap(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    tmux.run("set-option", "-g", "@agents-max", "10")
    names = [tmux.agents("spawn", f"menu capped {i}", "-d").stdout.strip() for i in range(3)]
    wait_for(lambda: set(agent_panes(tmux)) == set(names), message="three agents")
    for pane in agent_panes(tmux).values():
        tmux.run("kill-pane", "-t", pane)
    tmux.run("set-option", "-g", "@agents-max", "1")
    client.send(PREFIX)
    client.send("a")
    expect_text(client, "Restore agents")
    client.send("R")
    expect_text(client, "restored 1 agent; 2 held back by the cap (@agents-max). Restore them too? (y/n)")
    assert len(agent_panes(tmux)) == 1
    client.send("y")
    wait_for(lambda: set(agent_panes(tmux)) == set(names), message="the other two after confirming")


def test_restore_all_fills_the_cap_from_the_repository_worked_in_last(tmux: Tmux, repo: Repo, tmp_path: Path) -> None:
    # "aaa" comes first in the state folder; its agent was at work before the one of "zzz".
    older, newer = (use_quiet_agents(tmux, init_repo(tmp_path / name, repo.env, {"a.txt": "a\n"}), cap=10) for name in ("aaa", "zzz"))
    first = tmux.agents("spawn", "older work", "-d", "--dir", str(older.path)).stdout.strip()
    time.sleep(1.1)  # records count whole seconds
    last = tmux.agents("spawn", "newer work", "-d", "--dir", str(newer.path)).stdout.strip()
    for pane in wait_for(lambda: (p := agent_panes(tmux)) and len(p) == 2 and p, message="two agents").values():
        tmux.run("kill-pane", "-t", pane)
    tmux.run("set-option", "-g", "@agents-max", "1")
    out = tmux.agents("restore", "--all", check=False)
    assert out.returncode == 1 and [line.split(":")[0] for line in out.stdout.splitlines()] == [f"restored {last}"], out
    (line,) = out.stderr.splitlines()
    # Pasted from here (another repository), the line names the agent's own.
    again = line.split("to bring it back anyway: ", 1)[1]
    assert again == f"agents -L {tmux.socket} restore {first} --repo {older.path} --force", line
    on_path = {**tmux.env, "PATH": f"{ROOT / '.bin'}:{tmux.env['PATH']}"}
    pasted = subprocess.run(again, shell=True, env=on_path, cwd=repo.path, capture_output=True, text=True, timeout=60, check=False)
    assert pasted.returncode == 0 and pasted.stdout.startswith(f"restored {first}:"), pasted
    assert set(agent_panes(tmux)) == {first, last}
