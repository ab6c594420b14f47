"""One screen watcher per tmux server, whatever the number of agents (issue 11 item 5).

It starts with the first agent that needs the screen, follows agents as they
come and go, leaves when the last one goes or its server dies, and a new
server (same socket, after a restart) gets a watcher of its own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, Repo, Tmux, wait_for

WATCH_PY = ROOT / "python" / "src" / "agents_tmux" / "watch.py"


def watchers() -> dict[int, str]:
    """Every shared watcher process on the machine: pid -> the $TMUX it serves."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            if not any(arg.endswith(b"watch.py") for arg in cmdline) or b"--server" not in cmdline:
                continue
            env = dict(item.split(b"=", 1) for item in Path(f"/proc/{entry}/environ").read_bytes().split(b"\0") if b"=" in item)
        except OSError:
            continue
        found[int(entry)] = env.get(b"TMUX", b"").decode()
    return found


def serving(tmux: Tmux) -> list[int]:
    """The watchers of this test's server as it runs now (its socket and its process id)."""
    prefix = f"{tmux.display('#{socket_path}')},{tmux.display('#{pid}')},"
    return [pid for pid, env in watchers().items() if env.startswith(prefix)]


def of_socket(tmux: Tmux, socket: str) -> list[int]:
    return [pid for pid, env in watchers().items() if env.startswith(socket + ",")]


def test_one_watcher_serves_every_agent_and_leaves_with_them(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    tmux.run("set-option", "-g", "@agents-max", "10")
    names = [tmux.agents("spawn", "-d", "-T", "window", f"agent {i}").stdout.strip() for i in range(3)]
    panes = {}
    for name in names:
        panes[name] = wait_for(lambda: next((p for p in tmux.panes() if tmux.option(p, "@agent_name") == name), None),
                               message=f"the pane of {name}")
        wait_for(lambda: tmux.option(panes[name], "@agent_watch") == "claude", timeout=30, message=f"{name} watched")
    # (Each agent's wrapper starts one; all but one leave at once.)
    (first,) = wait_for(lambda: len(w := serving(tmux)) == 1 and w, timeout=20, message="one watcher for the server")

    # Agents come and go: the same watcher follows them.
    tmux.run("kill-pane", "-t", panes[names[0]])
    more = tmux.agents("spawn", "-d", "-T", "window", "agent 3").stdout.strip()
    wait_for(lambda: any(tmux.option(p, "@agent_name") == more and tmux.option(p, "@agent_watch") for p in tmux.panes()),
             timeout=30, message="the new agent watched")
    wait_for(lambda: serving(tmux) == [first], timeout=20, message="the same single watcher")

    # The server dies: its watcher goes with it; the new server on the same socket gets its own.
    socket = tmux.display("#{socket_path}")
    tmux.restart()
    tmux.run("set-option", "-g", "@agents-command", str(standin_agent))
    wait_for(lambda: first not in watchers(), timeout=60, message="the old server's watcher to leave")
    tmux.agents("restore")
    (second,) = wait_for(lambda: len(w := of_socket(tmux, socket)) == 1 and w, timeout=30, message="one watcher for the new server")

    # The last agent goes: so does the watcher.
    for pane in tmux.panes():
        if tmux.option(pane, "@agent_name"):
            tmux.run("kill-pane", "-t", pane)
    wait_for(lambda: not watchers().get(second), timeout=60, message="the watcher to leave with the last agent")


def test_one_tmux_call_reads_every_due_screen(tmux: Tmux) -> None:
    from agents_tmux import watch

    panes = []
    for i in range(6):
        pane = tmux.run("new-window", "-d", "-P", "-F", "#{pane_id}", "--", "sh", "-c", f"echo screen-{i}; exec sleep 600").strip()
        tmux.run("set-option", "-p", "-t", pane, "@agent_state", "working")
        panes.append(pane)
    wait_for(lambda: all(f"screen-{i}" in tmux.capture(p) for i, p in enumerate(panes)), message="the screens drawn")
    server = watch.ServerPanes(tmux.display("#{socket_path}"), tmux.display("#{pid}"))
    seen = server.screens(panes)
    assert sorted(seen) == sorted(panes)
    for i, pane in enumerate(panes):
        assert seen[pane][0] == "working" and f"screen-{i}" in seen[pane][1]
    # A pane that went is left out; the others before it are still read.
    tmux.run("kill-pane", "-t", panes[3])
    assert set(server.screens(panes)) >= set(panes[:3])


@pytest.mark.parametrize("watcher", ["shared", "per-pane"])
def test_a_state_read_before_the_agent_ended_is_not_written_over_exited(tmux: Tmux, watcher: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The watcher read the screen (the agent still running), then the agent
    # ended: run-agent unmarked the pane and set exited. The state the watcher
    # decided on must not land over exited, or the pane shows it for good.
    from agents_tmux import watch

    pane = tmux.run("new-window", "-d", "-P", "-F", "#{pane_id}", "--", "sleep", "600").strip()
    tmux.run("set-option", "-p", "-t", pane, "@agent_state", "starting")
    tmux.run("set-option", "-p", "-t", pane, watch.WATCH_OPTION, "none")
    server: watch.TmuxCalls
    if watcher == "shared":
        server = watch.ServerPanes(tmux.display("#{socket_path}"), tmux.display("#{pid}"))
    else:
        monkeypatch.setenv("TMUX", f"{tmux.display('#{socket_path}')},{tmux.display('#{pid}')},0")  # as in its pane
        server = watch.Pane(pane)
    server.set_state(pane, "starting", "working")  # still watched: written
    assert tmux.option(pane, "@agent_state") == "working"
    tmux.run("set-option", "-pu", "-t", pane, watch.WATCH_OPTION)  # run-agent's stop_watching, then finish
    tmux.run("set-option", "-p", "-t", pane, "@agent_state", "exited")
    server.set_state(pane, "working", "idle")
    assert tmux.option(pane, "@agent_state") == "exited"


def test_the_per_pane_watcher_writes_a_state_only_while_the_pane_is_watched(tmux: Tmux, tmp_path: Path) -> None:
    # `watch.py PANE FIFO` (the benchmark's baseline) writes the way the shared watcher does.
    pane = tmux.run("new-window", "-d", "-P", "-F", "#{pane_id}", "--", "sh", "-c", "echo READY; exec sleep 600").strip()
    wait_for(lambda: "READY" in tmux.capture(pane), message="the screen drawn")
    tmux.run("set-option", "-p", "-t", pane, "@agent_state", "working", ";", "set-option", "-p", "-t", pane, "@agent_watch", "none")
    fifo = tmp_path / "wake"
    os.mkfifo(fifo, 0o600)
    env = {**tmux.env, "TMUX": f"{tmux.display('#{socket_path}')},{tmux.display('#{pid}')},0",
           "AGENTS_TMUX_SCREEN": json.dumps({"idle": ["^READY$"]}), "AGENTS_TMUX_HOOKS": "none"}
    proc = subprocess.Popen([sys.executable, "-I", "-S", str(WATCH_PY), pane, str(fifo)], env=env, stdin=subprocess.DEVNULL)
    try:
        wait_for(lambda: tmux.option(pane, "@agent_state") == "idle", timeout=20, message="idle read off the screen")
        # No longer watched (the agent ended): what it reads (idle, once a second) is not written.
        tmux.run("set-option", "-pu", "-t", pane, "@agent_watch", ";", "set-option", "-p", "-t", pane, "@agent_state", "working")
        time.sleep(4)
        assert tmux.option(pane, "@agent_state") == "working" and proc.poll() is None
        # Watched again: the same reading lands.
        tmux.run("set-option", "-p", "-t", pane, "@agent_watch", "none")
        wait_for(lambda: tmux.option(pane, "@agent_state") == "idle", timeout=20, message="idle written again")
    finally:
        proc.kill()
        proc.wait()


def test_no_watcher_while_every_agent_is_idle_and_the_next_prompt_brings_it_back(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    name = tmux.agents("spawn", "-d", "quiet one").stdout.strip()
    pane = wait_for(lambda: next((p for p in tmux.panes() if tmux.option(p, "@agent_name") == name), None), message="its pane")
    wait_for(lambda: tmux.option(pane, "@agent_state") == "working", timeout=30, message="working on its task")
    wait_for(lambda: len(serving(tmux)) == 1, timeout=20, message="a watcher while it works")
    tmux.run("send-keys", "-t", pane, "/done", "Enter")
    wait_for(lambda: tmux.option(pane, "@agent_state") == "idle", timeout=30, message="idle")
    # Hooks tell everything while it is idle: no process is left watching.
    wait_for(lambda: not serving(tmux), timeout=30, message="the watcher to leave")
    # A new prompt (its UserPromptSubmit hook) brings a watcher back, and the screen is read again.
    tmux.run("send-keys", "-t", pane, "another thing", "Enter")
    wait_for(lambda: tmux.option(pane, "@agent_state") == "working", timeout=30, message="working again")
    wait_for(lambda: len(serving(tmux)) == 1, timeout=20, message="the watcher back")
    tmux.run("send-keys", "-t", pane, "/esc", "Enter")  # the stand-in's Esc: no hook fires
    wait_for(lambda: tmux.option(pane, "@agent_state") == "idle", timeout=30, message="Esc read off the screen: idle")



def test_a_watcher_leaves_no_files_behind_even_when_killed(tmux: Tmux, tmp_path: Path) -> None:
    # Its lock file and FIFO go as it leaves; those of one killed with SIGKILL go with the next watcher.
    folder = tmp_path / "watch-run"
    folder.mkdir(mode=0o700)
    pane = tmux.run("new-window", "-d", "-P", "-F", "#{pane_id}", "--", "sleep", "600").strip()

    def files() -> list[str]:
        return sorted(name for name in os.listdir(folder) if name.startswith("watch."))

    def launch() -> subprocess.Popen[bytes]:
        """A watcher of the server as it runs now, started as run-agent starts it."""
        env = {**tmux.env, "TMUX": f"{tmux.display('#{socket_path}')},{tmux.display('#{pid}')},0"}
        return subprocess.Popen([sys.executable, "-I", "-S", str(WATCH_PY), "--server", str(folder)], env=env, stdin=subprocess.DEVNULL)

    def held(proc: subprocess.Popen[bytes]) -> list[str]:
        """The files of ``folder`` that ``proc`` has open."""
        found = set()
        for fd in os.listdir(f"/proc/{proc.pid}/fd"):
            try:
                target = os.readlink(f"/proc/{proc.pid}/fd/{fd}")
            except OSError:
                continue
            if os.path.dirname(target) == str(folder):
                found.add(os.path.basename(target))
        return sorted(found)

    def start() -> tuple[subprocess.Popen[bytes], list[str]]:
        """A watcher serving a pane that needs its screen read, and the files it serves with."""
        tmux.run("set-option", "-p", "-t", pane, "@agent_state", "working", ";", "set-option", "-p", "-t", pane, "@agent_watch", "none")
        proc = launch()
        pid = tmux.display("#{pid}")
        own = [f"watch.{pid}.fifo", f"watch.{pid}.lock"]
        wait_for(lambda: held(proc) == own, timeout=20, message="the watcher serving with its lock and FIFO")
        return proc, own

    def leave(proc: subprocess.Popen[bytes]) -> None:
        tmux.run("set-option", "-pu", "-t", pane, "@agent_watch")  # run-agent's stop_watching: nothing left to watch
        assert proc.wait(timeout=30) == 0

    watcher, own = start()
    # A second one for the same server finds it serving and leaves, touching nothing.
    assert launch().wait(timeout=30) == 0
    assert files() == own and watcher.poll() is None
    leave(watcher)
    assert files() == []

    # Killed: nothing of it removes its files; the next watcher of the server takes them over and removes them.
    watcher, own = start()
    watcher.send_signal(signal.SIGKILL)
    watcher.wait()
    assert files() == own
    watcher, _ = start()
    leave(watcher)
    assert files() == []

    # Killed, and its server gone: a watcher of the next server removes them.
    watcher, stale = start()
    watcher.send_signal(signal.SIGKILL)
    watcher.wait()
    tmux.restart()
    pane = tmux.run("new-window", "-d", "-P", "-F", "#{pane_id}", "--", "sleep", "600").strip()
    tmux.run("set-option", "-p", "-t", pane, "@agent_state", "working", ";", "set-option", "-p", "-t", pane, "@agent_watch", "none")
    watcher = launch()
    pid = tmux.display("#{pid}")
    wait_for(lambda: held(watcher) == files() == [f"watch.{pid}.fifo", f"watch.{pid}.lock"], timeout=20,
             message=f"the new watcher's files only ({stale} removed)")
    # A plain kill (SIGTERM) is a leave too.
    watcher.send_signal(signal.SIGTERM)
    assert watcher.wait(timeout=30) == 0
    assert files() == []


def test_removing_the_lock_file_as_it_leaves_never_lets_two_watchers_hold_it(tmp_path: Path) -> None:
    # One that waited on the file its holder removed must not count as holding the lock while
    # another locks the new file at that path: each round, exactly one holder.
    import threading

    from agents_tmux import watch

    base = str(tmp_path / "watch.1")
    holders: list[int] = []
    most = [0]
    rounds = [0]
    guard = threading.Lock()

    def contend() -> None:
        for _ in range(60):
            fd = watch.take_lock(base + ".lock", 30.0)
            assert fd is not None
            with guard:
                holders.append(fd)
                most[0] = max(most[0], len(holders))
                rounds[0] += 1
            threading.Event().wait(0.001)
            with guard:
                holders.remove(fd)
            watch.release(fd, base)

    threads = [threading.Thread(target=contend) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert rounds[0] == 240 and most[0] == 1
    assert not os.path.exists(base + ".lock")
