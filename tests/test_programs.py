"""Program adapters (agents_tmux.programs): which adapter a config kind gets, and what it builds.

Every module of the package is checked against the interface here, so a new
program's own test file only needs what is particular to that program. The
Claude adapter's command lines are checked word for word; that Claude really
runs them is tests/test_claude_e2e.py's job.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from agents_tmux import config, programs
from agents_tmux.errors import AgentsError
from agents_tmux.launch import resume_command, start_command
from conftest import ROOT

SRC = ROOT / "python" / "src"


@pytest.fixture
def user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Write a user config file; load() then reads it over the built-in defaults."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("AGENTS_TMUX_CONFIG", raising=False)

    def write(text: str) -> config.Config:
        path = tmp_path / "xdg" / "agents-tmux" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return config.load(None)

    return write


@pytest.mark.parametrize("name", programs.names())
def test_every_adapter_keeps_to_the_interface(name: str) -> None:
    program = programs.get(name)
    assert isinstance(program, programs.Program)
    assert program.name == name
    assert set(program.screen) <= set(programs.STATES)
    assert all(isinstance(event, str) for event in program.hook_events)
    assert program.has_hooks == bool(program.hook_events)


@pytest.mark.parametrize("name", [n for n in programs.names() if n != programs.GENERIC])
def test_every_adapter_imports_only_the_standard_library(name: str) -> None:
    """The hook handler imports the adapter for every event: nothing but the stdlib, nothing slow."""
    code = (
        f"import sys; sys.path.insert(0, {str(SRC)!r}); before = set(sys.modules);"
        f"import agents_tmux.programs.{name};"
        "print(sorted(m for m in set(sys.modules) - before if not m.startswith('agents_tmux')))"
    )
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True).stdout
    slow = {"json", "subprocess", "shutil", "re", "typing", "dataclasses", "pathlib", "uuid", "libtmux", "tomllib"}
    assert not slow & set(json.loads(out.replace("'", '"')))


@pytest.mark.parametrize("name", ["", "Claude", "../claude", "no_such_program", "__init__"])
def test_unknown_program_names(name: str) -> None:
    with pytest.raises(KeyError):
        programs.get(name)


def test_built_in_claude_kind_uses_the_claude_adapter(user_config) -> None:  # type: ignore[no-untyped-def]
    kind = user_config("").agent_kind("claude")
    assert (kind.program, kind.hooks) == ("claude", "claude")
    assert kind.screen["waiting"][0] == "Do you want to proceed\\?"
    assert set(kind.screen) == {"waiting", "working", "idle"}


def test_older_hooks_claude_alone_still_selects_the_claude_adapter(user_config) -> None:  # type: ignore[no-untyped-def]
    kind = user_config('[agents.mine]\ncommand = ["claude", "--model", "x"]\nhooks = "claude"\n').agent_kind("mine")
    assert (kind.program, kind.hooks) == ("claude", "claude")
    assert kind.screen == programs.get("claude").screen


def test_program_with_hooks_off_is_read_from_the_screen(user_config) -> None:  # type: ignore[no-untyped-def]
    kind = user_config('[agents.quiet]\ncommand = ["claude"]\nprogram = "claude"\nhooks = "none"\n').agent_kind("quiet")
    assert (kind.program, kind.hooks) == ("claude", "none")
    launch = start_command(kind, "Fix it")
    assert launch.argv == ("claude", "Fix it")
    assert launch.session_id == ""


def test_kind_without_program_is_generic(user_config) -> None:  # type: ignore[no-untyped-def]
    cfg = user_config('[agents.tool]\ncommand = "mytool --fast"\nprompt = "flag:--task"\n[agents.tool.screen]\nidle = ["> $"]\n')
    kind = cfg.agent_kind("tool")
    assert (kind.program, kind.hooks) == ("generic", "none")
    assert kind.screen == {"idle": ("> $",)}
    assert start_command(kind, "-x do it").argv == ("mytool", "--fast", "--task", "-x do it")


def test_a_kind_screen_table_replaces_the_program_patterns_state_by_state(user_config) -> None:  # type: ignore[no-untyped-def]
    kind = user_config('[agents.claude.screen]\nidle = ["ready>"]\n').agent_kind("claude")
    assert kind.screen["idle"] == ("ready>",)
    assert kind.screen["working"] == programs.get("claude").screen["working"]


@pytest.mark.parametrize(
    ("table", "key", "expected"),
    [
        ('program = "nope"', "agents.bad.program", "expected one of"),
        ('program = 3', "agents.bad.program", "expected a string"),
        ('hooks = "nope"', "agents.bad.hooks", "expected none or one of"),
        ('program = "generic"\nhooks = "claude"', "agents.bad.hooks", "expected none"),
    ],
)
def test_bad_program_or_hooks_is_one_clear_line(user_config, table: str, key: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AgentsError) as caught:
        user_config(f'[agents.bad]\ncommand = ["x"]\n{table}\n')
    message = str(caught.value)
    assert "\n" not in message
    assert key in message
    assert expected in message


def test_claude_start_command_word_for_word(user_config) -> None:  # type: ignore[no-untyped-def]
    kind = user_config("").agent_kind("claude")
    launch = start_command(kind, "-v is broken", system_prompt="Be brief", add_dirs=["/ctx"])
    settings = Path(launch.argv[4])
    assert launch.argv == (
        "claude", "--add-dir", "/ctx", "--settings", str(settings), "--session-id", launch.session_id,
        "--append-system-prompt", "Be brief", " -v is broken",
    )
    hooks = json.loads(settings.read_text(encoding="utf-8"))["hooks"]
    assert set(hooks) == set(programs.get("claude").hook_events)
    command = hooks["Stop"][0]["hooks"][0]["command"]
    assert command.endswith("run_hook.py claude")
    assert hooks["PreToolUse"][0]["matcher"] == "*"


def test_claude_resume_and_continue(user_config) -> None:  # type: ignore[no-untyped-def]
    kind = user_config("").agent_kind("claude")
    session = "403be560-9d55-4a51-8a7b-0c9f1e2d3a4b"
    resumed = resume_command(kind, session)
    assert resumed.argv[0] == "claude" and resumed.argv[1] == "--settings"
    assert resumed.argv[3:] == ("--resume", session)
    # Anything else never reaches argv (issue 10 item 5).
    for bad in ("1234", "--dangerously-skip-permissions", "../../x"):
        with pytest.raises(AgentsError, match="not a claude session id"):
            resume_command(kind, bad)
    assert resume_command(kind, "").argv[3:] == ("--continue",)


def test_claude_transcript_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "cc"))
    claude = programs.get("claude")
    worktree = tmp_path / "my_repo.agents" / "fix"
    folder = tmp_path / "cc" / "projects" / str(worktree).replace("/", "-").replace("_", "-").replace(".", "-")
    assert claude.transcript(worktree, "abc") is None
    assert claude.has_conversations(worktree) is False
    folder.mkdir(parents=True)
    (folder / "abc.jsonl").write_text('{"type": "summary"}\n{"type": "user", "message": {}}\n', encoding="utf-8")
    assert claude.transcript(worktree, "abc") == folder / "abc.jsonl"
    assert claude.has_conversations(worktree) is True
    assert programs.get("generic").has_conversations(worktree) is None


def test_every_shipped_screen_pattern_compiles(user_config) -> None:  # type: ignore[no-untyped-def]
    """Loading the config compiles only a user's patterns (each spawn loads it): the shipped ones are checked here."""
    import re

    cfg = user_config("")
    shipped = [p for kind in cfg.agents.values() for patterns in kind.screen.values() for p in patterns]
    assert shipped
    for pattern in shipped:
        re.compile(pattern, re.MULTILINE)


def test_a_bad_pattern_of_a_user_is_still_a_located_error(user_config) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(config.ConfigError, match=r"agents\.claude\.screen\.idle: invalid regular expression"):
        user_config('[agents.claude]\ncommand = "claude"\n[agents.claude.screen]\nidle = ["(unclosed"]\n')
    with pytest.raises(config.ConfigError, match=r"agents\.tool\.screen\.idle: invalid regular expression"):
        user_config('[agents.tool]\ncommand = "tool"\n[agents.tool.screen]\nidle = ["[x"]\n')


def _pane_envs(kind: config.AgentKind) -> list[dict[str, str]]:
    """The pane environments spawn and restart/restore give an agent of ``kind`` (built without tmux)."""
    from agents_tmux.spawn import pane_environment

    cfg = config.load(None)
    return [pane_environment(launch, cfg, kind, "a") for launch in (
        start_command(kind, "Fix it"), start_command(kind, ""),
        resume_command(kind, "403be560-9d55-4a51-8a7b-0c9f1e2d3a4b"), resume_command(kind, ""),
    )]


@pytest.mark.parametrize("table", [
    "",  # the built-in kind
    '[agents.mine]\ncommand = ["/opt/bin/gemini", "-m", "x"]\nprogram = "gemini"\nenv = { GEMINI_MODEL = "x" }\n',
    '[agents.mine]\ncommand = ["gemini"]\nprogram = "gemini"\nhooks = "none"\nenv = { PATH = "/usr/bin:/bin" }\n',
    # No adapter named, but the command runs gemini: the same trap, the same fix.
    '[agents.mine]\ncommand = ["gemini", "--yolo"]\nprompt = "flag:--prompt-interactive"\n',
    '[agents.gemini]\ncommand = ["gemini"]\nprogram = "gemini"\nenv = { FOO = "bar" }\n',
])
def test_every_gemini_pane_gets_ci_emptied(user_config, monkeypatch: pytest.MonkeyPatch, table: str) -> None:  # type: ignore[no-untyped-def]
    """With CI=true Gemini CLI takes itself for headless: any kind running it has CI and GITHUB_ACTIONS emptied."""
    monkeypatch.setenv("CI", "true")
    cfg = user_config(table)
    kind = cfg.agent_kind("mine" if "agents.mine" in table else "gemini")
    for env in _pane_envs(kind):
        assert (env["CI"], env["GITHUB_ACTIONS"]) == ("", "")
        assert all(env[key] == value for key, value in kind.env.items())


def test_a_kind_may_still_set_ci_itself_and_other_programs_keep_it(user_config) -> None:  # type: ignore[no-untyped-def]
    cfg = user_config(
        '[agents.mine]\ncommand = ["gemini"]\nprogram = "gemini"\nenv = { CI = "true" }\n'
        '[agents.other]\ncommand = ["gemini-tools", "x"]\n'
    )
    assert {env["CI"] for env in _pane_envs(cfg.agent_kind("mine"))} == {"true"}
    for name in ("claude", "codex", "aider", "other"):
        for env in _pane_envs(cfg.agent_kind(name)):
            assert "CI" not in env and "GITHUB_ACTIONS" not in env, name
