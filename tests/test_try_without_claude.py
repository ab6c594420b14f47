"""The README's "Try it without Claude Code" recipe, as written there.

A kind of your own with ``program = "claude"`` (the stand-in, a wrapper) is
Claude: it is restarted and restored into the same conversation and takes a
team role's prompt, as the built-in kind does. Likewise for every program.
"""

from __future__ import annotations

import re
from pathlib import Path

from conftest import ROOT, Repo, Tmux, pane_of, read_standin_log, wait_for

from agents_tmux import config
from agents_tmux.launch import start_command


def _readme_recipe() -> str:
    """The first TOML block of the README's "Try it without Claude Code", with the plugin's folder filled in."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Try it without Claude Code", 1)[1]
    block = re.search(r"```toml\n(.*?)```", section, re.S)
    assert block is not None
    return block.group(1).replace("/path/to/agents.tmux", str(ROOT))


def _starts(tmux: Tmux) -> list[list[str]]:
    return [entry["argv"] for entry in read_standin_log(tmux.env) if entry["event"] == "start"]


def _after(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv else None


def test_the_readme_standin_restarts_and_restores_into_its_conversation(tmux: Tmux, repo: Repo) -> None:
    path = tmux.home / ".config" / "agents-tmux" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(_readme_recipe(), encoding="utf-8")
    tmux.load_plugin()
    name = tmux.agents("spawn", "Fix the parser", "-d").stdout.strip()
    pane = pane_of(tmux, name)
    wait_for(lambda: tmux.option(pane, "@agent_transcript") and Path(tmux.option(pane, "@agent_transcript")).exists(),
             message="the first turn's transcript")
    session = tmux.option(pane, "@agent_session_id")
    assert session and _after(_starts(tmux)[0], "--session-id") == session, _starts(tmux)

    tmux.run("send-keys", "-t", pane, "-l", "/exit")
    tmux.run("send-keys", "-t", pane, "Enter")
    wait_for(lambda: tmux.option(pane, "@agent_state") == "exited", message="the agent to exit")
    out = tmux.agents("restart", name).stdout
    assert f"resumed session {session}" in out, out
    wait_for(lambda: len(_starts(tmux)) == 2, message="the restarted agent")
    assert _after(_starts(tmux)[1], "--resume") == session, _starts(tmux)
    assert "Fix the parser" in tmux.agents("log", name).stdout

    tmux.restart()
    assert f"restored {name}" in tmux.agents("restore").stdout
    wait_for(lambda: len(_starts(tmux)) == 3, message="the restored agent")
    assert _after(_starts(tmux)[2], "--resume") == session, _starts(tmux)


def test_a_kind_naming_a_program_runs_it_as_the_built_in_kind_does(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("AGENTS_TMUX_CONFIG", raising=False)
    path = tmp_path / "xdg" / "agents-tmux" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(
        '[agents.my-claude]\ncommand = ["/opt/claude-wrapper"]\nprogram = "claude"\n'
        '[agents.old-style]\ncommand = ["claude-wrapper"]\nhooks = "claude"\n'
        '[agents.my-gemini]\ncommand = ["gemini", "-m", "x"]\nprogram = "gemini"\n'
        '[agents.my-aider]\ncommand = ["aider", "--dark"]\nprogram = "aider"\n'
        '[agents.my-codex]\ncommand = ["codex"]\nprogram = "codex"\nresume = []\n'
        '[agents.mine]\ncommand = ["mytool"]\nprompt = "keys"\n'
        '[agents.claude-own-flags]\ncommand = ["c"]\nprogram = "claude"\nprompt = "keys"\nsession_id_flag = ""\n',
        encoding="utf-8",
    )
    cfg = config.load(None)
    for name in ("my-claude", "old-style", "my-gemini", "my-aider", "my-codex"):
        kind, builtin = cfg.agent_kind(name), cfg.agent_kind(cfg.agent_kind(name).program)
        for key in ("prompt", "session_id_flag", "continue_args", "system_prompt_flag", "add_dir_flag", "env"):
            assert getattr(kind, key) == getattr(builtin, key), (name, key)
    assert cfg.agent_kind("my-claude").resume == ("--resume", "{session_id}")
    assert cfg.agent_kind("my-codex").resume == ()  # what a kind sets stays its own
    launch = start_command(cfg.agent_kind("my-gemini"), "Fix it")
    assert launch.argv[:3] == ("gemini", "-m", "x") and launch.argv[-2:] == ("--prompt-interactive", "Fix it")
    assert start_command(cfg.agent_kind("my-aider"), "Fix it").typed_prompt == "Fix it"
    own = cfg.agent_kind("claude-own-flags")
    assert (own.prompt, own.session_id_flag, own.resume) == ("keys", "", ("--resume", "{session_id}"))
    generic = cfg.agent_kind("mine")
    assert (generic.session_id_flag, generic.resume, generic.continue_args) == ("", (), ())


def test_the_readme_standin_starts_the_built_in_team(tmux: Tmux, repo: Repo) -> None:
    # The built-in roles take the default agent kind: with the recipe that is the stand-in, not a missing `claude`.
    path = tmux.home / ".config" / "agents-tmux" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(_readme_recipe(), encoding="utf-8")
    tmux.load_plugin()
    out = tmux.agents("team", "--task", "Plan the parser", "--force", check=False)
    assert out.returncode == 0, out.stderr
    kinds = {line.split("\t")[0]: line.split("\t")[1]
             for line in tmux.run("list-panes", "-a", "-F", "#{@agent_role}\t#{@agent_kind}").splitlines() if line.split("\t")[0]}
    assert kinds == {"planner": "standin", "coder": "standin", "reviewer": "standin"}, kinds
    wait_for(lambda: len(_starts(tmux)) == 3, message="the three members to start")
    # Each member gets its role's prompt, as the built-in claude kind would.
    assert all(_after(argv, "--append-system-prompt") for argv in _starts(tmux)), _starts(tmux)
