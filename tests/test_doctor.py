"""`agents doctor`: plain lines, ok / warn / FIX, exit 1 only when something required is missing."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from conftest import AGENTS, ROOT, Repo, Tmux

LINE = re.compile(r"^(agents\.tmux doctor|  (ok|warn|FIX) {2,4}\S.*|all good|some things need fixing \(lines marked FIX\))$")


def assert_plain(text: str) -> None:
    assert "Traceback" not in text
    for line in text.splitlines():
        assert LINE.match(line), line


def test_plugin_loaded_and_agent_present_is_all_good(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    tmux.load_plugin()
    result = tmux.agents("doctor", check=False)
    assert_plain(result.stdout)
    assert result.stderr == ""
    out = result.stdout
    for expected in (r"ok    tmux \d", r"ok    git version", r"ok    Python 3\.", r"ok    libtmux 0\.",
                     rf"ok    agent claude: {re.escape(str(standin_agent))}$", r"ok    the plugin is loaded",
                     r"ok    the status bar shows the agents"):
        assert re.search(expected, out, re.M), (expected, out)
    assert "FIX" not in out
    assert re.search(r"^  ok    the plugin is loaded .*; its spawn key is prefix \+ A$", out, re.M), out

    # A key moved by the plugin is found under its new name; one taken over since is said.
    tmux.run("set-option", "-g", "@agents-key", "N")
    tmux.load_plugin()
    assert re.search(r"its spawn key is prefix \+ N$", tmux.agents("doctor", check=False).stdout, re.M)
    tmux.run("bind-key", "-T", "prefix", "N", "display-message", "mine")
    taken = tmux.agents("doctor", check=False)
    assert_plain(taken.stdout)
    assert "warn  the plugin is loaded" in taken.stdout and "prefix + N no longer spawns" in taken.stdout, taken.stdout
    assert out.rstrip().endswith("all good")
    assert result.returncode == 0


def test_missing_agent_command_is_a_fix_and_exit_1(tmux: Tmux, repo: Repo, tmp_path: Path) -> None:
    tmux.load_plugin()
    missing = tmp_path / "no-such-agent"
    tmux.run("set-option", "-g", "@agents-command", str(missing))
    result = tmux.agents("doctor", check=False)
    assert_plain(result.stdout)
    assert result.returncode == 1
    fixes = [line for line in result.stdout.splitlines() if line.startswith("  FIX")]
    assert len(fixes) == 1 and str(missing) in fixes[0] and "default agent" in fixes[0], result.stdout
    assert result.stdout.rstrip().endswith("some things need fixing (lines marked FIX)")


def test_plugin_not_loaded_is_a_fix(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    result = tmux.agents("doctor", check=False)
    assert_plain(result.stdout)
    assert result.returncode == 1
    assert re.search(r"^  FIX   the plugin is not loaded", result.stdout, re.M), result.stdout
    # Both ways out name this plugin's own file; the one for now works pasted into a shell.
    assert f"run-shell {ROOT / 'agents.tmux'}` (or the TPM line)" in result.stdout
    now = result.stdout.split("or load it now: ", 1)[1].splitlines()[0]
    assert subprocess.run(now, shell=True, env=tmux.env, check=False).returncode == 0
    assert tmux.agents("doctor").returncode == 0


def test_spawn_key_turned_off_still_counts_as_loaded(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    tmux.run("set-option", "-g", "@agents-key", "none")
    tmux.load_plugin()
    result = tmux.agents("doctor", check=False)
    assert_plain(result.stdout)
    assert result.returncode == 0, result.stdout
    assert "spawn key is unbound" in result.stdout


def test_no_server_is_a_warning_not_a_traceback(test_env: dict[str, str], repo: Repo) -> None:
    result = subprocess.run(
        [str(AGENTS), "-L", "agents-test-no-such-server", "doctor"], env=test_env,
        cwd=repo.path, capture_output=True, text=True, timeout=60, check=False,
    )
    assert_plain(result.stdout)
    assert result.stderr == ""
    assert re.search(r"^  warn  cannot ask tmux", result.stdout, re.M), result.stdout


def test_outside_tmux_it_says_how_to_start_it_in_a_line_that_works_pasted(test_env: dict[str, str], repo: Repo, tmp_path: Path) -> None:
    # A plain terminal with no tmux server anywhere (private sockets), in the repository, not the plugin's folder.
    env = {**test_env, "TMUX_TMPDIR": str(tmp_path / "sockets")}
    (tmp_path / "sockets").mkdir()
    result = subprocess.run([str(AGENTS), "doctor"], env=env, cwd=repo.path, capture_output=True, text=True, timeout=60, check=False)
    assert_plain(result.stdout)
    assert f"  warn  not inside tmux: start it with `{AGENTS} up`" in result.stdout, result.stdout
