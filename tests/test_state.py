"""Agent state end to end with the stand-in Claude: hooks, watcher, status line, window icon, jump target.

Each test spawns agents through the real CLI on a private tmux server with the
plugin loaded, drives the stand-in through its screens (send-keys), and checks
at every step what the user would see: ``@agent_state``, the rendered status
segment, the window list's icon and the agent ``agents jump`` would pick.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pexpect
import pytest
from conftest import PLAIN_AGENT, Repo, Tmux, first_pane, read_standin_log, wait_for

ICONS = {"starting": "◌", "working": "⚙", "waiting": "⏳", "idle": "✓", "exited": "✗"}


@pytest.fixture
def plugin(tmux: Tmux, standin_agent: Path) -> Tmux:
    """The plugin loaded, with the agents segment alone in status-right."""
    tmux.run("set-option", "-g", "status-right", "#{agents_status}")
    tmux.load_plugin()
    return tmux


def spawn(tmux: Tmux, task: str, *extra: str) -> tuple[str, str]:
    """Spawn through the CLI; (agent name, pane id)."""
    name = tmux.agents("spawn", task, "--pane", first_pane(tmux), "-d", *extra).stdout.strip()
    for line in tmux.run("list-panes", "-a", "-F", "#{pane_id} #{@agent_name}").splitlines():
        pane, _, agent = line.partition(" ")
        if agent == name:
            return name, pane
    raise AssertionError(f"no pane carries agent {name}")


def send(tmux: Tmux, pane: str, line: str) -> None:
    """Type one input line into the agent (the stand-in reads lines)."""
    tmux.run("send-keys", "-t", pane, "-l", line)
    tmux.run("send-keys", "-t", pane, "Enter")


def state(tmux: Tmux, pane: str) -> str:
    return tmux.option(pane, "@agent_state")


def wait_state(tmux: Tmux, pane: str, expected: str, timeout: float = 20) -> None:
    wait_for(lambda: state(tmux, pane) == expected, timeout=timeout, message=f"{pane} to be {expected} (is {state(tmux, pane)!r})")


def segment(tmux: Tmux) -> str:
    """The rendered agents segment, e.g. '⚙ 1 ⏳ 1' ('' without agents)."""
    return " ".join(tmux.status_right().split())


def window_icon(tmux: Tmux, pane: str) -> str:
    """The state icon the window list shows for the pane's window ('' for none)."""
    fmt = tmux.run("show-options", "-gv", "window-status-format").rstrip("\n")
    rendered = tmux.display(fmt, pane)
    found = [icon for icon in ICONS.values() if rendered.endswith(" " + icon)]
    return found[0] if found else ""


def jump_target(tmux: Tmux) -> str | None:
    """The pane `agents jump --print` names, or None when nobody waits (exit 1)."""
    proc = tmux.agents("jump", "--print", check=False)
    if proc.returncode == 1:
        assert proc.stderr.strip() == "agents jump: no agent is waiting"
        assert proc.stdout == ""
        return None
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def since(tmux: Tmux, pane: str) -> int:
    return int(tmux.option(pane, "@agent_state_since"))


def log_events(tmux: Tmux, event: str) -> list[dict]:
    return [e for e in read_standin_log(tmux.env) if e.get("event") == event]


def assert_view(tmux: Tmux, pane: str, expected: str, jump: str | None) -> None:
    """What the user sees for one agent in state ``expected``."""
    assert state(tmux, pane) == expected
    assert segment(tmux) == f"{ICONS[expected]} 1"
    assert window_icon(tmux, pane) == ICONS[expected]
    assert jump_target(tmux) == jump


def test_a_whole_turn_with_a_permission_prompt(plugin: Tmux, repo: Repo) -> None:
    tmux = plugin
    tmux.run("set-environment", "-g", "STANDIN_IDLE_NOTIFY_SECS", "1")
    assert segment(tmux) == ""
    assert window_icon(tmux, first_pane(tmux)) == ""
    assert jump_target(tmux) is None

    _, pane = spawn(tmux, "Fix the login redirect")
    # SessionStart (idle), then the task as the first prompt: working.
    wait_state(tmux, pane, "working")
    assert_view(tmux, pane, "working", None)
    start = wait_for(lambda: log_events(tmux, "start"), message="the agent to start")[0]
    session = wait_for(lambda: log_events(tmux, "session"), message="the session record")[0]
    assert tmux.option(pane, "@agent_session_id") == start["session_id"] == session["session_id"]
    assert tmux.option(pane, "@agent_transcript") == session["transcript_path"]
    assert session["transcript_path"].endswith(f"/{session['session_id']}.jsonl")

    # The model wants a tool: PreToolUse (still working), PermissionRequest -> waiting.
    tmux.run("set-option", "-p", "-t", pane, "@agent_state_since", "1000")
    before = int(time.time())
    send(tmux, pane, "/tool")
    wait_state(tmux, pane, "waiting")
    assert_view(tmux, pane, "waiting", pane)
    assert since(tmux, pane) >= before
    wait_for(lambda: log_events(tmux, "Notification"), message="the permission notification")

    # Approved: PostToolUse -> working again, nobody waits.
    send(tmux, pane, "1")
    wait_state(tmux, pane, "working")
    assert_view(tmux, pane, "working", None)

    # The answer: Stop -> idle.
    send(tmux, pane, "/done")
    wait_state(tmux, pane, "idle")
    assert_view(tmux, pane, "idle", None)

    # An idle_prompt notification is no change: the clock stays where it was.
    tmux.run("set-option", "-p", "-t", pane, "@agent_state_since", "1000")
    wait_for(
        lambda: any(e["payload"].get("notification_type") == "idle_prompt" for e in log_events(tmux, "Notification")),
        message="the idle_prompt notification",
    )
    time.sleep(0.5)  # let the handler finish (it runs in parallel with the stand-in's log)
    assert state(tmux, pane) == "idle"
    assert since(tmux, pane) == 1000

    # /exit: SessionEnd -> exited, then the wrapper's shell.
    send(tmux, pane, "/exit")
    wait_state(tmux, pane, "exited")
    assert segment(tmux) == "✗ 1"
    assert window_icon(tmux, pane) == "✗"
    assert jump_target(tmux) is None
    # The pane is gone: no agents, no segment.
    tmux.run("kill-pane", "-t", pane)
    wait_for(lambda: segment(tmux) == "", message="the segment to disappear")


def test_escape_during_a_turn_ends_idle_through_the_watcher(plugin: Tmux, repo: Repo) -> None:
    tmux = plugin
    _, pane = spawn(tmux, "Refactor the parser")
    wait_state(tmux, pane, "working")
    send(tmux, pane, "/esc")  # Claude fires no hook for Esc
    wait_state(tmux, pane, "idle")
    assert_view(tmux, pane, "idle", None)
    assert not log_events(tmux, "Stop")
    # And at a permission prompt: Esc rejects it, again without a hook.
    send(tmux, pane, "again")
    wait_state(tmux, pane, "working")
    send(tmux, pane, "/tool")
    wait_state(tmux, pane, "waiting")
    send(tmux, pane, "/esc")
    wait_state(tmux, pane, "idle")
    assert not log_events(tmux, "Stop")


def test_approved_tool_still_running_shows_working(plugin: Tmux, repo: Repo) -> None:
    # After the user approves a tool, Claude fires nothing until the tool ends
    # (PostToolUse). The stand-in fires PostToolUse at once, so the pane is put
    # back to "waiting" by hand: what a real long tool would leave behind while
    # its screen already shows Claude at work. The watcher must correct it.
    tmux = plugin
    _, pane = spawn(tmux, "Run the migrations")
    wait_state(tmux, pane, "working")
    send(tmux, pane, "/tool")
    wait_state(tmux, pane, "waiting")
    send(tmux, pane, "1")
    wait_state(tmux, pane, "working")
    wait_for(lambda: "esc to interrupt" in tmux.capture(pane), message="the working screen")
    tmux.run("set-option", "-p", "-t", pane, "@agent_state", "waiting")
    assert jump_target(tmux) == pane
    wait_state(tmux, pane, "working")
    assert_view(tmux, pane, "working", None)


def test_two_waiting_agents_jump_order_and_cycling(plugin: Tmux, repo: Repo) -> None:
    tmux = plugin
    _, pane_a = spawn(tmux, "first agent")
    _, pane_b = spawn(tmux, "second agent")
    wait_state(tmux, pane_a, "working")
    wait_state(tmux, pane_b, "working")
    # B waits first, A a second later: B has waited longer although A is older.
    send(tmux, pane_b, "/tool")
    wait_state(tmux, pane_b, "waiting")
    b_since = since(tmux, pane_b)
    wait_for(lambda: int(time.time()) > b_since, message="the next second")
    send(tmux, pane_a, "/tool")
    wait_state(tmux, pane_a, "waiting")
    assert since(tmux, pane_a) > b_since
    assert segment(tmux) == "⏳ 2"
    assert jump_target(tmux) == pane_b

    child = pexpect.spawn("tmux", ["-L", tmux.socket, "attach-session", "-t", "main"], env=tmux.env, dimensions=(50, 200), encoding="utf-8", timeout=10)
    try:
        client = wait_for(lambda: tmux.run("list-clients", "-F", "#{client_name}").strip(), message="the client")

        def shown() -> str:
            return tmux.run("list-clients", "-F", "#{pane_id}").strip()

        assert shown() == first_pane(tmux)
        seen = []
        for _ in range(3):
            tmux.agents("jump", "--client", client)
            seen.append(shown())
        assert seen == [pane_b, pane_a, pane_b]
        assert tmux.run("show-options", "-gqv", "@agents-last-jump").strip() == pane_b
        # Answered: A is the only one waiting now, wherever the client is.
        send(tmux, pane_b, "1")
        wait_state(tmux, pane_b, "working")
        tmux.agents("jump", "--client", client)
        wait_for(lambda: shown() == pane_a, message="the jump to A")
        assert jump_target(tmux) == pane_a  # A again: the only one waiting
        send(tmux, pane_a, "1")
        wait_state(tmux, pane_a, "working")
        proc = tmux.agents("jump", "--client", client, check=False)
        assert (proc.returncode, proc.stderr.strip()) == (1, "agents jump: no agent is waiting")
        assert shown() == pane_a
    finally:
        child.terminate(force=True)


def test_hookless_agent_moves_through_states_by_its_screen(tmux: Tmux, repo: Repo) -> None:
    (repo.path / ".agents.toml").write_text(
        f'[agents.plain]\ncommand = ["{PLAIN_AGENT}"]\nprompt = "arg"\nhooks = "none"\n'
        '[agents.plain.screen]\nwaiting = ["Do you want to proceed\\\\?"]\nworking = ["esc to interrupt"]\nidle = ["\\\\? for shortcuts"]\n'
    )
    tmux.run("set-option", "-g", "status-right", "#{agents_status}")
    tmux.load_plugin()
    _, pane = spawn(tmux, "Plain work", "--agent", "plain")
    assert tmux.option(pane, "@agent_kind") == "plain"
    wait_state(tmux, pane, "working")
    assert_view(tmux, pane, "working", None)
    send(tmux, pane, "/tool")
    wait_state(tmux, pane, "waiting")
    assert_view(tmux, pane, "waiting", pane)
    send(tmux, pane, "1")
    wait_state(tmux, pane, "working")
    send(tmux, pane, "/done")
    wait_state(tmux, pane, "idle")
    assert_view(tmux, pane, "idle", None)
    assert not tmux.option(pane, "@agent_session_id")
    send(tmux, pane, "/exit")
    wait_state(tmux, pane, "exited")


def test_folder_trust_screen_is_waiting_not_starting(plugin: Tmux, repo: Repo) -> None:
    tmux = plugin
    # A .claude.json that trusts nothing: the stand-in asks about the new worktree, firing no hook.
    (Path(tmux.env["HOME"]) / ".claude.json").write_text(json.dumps({"hasCompletedOnboarding": True, "projects": {}}))
    _, pane = spawn(tmux, "Trust me")
    wait_for(lambda: "Quick safety check" in tmux.capture(pane), message="the trust screen")
    wait_state(tmux, pane, "waiting")
    assert_view(tmux, pane, "waiting", pane)
    assert not log_events(tmux, "SessionStart")
    send(tmux, pane, "1")
    # Trusted: SessionStart, then the task as the first prompt.
    wait_state(tmux, pane, "working")
    assert jump_target(tmux) is None
    assert log_events(tmux, "SessionStart")


def test_notifications_when_an_agent_waits(plugin: Tmux, repo: Repo, tmp_path: Path) -> None:
    tmux = plugin
    notified = tmp_path / "notified.txt"
    script = tmp_path / "notify.sh"
    script.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{notified}'\n")
    script.chmod(0o755)
    tmux.run("set-option", "-g", "@agents-notify-command", str(script))
    child = pexpect.spawn("tmux", ["-L", tmux.socket, "attach-session", "-t", "main"], env=tmux.env, dimensions=(50, 200), encoding="utf-8", timeout=15)
    try:
        wait_for(lambda: tmux.run("list-clients", "-F", "#{client_name}").strip(), message="the client")
        # In a window of its own, in the background: the bell flag shows on its entry.
        name, pane = spawn(tmux, "Ask me something", "--target", "window")
        window = tmux.display("#{window_id}", pane)
        assert window != tmux.display("#{window_id}", first_pane(tmux))
        wait_state(tmux, pane, "working")
        assert tmux.display("#{window_bell_flag}", window) == "0"
        send(tmux, pane, "/tool")
        wait_state(tmux, pane, "waiting")
        child.expect(f"agent {re.escape(name)} is waiting for you")
        wait_for(lambda: tmux.display("#{window_bell_flag}", window) == "1", message="the bell flag")
        wait_for(lambda: notified.exists() and f"agent {name} is waiting for you" in notified.read_text().splitlines(), message="the notify command")
        # The permission Notification that follows is no new message.
        assert notified.read_text().splitlines() == [f"agent {name} is waiting for you"]
        # Approved and finished: "done" is said too.
        send(tmux, pane, "1")
        send(tmux, pane, "/done")
        wait_state(tmux, pane, "idle")
        child.expect(f"agent {re.escape(name)} is done")
        wait_for(lambda: notified.read_text().splitlines()[-1:] == [f"agent {name} is done"], message="the done notification")
    finally:
        child.terminate(force=True)


def test_notify_off_stays_quiet(plugin: Tmux, repo: Repo, tmp_path: Path) -> None:
    tmux = plugin
    notified = tmp_path / "notified.txt"
    tmux.run("set-option", "-g", "@agents-notify", "off")
    tmux.run("set-option", "-g", "@agents-notify-command", f"touch '{notified}'; :")
    _, pane = spawn(tmux, "Quiet please")
    wait_state(tmux, pane, "working")
    send(tmux, pane, "/tool")
    wait_state(tmux, pane, "waiting")
    send(tmux, pane, "1")
    send(tmux, pane, "/done")
    wait_state(tmux, pane, "idle")
    time.sleep(1)  # a notifier would have run by now
    assert not notified.exists()


def test_custom_kind_without_screen_patterns_gets_its_state_from_activity(tmux: Tmux, repo: Repo, tmp_path: Path) -> None:
    # A program agents.tmux knows nothing about: no hooks, no screen patterns.
    program = tmp_path / "chatty-agent"
    program.write_text('#!/bin/sh\nwhile read -r line; do for i in 1 2 3 4 5 6; do echo "thinking about $line $i"; sleep 0.5; done; echo ready; done\n')
    program.chmod(0o755)
    (repo.path / ".agents.toml").write_text(f'[agents.mine]\ncommand = ["{program}"]\nprompt = "none"\n')
    name = tmux.agents("spawn", "custom work", "--agent", "mine", "-d").stdout.strip()
    pane = next(line.split()[0] for line in tmux.run("list-panes", "-a", "-F", "#{pane_id} #{@agent_name}").splitlines()
                if line.endswith(" " + name))
    # A still screen: idle, not `starting` forever.
    wait_state(tmux, pane, "idle")
    send(tmux, pane, "the parser")
    wait_state(tmux, pane, "working")
    wait_state(tmux, pane, "idle")
    assert "ready" in tmux.capture(pane)
