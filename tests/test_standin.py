"""Tests of the stand-in agent (tests/standin/claude) on its own, without tmux.

The stand-in replaces Claude Code in the rest of the suite, so it must keep
Claude's interface: flags and their refusals, hook events in order with the
same payloads, sessions and transcripts, the trust screen.
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

STANDIN = Path(__file__).resolve().parent / "standin" / "claude"
PLAIN = Path(__file__).resolve().parent / "standin" / "plain-agent"
EVENTS = ["SessionStart", "UserPromptSubmit", "PreToolUse", "PermissionRequest",
          "Notification", "PostToolUse", "Stop", "SessionEnd"]


@pytest.fixture
def env(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    proj = tmp_path / "my_proj.x"
    proj.mkdir()
    events = tmp_path / "events.jsonl"
    hook = f"cat >> '{events}'; echo >> '{events}'"
    settings = {"hooks": {e: [{"hooks": [{"type": "command", "command": hook}]}]
                          for e in EVENTS}}
    settings["hooks"]["PreToolUse"][0]["matcher"] = "Bash|Edit"
    settings_file = tmp_path / "settings.json"
    settings_file.write_text(json.dumps(settings))
    e = dict(os.environ)
    e.update({"HOME": str(home), "STANDIN_LOG": str(tmp_path / "log.jsonl"),
              "TMUX_PANE": "%42"})
    e.pop("CLAUDE_CONFIG_DIR", None)

    class Env:
        pass

    x = Env()
    x.home, x.proj, x.events, x.settings, x.environ = home, proj, events, settings_file, e
    x.log = tmp_path / "log.jsonl"
    x.tmp = tmp_path
    return x


def run(env, args, stdin="", prog=STANDIN, timeout=10, direct=False):
    # Through this interpreter by default (skips a slow `env python3` shim);
    # direct=True executes the file itself, shebang and all.
    cmd = [str(prog), *args] if direct else [sys.executable, str(prog), *args]
    return subprocess.run(cmd, input=stdin, cwd=env.proj, env=env.environ,
                          capture_output=True, text=True, timeout=timeout)


def events(env):
    if not env.events.exists():
        return []
    return [json.loads(line) for line in env.events.read_text().splitlines() if line.strip()]


def log(env):
    if not env.log.exists():
        return []
    return [json.loads(line) for line in env.log.read_text().splitlines() if line.strip()]


def wait_log(env, pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for rec in log(env):
            if pred(rec):
                return rec
        time.sleep(0.02)
    raise AssertionError("log record not seen; log: %r" % log(env))


def project_dir(env):
    # Claude turns every non-alphanumeric character of the folder into '-'.
    mangled = "".join(c if c.isascii() and c.isalnum() else "-" for c in str(env.proj))
    return env.home / ".claude" / "projects" / mangled


# --- flags --------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--bogus"], "error: unknown option '--bogus'"),
    (["-x"], "error: unknown option '-x'"),
    (["--session-id", "not-a-uuid"], "Error: Invalid session ID. Must be a valid UUID."),
    (["--permission-mode", "yolo"], "error: option '--permission-mode <mode>' argument 'yolo'"),
    (["--settings"], "error: option '--settings <file-or-json>' argument missing"),
    (["--settings", "{not json}"], "Error: Invalid JSON provided to --settings"),
    (["--settings", "missing.json"], "Error: Settings file not found:"),
    (["--resume", str(uuid.UUID(int=1)), "--session-id", str(uuid.UUID(int=2))],
     "Error: --session-id can only be used with --continue or --resume"),
    (["-c", "--session-id", str(uuid.UUID(int=2))],
     "Error: --session-id can only be used with --continue or --resume"),
    (["one", "two"], "error: too many arguments"),
    (["--resume", str(uuid.UUID(int=7))], "No conversation found with session ID: "
     + str(uuid.UUID(int=7))),
    (["--continue"], "No conversation found to continue"),
])
def test_rejected_flags(env, args, message):
    r = run(env, args)
    assert r.returncode == 1
    assert message in r.stdout + r.stderr
    assert events(env) == []  # nothing started, no hook fired


def test_version_and_help(env):
    r = run(env, ["--version"], direct=True)
    assert (r.returncode, r.stdout) == (0, "2.1.197 (Claude Code)\n")
    assert run(env, ["-v"]).stdout == "2.1.197 (Claude Code)\n"
    r = run(env, ["-h"])
    assert r.returncode == 0 and "--session-id <uuid>" in r.stdout


def test_commander_style_values(env):
    """Values are taken as commander takes them: --opt=value, -nNAME, and an
    optional [value] that does not swallow the next option."""
    r = run(env, ["-nplanner", "--model=opus", "--append-system-prompt", "be brief",
                  "--settings", str(env.settings), "task one"], stdin="/exit\n")
    assert r.returncode == 0, r.stderr
    start = log(env)[0]
    assert start["event"] == "start"
    assert start["name"] == "planner"
    assert start["prompt"] == "task one"
    assert start["append_system_prompt"] == "be brief"
    assert start["tmux_pane"] == "%42"
    assert start["options"]["model"] == "opus"


def test_variadic_add_dir_swallows_prompt(env):
    # As in commander, --add-dir <dirs...> takes the following operands too.
    r = run(env, ["--add-dir", ".", "the prompt"], stdin="/exit\n")
    assert r.returncode == 0
    start = log(env)[0]
    assert start["prompt"] is None
    assert start["options"]["add_dir"] == [".", "the prompt"]


# --- one whole turn -----------------------------------------------------------------

def test_whole_turn_hook_order_and_payloads(env):
    sid = str(uuid.uuid4())
    r = run(env, ["--settings", str(env.settings), "--session-id", sid, "fix the bug"],
            stdin="/tool\n1\n/done\n/exit\n")
    assert r.returncode == 0, r.stderr
    got = events(env)
    assert [e["hook_event_name"] for e in got] == EVENTS
    transcript = str(project_dir(env) / f"{sid}.jsonl")
    for e in got:
        assert e["session_id"] == sid
        assert e["transcript_path"] == transcript
        assert e["cwd"] == str(env.proj)
    by = {e["hook_event_name"]: e for e in got}
    assert by["SessionStart"]["source"] == "startup" and by["SessionStart"]["model"]
    assert by["UserPromptSubmit"]["prompt"] == "fix the bug"
    assert by["UserPromptSubmit"]["prompt_id"]
    assert by["UserPromptSubmit"]["permission_mode"] == "default"
    pre = by["PreToolUse"]
    assert pre["tool_name"] == "Bash"
    assert set(pre["tool_input"]) == {"command", "description"}
    assert pre["tool_use_id"].startswith("toolu_")
    assert by["PostToolUse"]["tool_use_id"] == pre["tool_use_id"]
    assert "tool_response" in by["PostToolUse"]
    assert by["Notification"]["notification_type"] == "permission_prompt"
    assert by["Notification"]["message"] == "Claude needs your permission to use Bash"
    assert by["Stop"]["stop_hook_active"] is False
    assert by["Stop"]["last_assistant_message"]
    assert by["SessionEnd"]["reason"] == "prompt_input_exit"
    # The screens went through the states the detector looks for.
    screens = [rec["state"] for rec in log(env) if rec["event"] == "screen"]
    assert screens == ["idle", "working", "permission", "working", "idle"]
    assert "✶ Working… (" in r.stdout and "esc to interrupt" in r.stdout
    assert "Do you want to proceed?" in r.stdout and "❯ 1. Yes" in r.stdout
    assert "Esc to cancel" in r.stdout
    assert "✻ Worked for " in r.stdout and "? for shortcuts" in r.stdout
    # The transcript holds the prompt and the reply.
    lines = [json.loads(x) for x in Path(transcript).read_text().splitlines()]
    assert [x["type"] for x in lines] == ["user", "assistant"]
    assert all(x["sessionId"] == sid for x in lines)


def test_hook_environment_and_inline_settings(env):
    out = env.tmp / "hookenv.txt"
    settings = {"hooks": {"SessionStart": [{"matcher": "startup", "hooks": [
        {"type": "command", "command": f'echo "$TMUX_PANE $CLAUDE_PROJECT_DIR $PWD" > {out}'}]}]}}
    r = run(env, ["--settings", json.dumps(settings)], stdin="")
    assert r.returncode == 0  # EOF ends the session
    assert out.read_text().split() == ["%42", str(env.proj), str(env.proj)]
    assert [rec["payload"]["reason"] for rec in log(env) if rec["event"] == "SessionEnd"] \
        == ["other"]


def test_failing_hook_is_reported_and_matchers_apply(env):
    settings = {"hooks": {
        "Stop": [{"hooks": [{"type": "command", "command": "exit 7"}]}],
        "PreToolUse": [{"matcher": "Edit", "hooks": [
            {"type": "command", "command": f"touch {env.tmp}/edit-matched"}]}]}}
    r = run(env, ["--settings", json.dumps(settings), "go"], stdin="/tool\ny\n/done\n/exit\n")
    assert r.returncode == 0
    assert "hook error: Stop: exit 7" in r.stdout
    assert not (env.tmp / "edit-matched").exists()


def test_reject_interrupts_without_stop(env):
    r = run(env, ["--settings", str(env.settings), "go"], stdin="/tool\n2\n/exit\n")
    assert r.returncode == 0
    names = [e["hook_event_name"] for e in events(env)]
    assert names == ["SessionStart", "UserPromptSubmit", "PreToolUse", "PermissionRequest",
                     "Notification", "SessionEnd"]


def test_bypass_permissions_skips_the_prompt(env):
    r = run(env, ["--settings", str(env.settings), "--dangerously-skip-permissions", "go"],
            stdin="/tool\n/done\n/exit\n")
    assert r.returncode == 0
    names = [e["hook_event_name"] for e in events(env)]
    assert names == ["SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop",
                     "SessionEnd"]
    assert {e["permission_mode"] for e in events(env) if "permission_mode" in e} \
        == {"bypassPermissions"}


def test_crash_fires_no_session_end(env):
    r = run(env, ["--settings", str(env.settings)], stdin="/crash\n")
    assert r.returncode == 3
    assert [e["hook_event_name"] for e in events(env)] == ["SessionStart"]


def test_sigint_ends_the_session(env):
    p = subprocess.Popen([sys.executable, str(STANDIN), "--settings", str(env.settings)],
                         cwd=env.proj, env=env.environ, stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_log(env, lambda rec: rec.get("event") == "screen" and rec["state"] == "idle")
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=5) == 130
    finally:
        if p.poll() is None:
            p.kill()
    assert [e["hook_event_name"] for e in events(env)] == ["SessionStart", "SessionEnd"]
    assert events(env)[-1]["reason"] == "other"


def test_session_end_hooks_get_a_short_budget(env):
    settings = {"hooks": {"SessionEnd": [{"hooks": [
        {"type": "command", "command": f"sleep 3; touch {env.tmp}/late"}]}]}}
    env.environ["CLAUDE_CODE_SESSIONEND_HOOKS_TIMEOUT_MS"] = "200"
    t0 = time.monotonic()
    assert run(env, ["--settings", json.dumps(settings)], stdin="/exit\n").returncode == 0
    assert time.monotonic() - t0 < 2.5
    time.sleep(0.1)
    assert not (env.tmp / "late").exists()


def test_prompt_typed_while_working_is_queued(env):
    r = run(env, ["--settings", str(env.settings), "first"],
             stdin="second\n/done\n/done\n/exit\n")
    assert r.returncode == 0
    got = [(e["hook_event_name"], e.get("prompt")) for e in events(env)]
    assert got == [("SessionStart", None), ("UserPromptSubmit", "first"), ("Stop", None),
                   ("UserPromptSubmit", "second"), ("Stop", None), ("SessionEnd", None)]


def test_invalid_settings_file_blocks_on_settings_error(env):
    bad = env.tmp / "bad.json"
    bad.write_text(json.dumps({"hooks": {"Stopp": []}}))
    r = run(env, ["--settings", str(bad)], stdin="1\n")
    assert r.returncode == 1
    assert "Settings Error" in r.stdout and "Stopp" in r.stdout
    assert not [rec for rec in log(env) if rec["event"] == "SessionStart"]


def test_print_mode(env):
    r = run(env, ["--settings", str(env.settings), "-p", "say hi"])
    assert (r.returncode, r.stdout) == (0, "Done: say hi\n")
    assert [e["hook_event_name"] for e in events(env)] == [
        "SessionStart", "UserPromptSubmit", "Stop", "SessionEnd"]


# --- sessions -----------------------------------------------------------------------

def test_resume_existing_session_reuses_transcript(env):
    sid = str(uuid.uuid4())
    assert run(env, ["--settings", str(env.settings), "--session-id", sid, "first"],
               stdin="/done\n/exit\n").returncode == 0
    transcript = project_dir(env) / f"{sid}.jsonl"
    assert len(transcript.read_text().splitlines()) == 2
    env.events.unlink()
    r = run(env, ["--settings", str(env.settings), "--resume", sid, "second"],
            stdin="/done\n/exit\n")
    assert r.returncode == 0, r.stderr
    got = events(env)
    assert got[0]["hook_event_name"] == "SessionStart" and got[0]["source"] == "resume"
    assert {e["session_id"] for e in got} == {sid}
    assert {e["transcript_path"] for e in got} == {str(transcript)}
    lines = [json.loads(x) for x in transcript.read_text().splitlines()]
    assert [x["type"] for x in lines] == ["user", "assistant", "user", "assistant"]
    assert lines[2]["parentUuid"] == lines[1]["uuid"]
    # The id is taken now: a new session may not claim it.
    r = run(env, ["--session-id", sid])
    assert r.returncode == 1 and f"Session ID {sid} is already in use" in r.stderr
    # --continue picks the newest conversation of the folder.
    env.events.unlink()
    r = run(env, ["--settings", str(env.settings), "-c"], stdin="/exit\n")
    assert r.returncode == 0
    assert events(env)[0]["session_id"] == sid and events(env)[0]["source"] == "resume"


def test_session_without_a_prompt_cannot_be_resumed(env):
    # Claude writes the transcript with the first message: a session that
    # never got a prompt leaves nothing to resume.
    sid = str(uuid.uuid4())
    assert run(env, ["--session-id", sid], stdin="/exit\n").returncode == 0
    r = run(env, ["--resume", sid], stdin="/exit\n")
    assert r.returncode == 1
    assert f"No conversation found with session ID: {sid}" in r.stderr


def test_fork_session_takes_a_new_id(env):
    sid, fork = str(uuid.uuid4()), str(uuid.uuid4())
    run(env, ["--session-id", sid, "first"], stdin="/done\n/exit\n")
    r = run(env, ["--settings", str(env.settings), "--resume", sid, "--fork-session",
                  "--session-id", fork], stdin="/exit\n")
    assert r.returncode == 0, r.stderr
    assert events(env)[0]["session_id"] == fork
    assert (project_dir(env) / f"{fork}.jsonl").exists()


def test_clear_starts_a_new_session(env):
    r = run(env, ["--settings", str(env.settings)], stdin="/clear\n/exit\n")
    assert r.returncode == 0
    got = [(e["hook_event_name"], e.get("source") or e.get("reason"), e["session_id"])
           for e in events(env)]
    assert [g[:2] for g in got] == [("SessionStart", "startup"), ("SessionEnd", "clear"),
                                    ("SessionStart", "clear"),
                                    ("SessionEnd", "prompt_input_exit")]
    assert got[0][2] == got[1][2] != got[2][2] == got[3][2]


# --- trust --------------------------------------------------------------------------

def write_config(env, projects):
    (env.home / ".claude.json").write_text(json.dumps(
        {"hasCompletedOnboarding": True, "projects": projects}))


def test_trust_screen_fires_no_hook_until_accepted(env):
    write_config(env, {})
    p = subprocess.Popen([sys.executable, str(STANDIN), "--settings", str(env.settings), "task"],
                         cwd=env.proj, env=env.environ, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_log(env, lambda rec: rec.get("event") == "screen" and rec["state"] == "trust")
        time.sleep(0.1)
        assert events(env) == []
        out, _ = p.communicate("1\n/exit\n", timeout=5)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0
    assert "Quick safety check: Is this a project you created or one you trust?" in out
    assert "❯ 1. Yes, I trust this folder" in out
    assert [e["hook_event_name"] for e in events(env)][:2] == ["SessionStart",
                                                               "UserPromptSubmit"]
    config = json.loads((env.home / ".claude.json").read_text())
    assert config["projects"][str(env.proj)]["hasTrustDialogAccepted"] is True
    # Trusted now: no screen the second time.
    env.log.unlink()
    assert run(env, [], stdin="/exit\n").returncode == 0
    assert "trust" not in [rec.get("state") for rec in log(env)]


def test_trust_refused_exits_1_without_hooks(env):
    write_config(env, {})
    r = run(env, ["--settings", str(env.settings)], stdin="2\n")
    assert r.returncode == 1
    assert events(env) == []


def test_bypass_disclaimer_defaults_to_exit(env):
    write_config(env, {str(env.proj): {"hasTrustDialogAccepted": True}})
    r = run(env, ["--settings", str(env.settings), "--dangerously-skip-permissions"],
            stdin="\n")
    assert r.returncode == 1
    assert "Bypass Permissions mode" in r.stdout
    assert events(env) == []


def test_trusted_parent_folder_counts(env):
    write_config(env, {str(env.proj.parent): {"hasTrustDialogAccepted": True}})
    assert run(env, [], stdin="/exit\n").returncode == 0
    assert [rec["state"] for rec in log(env) if rec["event"] == "screen"] == ["idle"]


# --- plain-agent --------------------------------------------------------------------

def test_plain_agent(env):
    assert os.readlink(PLAIN) == "claude"
    r = run(env, ["--settings", str(env.settings)], prog=PLAIN)
    assert r.returncode == 1 and "unknown option '--settings'" in r.stderr
    write_config(env, {})  # no trust screen for a generic agent
    r = run(env, ["do it"], prog=PLAIN, stdin="/tool\n1\n/done\n/exit\n", direct=True)
    assert r.returncode == 0
    assert events(env) == []
    assert not (env.home / ".claude" / "projects").exists()
    screens = [rec["state"] for rec in log(env) if rec["event"] == "screen"]
    assert screens == ["idle", "working", "permission", "working", "idle"]
    assert "Do you want to proceed?" in r.stdout and "? for shortcuts" in r.stdout
    inputs = [rec["line"] for rec in log(env) if rec["event"] == "input"]
    assert inputs == ["/tool", "1", "/done", "/exit"]
