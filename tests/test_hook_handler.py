"""The Claude Code hook handler, run exactly as Claude runs it.

`<venv python> -I -S python/src/agents_tmux/run_hook.py` (the command in the
generated settings file, which imports agents_tmux.hook), the event's JSON on
stdin, `TMUX` and `TMUX_PANE` inherited. Whatever it is given it must exit 0
at once, print nothing (Claude would act on output) and change nothing it
should not.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import ROOT, Repo, Tmux, first_pane, wait_for

HANDLER = ROOT / "python" / "src" / "agents_tmux" / "run_hook.py"
PYTHON = ROOT / ".venv" / "bin" / "python"
SESSION = "403be560-9d55-4a51-8a7b-0c9f1e2d3a4b"
TRANSCRIPT = f"/home/u/.claude/projects/-tmp-project-agents-fix/{SESSION}.jsonl"


def payload(event: str, **extra: object) -> dict[str, object]:
    """A payload shaped like Claude Code 2.1.197's (see /work/shared/CLAUDE-CODE.md)."""
    base: dict[str, object] = {
        "session_id": SESSION,
        "transcript_path": TRANSCRIPT,
        "cwd": "/tmp/project.agents/fix",
        "permission_mode": "default",
        "hook_event_name": event,
    }
    base.update(extra)
    return base


PAYLOADS = {
    "SessionStart": payload("SessionStart", source="startup", model="claude-opus-4-8[1m]"),
    "UserPromptSubmit": payload("UserPromptSubmit", prompt="Fix the login redirect", prompt_id=str(uuid.uuid4())),
    "PreToolUse": payload("PreToolUse", tool_name="Bash", tool_input={"command": "touch x", "description": "Make x"}, tool_use_id="toolu_1"),
    "PermissionRequest": payload(
        "PermissionRequest", tool_name="Bash", tool_input={"command": "touch x"},
        permission_suggestions=[{"type": "addRules", "behavior": "allow", "destination": "localSettings", "rules": []}],
    ),
    "Notification": payload("Notification", message="Claude needs your permission to use Bash", notification_type="permission_prompt"),
    "PostToolUse": payload(
        "PostToolUse", tool_name="Bash", tool_input={"command": "touch x"}, tool_use_id="toolu_1",
        tool_response={"stdout": "", "stderr": "", "interrupted": False, "isImage": False, "noOutputExpected": True}, duration_ms=12,
    ),
    "PostToolUseFailure": payload("PostToolUseFailure", tool_name="Bash", tool_input={"command": "false"}, tool_use_id="toolu_2", error="exit 1"),
    "Stop": payload("Stop", stop_hook_active=False, last_assistant_message="Done.", background_tasks=[], session_crons=[]),
    "SessionEnd": payload("SessionEnd", reason="prompt_input_exit"),
    # Recorded from Claude Code 2.1.197 and 2.1.332 (tests/support/CLAUDE-NOTES.md).
    "StopFailure": payload("StopFailure", error="unknown", last_assistant_message="API Error: 400 Simulated failure"),
    "PreCompact": payload("PreCompact", trigger="manual", custom_instructions=None),
    "PostCompact": payload("PostCompact", trigger="manual", compact_summary="Summary."),
    # Not recorded (an MCP server that asks the user is needed): only the event's name is read.
    "Elicitation": payload("Elicitation", mcp_server_name="files", message="Which folder?"),
    "ElicitationResult": payload("ElicitationResult", mcp_server_name="files", action="accept"),
}


def run_handler(
    stdin: str | bytes, env: dict[str, str], timeout: float = 10, args: tuple[str, ...] = ("claude",)
) -> tuple[subprocess.CompletedProcess[bytes], float]:
    """Run the handler as the settings file does (``run_hook.py claude``); ``args`` replace ``claude``."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    started = time.monotonic()
    argv = [str(PYTHON), "-I", "-S", str(HANDLER), *args]
    proc = subprocess.run(argv, input=data, env=env, capture_output=True, timeout=timeout, check=False)
    return proc, time.monotonic() - started


@pytest.fixture
def agent(tmux: Tmux) -> str:
    """The test server's first pane, dressed as an agent in state 'starting'."""
    pane = first_pane(tmux)
    for option, value in (("@agent_name", "fix"), ("@agent_kind", "claude"), ("@agent_state", "starting"), ("@agent_state_since", "1000")):
        tmux.run("set-option", "-p", "-t", pane, option, value)
    return pane


def hook_env(tmux: Tmux, pane: str | None) -> dict[str, str]:
    """The environment a hook process inherits from Claude inside that pane."""
    socket = tmux.display("#{socket_path}")
    pid = tmux.display("#{pid}")
    env = {**tmux.env, "TMUX": f"{socket},{pid},0"}
    if pane is not None:
        env["TMUX_PANE"] = pane
    return env


def snapshot(tmux: Tmux) -> str:
    """Every option of every pane, window and session, plus the globals: what a handler could change."""
    return "\n".join(
        [
            tmux.run("list-panes", "-a", "-F", "#{pane_id}"),
            *(tmux.run("show-options", "-p", "-t", pane) for pane in tmux.panes()),
            tmux.run("show-options", "-g"),
            tmux.run("show-options", "-gw"),
            tmux.run("list-buffers", "-F", "#{buffer_name}"),
        ]
    )


def assert_silent(proc: subprocess.CompletedProcess[bytes], elapsed: float, limit: float = 3.0) -> None:
    assert proc.returncode == 0
    assert proc.stdout == b""
    assert proc.stderr == b""
    assert elapsed < limit, f"the handler took {elapsed:.2f}s"


BAD_INPUT = {
    "malformed JSON": '{"hook_event_name": "Stop", ',
    "empty stdin": "",
    "whitespace": "\n\n",
    "a list": '["Stop"]',
    "a string": '"Stop"',
    "a number": "42",
    "null": "null",
    "unknown event": json.dumps(payload("TeammateIdle")),
    # A subagent's Stop must not end the main turn: not even listened to.
    "SubagentStop": json.dumps(payload("SubagentStop", agent_id="a1", agent_type="general-purpose", last_assistant_message="OK.")),
    "no event name": json.dumps({"session_id": SESSION}),
    "event name not a string": json.dumps({"hook_event_name": ["Stop"]}),
    "binary garbage": b"\xff\xfe\x00\x01Stop",
}


@pytest.mark.parametrize("label", list(BAD_INPUT))
def test_bad_input_exits_0_silently_and_changes_nothing(tmux: Tmux, agent: str, label: str) -> None:
    before = snapshot(tmux)
    proc, elapsed = run_handler(BAD_INPUT[label], hook_env(tmux, agent))
    assert_silent(proc, elapsed)
    assert snapshot(tmux) == before


def test_no_tmux_pane_changes_nothing(tmux: Tmux, agent: str) -> None:
    before = snapshot(tmux)
    for env in (hook_env(tmux, None), {**hook_env(tmux, agent), "TMUX_PANE": ""}, {**hook_env(tmux, agent), "TMUX_PANE": "fix; kill-server"}):
        proc, elapsed = run_handler(json.dumps(PAYLOADS["Stop"]), env)
        assert_silent(proc, elapsed)
    assert snapshot(tmux) == before


def test_outside_tmux_changes_nothing(tmux: Tmux, agent: str) -> None:
    before = snapshot(tmux)
    env = {k: v for k, v in hook_env(tmux, agent).items() if k != "TMUX"}
    proc, elapsed = run_handler(json.dumps(PAYLOADS["Stop"]), env)
    assert_silent(proc, elapsed)
    assert snapshot(tmux) == before


def test_pane_that_no_longer_exists(tmux: Tmux, agent: str) -> None:
    gone = tmux.run("split-window", "-d", "-t", agent, "-P", "-F", "#{pane_id}").strip()
    tmux.run("kill-pane", "-t", gone)
    before = snapshot(tmux)
    for event in ("Stop", "PermissionRequest", "SessionStart"):
        proc, elapsed = run_handler(json.dumps(PAYLOADS[event]), hook_env(tmux, gone))
        assert_silent(proc, elapsed)
    assert snapshot(tmux) == before


def test_server_that_is_gone(tmux: Tmux, agent: str, tmp_path: Path) -> None:
    env = hook_env(tmux, agent)
    socket = env["TMUX"].split(",")[0]
    tmux.run("kill-server")
    wait_for(lambda: subprocess.run(["tmux", "-S", socket, "list-sessions"], env=tmux.env, capture_output=True, check=False).returncode != 0, message="the server to end")
    for event in ("Stop", "PermissionRequest", "SessionEnd"):
        proc, elapsed = run_handler(json.dumps(PAYLOADS[event]), env)
        assert_silent(proc, elapsed, limit=2.0)
    # ...and it did not start a new server there.
    assert subprocess.run(["tmux", "-S", socket, "list-sessions"], env=tmux.env, capture_output=True, check=False).returncode != 0
    # A socket path that never existed, too.
    proc, elapsed = run_handler(json.dumps(PAYLOADS["Stop"]), {**env, "TMUX": f"{tmp_path}/no-such-socket,1,0"})
    assert_silent(proc, elapsed, limit=2.0)
    assert not (tmp_path / "no-such-socket").exists()


# (event, state before, state after); None = unchanged.
TRANSITIONS = [
    ("SessionStart", "starting", "idle"),
    ("UserPromptSubmit", "idle", "working"),
    ("PreToolUse", "idle", "working"),
    ("PermissionRequest", "working", "waiting"),
    ("Notification", "working", "waiting"),
    ("PostToolUse", "waiting", "working"),
    ("PostToolUseFailure", "waiting", "working"),
    ("Stop", "working", "idle"),
    ("StopFailure", "working", "error"),
    ("UserPromptSubmit", "error", "working"),
    ("PreCompact", "idle", "working"),
    ("PostCompact", "working", "idle"),
    ("Elicitation", "working", "waiting"),
    ("ElicitationResult", "waiting", "working"),
    ("SessionEnd", "idle", "exited"),
]


@pytest.mark.parametrize(("event", "before", "after"), TRANSITIONS)
def test_each_event_sets_its_state_and_records_the_session(tmux: Tmux, agent: str, event: str, before: str, after: str) -> None:
    tmux.run("set-option", "-p", "-t", agent, "@agent_state", before)
    started = int(time.time())
    proc, elapsed = run_handler(json.dumps(PAYLOADS[event]), hook_env(tmux, agent))
    assert_silent(proc, elapsed)
    assert tmux.option(agent, "@agent_state") == after
    assert started <= int(tmux.option(agent, "@agent_state_since")) <= int(time.time())
    assert tmux.option(agent, "@agent_session_id") == SESSION
    assert tmux.option(agent, "@agent_transcript") == TRANSCRIPT
    assert tmux.option(agent, "@agent_name") == "fix"


@pytest.mark.parametrize(
    ("event", "state"),
    [("PreToolUse", "working"), ("PostToolUse", "working"), ("Notification", "waiting"), ("PermissionRequest", "waiting"), ("Stop", "idle")],
)
def test_a_repeated_state_keeps_its_clock(tmux: Tmux, agent: str, event: str, state: str) -> None:
    tmux.run("set-option", "-p", "-t", agent, "@agent_state", state)
    proc, elapsed = run_handler(json.dumps(PAYLOADS[event]), hook_env(tmux, agent))
    assert_silent(proc, elapsed)
    assert tmux.option(agent, "@agent_state") == state
    assert tmux.option(agent, "@agent_state_since") == "1000"


@pytest.mark.parametrize(
    "extra",
    [
        {"hook_event_name": "Notification", "notification_type": "idle_prompt", "message": "Claude is waiting for your input"},
        {"hook_event_name": "Notification", "notification_type": "auth_success", "message": "Signed in"},
        {"hook_event_name": "SessionStart", "source": "compact"},
        # An automatic compaction happens inside a turn, /clear inside one Claude.
        {"hook_event_name": "PostCompact", "trigger": "auto", "compact_summary": "Summary."},
        {"hook_event_name": "SessionEnd", "reason": "clear"},
    ],
)
def test_events_that_change_no_state(tmux: Tmux, agent: str, extra: dict[str, str]) -> None:
    tmux.run("set-option", "-p", "-t", agent, "@agent_state", "working")
    proc, elapsed = run_handler(json.dumps({**payload("x"), **extra}), hook_env(tmux, agent))
    assert_silent(proc, elapsed)
    assert tmux.option(agent, "@agent_state") == "working"
    assert tmux.option(agent, "@agent_state_since") == "1000"
    # The session is still recorded (a compaction keeps the id; the path may be new).
    assert tmux.option(agent, "@agent_session_id") == SESSION


def test_settings_written_before_programs_had_adapters_still_mean_claude(tmux: Tmux, agent: str) -> None:
    tmux.run("set-option", "-p", "-t", agent, "@agent_state", "working")
    proc, elapsed = run_handler(json.dumps(PAYLOADS["Stop"]), hook_env(tmux, agent), args=())
    assert_silent(proc, elapsed)
    assert tmux.option(agent, "@agent_state") == "idle"


@pytest.mark.parametrize("program", ["generic", "no_such_program", "../claude", "Claude", ""])
def test_events_of_a_program_without_hooks_or_adapter_change_nothing(tmux: Tmux, agent: str, program: str) -> None:
    before = snapshot(tmux)
    proc, elapsed = run_handler(json.dumps(PAYLOADS["Stop"]), hook_env(tmux, agent), args=(program,))
    assert_silent(proc, elapsed)
    assert snapshot(tmux) == before


def test_stop_while_a_background_subagent_runs_stays_working(tmux: Tmux, agent: str) -> None:
    """2.1.332 runs subagents in the background: the turn stops, Claude resumes when they finish."""
    tmux.run("set-option", "-p", "-t", agent, "@agent_state", "working")
    running = [{"id": "a5", "type": "subagent", "status": "running", "description": "Look around"}]
    proc, elapsed = run_handler(json.dumps({**PAYLOADS["Stop"], "background_tasks": running}), hook_env(tmux, agent))
    assert_silent(proc, elapsed)
    assert tmux.option(agent, "@agent_state") == "working"
    finished = [{**running[0], "status": "completed"}]
    proc, elapsed = run_handler(json.dumps({**PAYLOADS["Stop"], "background_tasks": finished}), hook_env(tmux, agent))
    assert_silent(proc, elapsed)
    assert tmux.option(agent, "@agent_state") == "idle"


def test_a_prompt_queued_behind_a_running_turn_keeps_the_agent_working(tmux: Tmux, agent: str, tmp_path: Path) -> None:
    """2.1.332 fires UserPromptSubmit when a prompt is queued, and the running turn's Stop before the queued turn starts."""
    marker = tmp_path / "notified"
    tmux.run("set-option", "-g", "@agents-notify-command", f"printf '%s\\n' \"$1\" >> '{marker}'; :")
    env = hook_env(tmux, agent)
    for event, state in (("SessionStart", "idle"), ("UserPromptSubmit", "working"), ("UserPromptSubmit", "working"),
                         ("Stop", "working"), ("Stop", "idle"), ("UserPromptSubmit", "working"), ("Stop", "idle")):
        proc, elapsed = run_handler(json.dumps(PAYLOADS[event]), env)
        assert_silent(proc, elapsed)
        assert tmux.option(agent, "@agent_state") == state, event
    # "Done" once per real end of work, not at the Stop that left a prompt queued.
    wait_for(lambda: marker.exists() and marker.read_text().count("\n") == 2, timeout=20, message="two notifications")
    time.sleep(0.5)
    assert marker.read_text() == "agent fix is done\n" * 2


def test_an_interrupted_turn_does_not_count_against_the_next(tmux: Tmux, agent: str) -> None:
    """Esc fires no Stop: the watcher sets idle and clears the count, so the next Stop ends the next turn."""
    env = hook_env(tmux, agent)
    run_handler(json.dumps(PAYLOADS["UserPromptSubmit"]), env)
    # What the screen watcher does when it reads an interrupted turn.
    tmux.run("set-option", "-p", "-t", agent, "@agent_state", "idle", ";", "set-option", "-p", "-t", agent, "@agent_turns", "0")
    run_handler(json.dumps(PAYLOADS["UserPromptSubmit"]), env)
    run_handler(json.dumps(PAYLOADS["Stop"]), env)
    assert tmux.option(agent, "@agent_state") == "idle"


@pytest.mark.parametrize("command_text", ["printf '%s\\t' \"$1\" > '{marker}'", "printf '%s\\037x' \"$1\" > '{marker}'"])
def test_a_notify_command_holding_a_tab_or_unit_separator_runs_whole(tmux: Tmux, agent: str, tmp_path: Path, command_text: str) -> None:
    marker = tmp_path / "notified"
    # The separators are in the option's value itself (a literal tab or \x1f, not an escape sh reads).
    command = command_text.format(marker=marker).replace("\\t", "\t").replace("\\037", "\x1f")
    tmux.run("set-option", "-g", "@agents-notify-command", command + "; :")
    tmux.run("set-option", "-p", "-t", agent, "@agent_state", "working")
    proc, elapsed = run_handler(json.dumps(PAYLOADS["PermissionRequest"]), hook_env(tmux, agent))
    assert_silent(proc, elapsed)
    wait_for(marker.exists, timeout=20, message="the notify command")
    sep = "\t" if "\\t" in command_text else "\x1fx"
    assert marker.read_text() == "agent fix is waiting for you" + sep


def test_notification_without_a_type_asking_permission_is_waiting(tmux: Tmux, agent: str) -> None:
    tmux.run("set-option", "-p", "-t", agent, "@agent_state", "working")
    body = payload("Notification", message="Claude needs your permission to use Bash")
    proc, elapsed = run_handler(json.dumps(body), hook_env(tmux, agent))
    assert_silent(proc, elapsed)
    assert tmux.option(agent, "@agent_state") == "waiting"


@pytest.mark.parametrize("template", ["/tmp/a b/session.jsonl;", "/tmp/#{{pane_id}}/#(touch {marker})/s.jsonl", "/tmp/'\"$HOME`touch {marker}`/s.jsonl", "; kill-server"])
def test_odd_paths_are_recorded_as_text(tmux: Tmux, agent: str, template: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    value = template.format(marker=marker)
    body = {**PAYLOADS["Stop"], "transcript_path": value}
    proc, elapsed = run_handler(json.dumps(body), hook_env(tmux, agent))
    assert_silent(proc, elapsed)
    # An absolute path is text, whatever it holds; anything else is not a transcript.
    assert tmux.option(agent, "@agent_transcript") == (value if value.startswith("/") else "")
    assert tmux.option(agent, "@agent_session_id") == SESSION
    assert tmux.option(agent, "@agent_state") == "idle"
    assert not marker.exists()


@pytest.mark.parametrize("bad_id", ["--dangerously-skip-permissions", "../../x", "403be560-9d55-4a51-8a7b-0c9f1e2d3a4b; rm", "", "x" * 36])
def test_session_ids_that_are_not_uuids_are_never_stored(tmux: Tmux, agent: str, bad_id: str) -> None:
    body = {**PAYLOADS["SessionStart"], "session_id": bad_id}
    proc, elapsed = run_handler(json.dumps(body), hook_env(tmux, agent))
    assert_silent(proc, elapsed)
    assert tmux.option(agent, "@agent_state") == "idle"  # the event itself still counts
    assert tmux.option(agent, "@agent_session_id") == ""
    assert tmux.option(agent, "@agent_transcript") == ""


@pytest.mark.parametrize("mib", [1, 5, 20])
def test_payloads_of_any_size_give_the_right_state(tmux: Tmux, agent: str, mib: int) -> None:
    tmux.run("set-option", "-p", "-t", agent, "@agent_state", "working")
    # A long last message, with escapes and a fake event name inside the text.
    filler = ('\\"hook_event_name\\": \\"UserPromptSubmit\\" é 漢 ' * 40 + "\n") * (mib * 1024 * 1024 // (40 * 38))
    body = {**PAYLOADS["Stop"], "last_assistant_message": filler}
    data = json.dumps(body, ensure_ascii=False).encode()
    assert len(data) > mib * 1024 * 1024
    proc, elapsed = run_handler(data, hook_env(tmux, agent), timeout=60)
    assert_silent(proc, elapsed, limit=30)
    assert tmux.option(agent, "@agent_state") == "idle"


def test_the_wake_fifo_is_never_written_through_a_symlink_or_into_a_file(tmux: Tmux, agent: str, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    link = tmp_path / "wake.link"
    link.symlink_to(victim)
    for wake in (link, victim):
        proc, elapsed = run_handler(json.dumps(PAYLOADS["Stop"]), {**hook_env(tmux, agent), "AGENTS_TMUX_WAKE": str(wake)})
        assert_silent(proc, elapsed)
        assert victim.read_text() == "precious\n"
    # A real FIFO still wakes its reader.
    fifo = tmp_path / "wake.fifo"
    os.mkfifo(fifo, 0o600)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        run_handler(json.dumps(PAYLOADS["Stop"]), {**hook_env(tmux, agent), "AGENTS_TMUX_WAKE": str(fifo)})
        assert os.read(reader, 10) == b"!"
    finally:
        os.close(reader)


def test_a_slow_notify_command_does_not_hold_claude(tmux: Tmux, agent: str, tmp_path: Path) -> None:
    marker = tmp_path / "notified"
    tmux.run("set-option", "-g", "@agents-notify-command", f"sleep 5; printf '%s' \"$1\" > '{marker}'; :")
    tmux.run("set-option", "-p", "-t", agent, "@agent_state", "working")
    proc, elapsed = run_handler(json.dumps(PAYLOADS["PermissionRequest"]), hook_env(tmux, agent))
    assert_silent(proc, elapsed, limit=2.0)
    assert tmux.option(agent, "@agent_state") == "waiting"
    wait_for(marker.exists, timeout=20, message="the notify command")
    assert marker.read_text() == "agent fix is waiting for you"


def test_handler_imports_only_the_standard_library() -> None:
    code = (
        "import io, sys, runpy; sys.argv=['run_hook.py', 'claude'];"
        f"sys.stdin=io.StringIO({json.dumps(PAYLOADS['Stop'])!r});"
        "before=set(sys.modules)\n"
        "try:\n"
        f"    runpy.run_path({str(HANDLER)!r}, run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in set(sys.modules)-before if m.split('.')[0] in ('agents_tmux','libtmux','tomli','json','subprocess','shutil')))"
    )
    # A whole event, through to tmux (a server that is not there).
    env = {"PATH": "/usr/bin:/bin", "TMUX": "/nonexistent/agents-test,1,0", "TMUX_PANE": "%0"}
    out = subprocess.run([str(PYTHON), "-I", "-S", "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    # Only the handler and the program's adapter: no libtmux, no config, none of the slow stdlib modules.
    # (tmuxtext, which imports nothing, reads tmux's length-prefixed output.)
    assert out.strip() == "['agents_tmux', 'agents_tmux.hook', 'agents_tmux.programs', 'agents_tmux.programs.claude', 'agents_tmux.tmuxtext']"
    assert sys.version_info >= (3, 10)


def test_a_held_registry_lock_does_not_hold_the_agent_and_loses_no_session(
    tmux: Tmux, agent: str, repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agents_tmux import registry

    monkeypatch.setenv("XDG_STATE_HOME", tmux.env["XDG_STATE_HOME"])
    registry.record(repo.path, {"name": "fix", "session_id": str(uuid.uuid4()), "status": "active"})
    tmux.run("set-option", "-p", "-t", agent, "@agent_repo", str(repo.path))
    new_id = str(uuid.uuid4())
    body = {**PAYLOADS["SessionStart"], "session_id": new_id, "transcript_path": f"/home/u/.claude/projects/x/{new_id}.jsonl"}
    lock_path = registry.registry_path(repo.path).with_suffix(".lock")
    with open(lock_path, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another command holds the registry (a slow git hook, say)
        proc, elapsed = run_handler(json.dumps(body), hook_env(tmux, agent), timeout=30)
        assert_silent(proc, elapsed, limit=2.0)
        assert tmux.option(agent, "@agent_state") == "idle"
        assert tmux.option(agent, "@agent_session_id") == new_id
        # Readers see the new id at once, though the file could not be written yet.
        assert registry.load(repo.path)["fix"]["session_id"] == new_id
        fcntl.flock(lock, fcntl.LOCK_UN)
    # The next write folds it into the file, and a later, older note never wins over it.
    registry.update(repo.path, "fix", role="coder")
    saved = json.loads(registry.registry_path(repo.path).read_text())["agents"]["fix"]
    assert saved["session_id"] == new_id and saved["role"] == "coder"
    assert not list((registry.registry_path(repo.path).parent / registry.PENDING_DIR).glob("*.json"))
