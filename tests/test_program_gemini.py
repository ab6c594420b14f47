"""The real Gemini CLI, spawned through the plugin, driven against a fake Gemini API on loopback.

`agents spawn --agent gemini TASK` opens the real `gemini` (0.61, installed by scripts/test
into .cache/agent-clis) in an agent pane on its own worktree, with agents.tmux's hooks in
the worktree's own `.gemini/settings.json` (git never sees it; the user's
~/.gemini/settings.json is not touched). Its model is tests/support/fake_gemini.py.
One program start serves the whole state matrix (tests/support/state_matrix.py): start
with a task, a prompt, approval needed, approved, denied, a failed turn, Esc, exit, and
`agents restart` resuming the same session by id.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from agents_tmux import config, programs
from agents_tmux.programs import gemini
from conftest import Repo, Tmux

from tests.support.fake_gemini import FakeGemini
from tests.support.fake_llm import Text
from tests.support.program_rigs import VERSIONS, agents_config, needs, prepare_gemini
from tests.support.state_matrix import Matrix, matrix_rules



@pytest.fixture
def api() -> Iterator[FakeGemini]:
    with FakeGemini(default=Text("OK.")) as server:
        yield server


@pytest.fixture
def ci_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """CI=true where tmux starts, as on a CI machine: Gemini CLI reads it as "no terminal"."""
    monkeypatch.setenv("CI", "true")


@needs("gemini")
def test_gemini_state_matrix(ci_environment: None, api: FakeGemini, tmux: Tmux, repo: Repo) -> None:
    """Every state a Gemini agent goes through, as the status line shows it, from one start."""
    rig = prepare_gemini(tmux, api, repo)
    user_settings = (rig.home / ".gemini" / "settings.json").read_text()
    first_turn = threading.Event()
    approved_turn = threading.Event()
    esc_turn = threading.Event()
    api.add(*matrix_rules("gemini", "touch made-by-gemini.txt", first_turn=first_turn, esc_turn=esc_turn,
                          approved_turn=approved_turn))
    name, pane = rig.spawn("Write the notes")
    worktree = repo.path.parent / "project.agents" / name
    # The hooks are in the worktree's own settings, which git does not see.
    hooks = json.loads((worktree / ".gemini" / "settings.json").read_text())["hooks"]
    assert "run_hook.py gemini" in hooks["AfterAgent"][0]["hooks"][0]["command"]
    assert repo.git("status", "--porcelain", "--ignored=no", cwd=worktree) == ""
    matrix = Matrix(rig, pane, VERSIONS["gemini"])
    try:
        # SessionStart (idle) at start-up, then BeforeAgent for the task.
        matrix.first_task(first_turn, ["starting", "idle", "working", "idle"])
        session_id = rig.tmux.option(pane, "@agent_session_id")
        assert session_id and session_id in rig.tmux.display("#{pane_start_command}", pane)
        matrix.prompt("Say hello")
        matrix.approval_needed("Allow execution")

        matrix.approved(worktree / "made-by-gemini.txt", approved_turn)

        # Denying fires no hook at all: the screen ("Request cancelled.") says idle.
        matrix.denied("Escape")
        matrix.failed_turn()
        matrix.interrupted(esc_turn, "Escape", "interrupt (Esc)")
        matrix.exit_twice()

        def restart() -> None:
            rig.tmux.agents("restart", name)
            rig.wait(lambda: f"--resume {session_id}" in rig.tmux.display("#{pane_start_command}", pane), pane,
                     "the restart")

        matrix.scenario("restart (--resume <id>)", restart, ["starting", "idle"])
        matrix.prompt("Go on", "prompt after resume")
        body = api.wait_user("Go on").body
        assert "Make the file" in json.dumps(body.get("contents")), "the resumed conversation carries the earlier turns"
        # The user's own Gemini settings were never touched.
        assert (rig.home / ".gemini" / "settings.json").read_text() == user_settings
        # `agents rm` takes the worktree: the hook settings agents.tmux wrote there are not work to keep.
        matrix.exit_twice("exit again")
        (worktree / "made-by-gemini.txt").unlink()  # the one file of real work
        rig.tmux.agents("rm", name)
        assert not worktree.exists()
    finally:
        matrix.close()


def _pane_environ(tmux: Tmux, pane: str) -> dict[str, str]:
    """The environment the pane's process (the agent's wrapper) started with."""
    raw = Path(f"/proc/{tmux.display('#{pane_pid}', pane)}/environ").read_bytes()
    return dict(item.partition("=")[::2] for item in raw.decode().split("\0") if item)


@needs("gemini")
def test_a_users_own_gemini_kind_in_the_main_checkout_restarts_interactive_and_leaves_nothing(
    api: FakeGemini, tmux: Tmux, repo: Repo
) -> None:
    """A kind of the user's with ``program = "gemini"`` and its own ``env`` (which replaces the
    built-in kind's), CI=true where tmux runs, working in the main checkout (a team role with
    ``worktree = false``): `agents restart` brings it back interactive, and `agents rm` leaves
    nothing of agents.tmux's in the user's checkout."""
    rig = prepare_gemini(tmux, api, repo)
    agents_config(rig.home, "mygem", [rig.binary], "\n".join([
        'program = "gemini"',
        'prompt = "flag:--prompt-interactive"',
        'session_id_flag = "--session-id"',
        'resume = ["--resume", "{session_id}"]',
        'env = { MY_GEMINI_NOTE = "kept" }',
        "[roles.reviewer]", 'agent = "mygem"', "worktree = false",
        "[layouts.review]", 'panes = [{ role = "reviewer" }]',
    ]) + "\n")
    for name in ("CI", "GITHUB_ACTIONS"):
        tmux.run("set-environment", "-g", name, "true")
    ignored_before = repo.git("status", "--porcelain", "--ignored")
    out = tmux.agents("team", "review", "--task", "Say hello", "--pane", tmux.panes()[0]).stdout
    _role, name, _branch, pane = out.splitlines()[0].split("\t")
    assert tmux.option(pane, "@agent_worktree") == str(repo.path)
    api.wait_user("Say hello")
    rig.wait_state(pane, "idle")
    environ = _pane_environ(tmux, pane)
    assert (environ["CI"], environ["GITHUB_ACTIONS"], environ["MY_GEMINI_NOTE"]) == ("", "", "kept")
    # Its hooks are in the main checkout while it runs there, invisible to git.
    assert (repo.path / ".gemini" / "settings.json").is_file()
    assert repo.git("status", "--porcelain") == ""
    session_id = tmux.option(pane, "@agent_session_id")
    assert session_id

    rig.keys(pane, "C-c")
    time.sleep(0.3)
    rig.keys(pane, "C-c")
    rig.wait_state(pane, "exited")
    tmux.agents("restart", name)
    rig.wait(lambda: f"--resume {session_id}" in tmux.display("#{pane_start_command}", pane), pane, "the restart")
    # Headless, it would read an empty stdin and exit (42): interactive, it takes the next prompt.
    rig.type(pane, "Go on")
    api.wait_user("Go on")
    rig.wait_state(pane, "idle")
    assert "No input provided via stdin" not in rig.screen(pane)

    rig.keys(pane, "C-c")
    time.sleep(0.3)
    rig.keys(pane, "C-c")
    rig.wait_state(pane, "exited")
    removed = tmux.agents("rm", name).stdout
    assert ".gemini/settings.json" in removed
    assert not (repo.path / ".gemini").exists()
    # Only the shared context folder (.agents/, team.md in it) stays: the team's, by design.
    left = repo.git("status", "--porcelain", "--ignored").replace("!! .agents/\n", "")
    assert left == ignored_before


# -- where the hooks go, without running Gemini -------------------------------


def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rules: dict[str, str] | None) -> Path:
    home = tmp_path / "gemini-home"
    (home / ".gemini").mkdir(parents=True, exist_ok=True)
    if rules is not None:
        (home / ".gemini" / "trustedFolders.json").write_text(json.dumps(rules))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("GEMINI_CLI_HOME", raising=False)
    monkeypatch.delenv("GEMINI_CLI_TRUSTED_FOLDERS_PATH", raising=False)
    return home


def test_hooks_go_into_a_gemini_folder_of_ours_only_where_the_repository_is_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, repo: Repo
) -> None:
    kind = config.load(None, builtin_only=True).agents["gemini"]
    worktree = tmp_path / "wt"
    repo.git("worktree", "add", "-q", "-b", "agent/x", str(worktree))
    program = programs.get("gemini")

    # Not trusted by the user: nothing written, the screen alone tells the state.
    _home(tmp_path, monkeypatch, {str(tmp_path / "elsewhere"): "TRUST_FOLDER"})
    assert program.prepare(kind, worktree) is None
    assert not (worktree / ".gemini").exists()

    # The main checkout trusted (TRUST_PARENT of a file in it counts too): hooks and trust.
    _home(tmp_path, monkeypatch, {str(repo.path / "README.md"): "TRUST_PARENT"})
    assert program.prepare(kind, worktree) == {"GEMINI_CLI_TRUST_WORKSPACE": "true"}
    settings = json.loads((worktree / ".gemini" / "settings.json").read_text())
    assert "run_hook.py gemini" in settings["hooks"]["BeforeAgent"][0]["hooks"][0]["command"]
    assert repo.git("status", "--porcelain", cwd=worktree) == ""
    assert program.prepare(kind, worktree) is not None  # again (a restart): still ours
    # Ours and unchanged: `agents rm` does not count them as work; edited, they are.
    assert program.own_files(worktree) == [".gemini/.gitignore", ".gemini/settings.json"]
    edited = json.loads((worktree / ".gemini" / "settings.json").read_text())
    (worktree / ".gemini" / "settings.json").write_text(json.dumps({**edited, "ui": {"theme": "dark"}}))
    assert program.own_files(worktree) == [".gemini/.gitignore"]

    # A .gemini folder of the repository's own is never written into.
    (worktree / ".gemini" / ".gitignore").write_text("mine\n")
    assert program.prepare(kind, worktree) is None


def test_in_the_main_checkout_the_hooks_are_taken_back_and_a_users_gemini_folder_is_never_touched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, test_env: dict[str, str], repo: Repo
) -> None:
    """An agent without a worktree of its own runs in the user's checkout: what agents.tmux writes
    there goes when the last agent of the program there goes, and only what it wrote, unchanged."""
    from agents_tmux import lifecycle, registry

    for key in ("XDG_STATE_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(key, test_env[key])
    kind = config.load(None, builtin_only=True).agents["gemini"]
    program = programs.get("gemini")
    _home(tmp_path, monkeypatch, {str(repo.path): "TRUST_FOLDER"})
    folder = repo.path / ".gemini"
    clean = repo.git("status", "--porcelain", "--ignored")

    def run_there(*names: str) -> None:
        assert program.prepare(kind, repo.path) is not None
        for name in names:
            registry.record(repo.path, {"name": name, "kind": "gemini", "worktree": str(repo.path), "branch": ""})

    def remove(name: str) -> list[str]:
        registry.update(repo.path, name, status=registry.REMOVED)
        return lifecycle.release_program_files(repo.path, name, "gemini", repo.path)

    # Two agents there: the first to go leaves the hooks to the other; the last takes them back.
    run_there("one", "two")
    assert remove("one") == [] and (folder / "settings.json").is_file()
    assert remove("two") == [".gemini/settings.json", ".gemini/.gitignore"]
    assert not folder.exists() and repo.git("status", "--porcelain", "--ignored") == clean
    # An agent of another program in the checkout does not keep them.
    run_there("three")
    registry.record(repo.path, {"name": "claude-there", "kind": "claude", "worktree": str(repo.path), "branch": ""})
    assert remove("three") == [".gemini/settings.json", ".gemini/.gitignore"]

    # Settings someone edited are theirs now: never overwritten, never removed.
    run_there("four")
    edited = json.loads((folder / "settings.json").read_text())
    edited["ui"] = {"theme": "dark"}
    (folder / "settings.json").write_text(json.dumps(edited))
    assert program.prepare(kind, repo.path) is None
    assert json.loads((folder / "settings.json").read_text())["ui"] == {"theme": "dark"}
    assert remove("four") == [] and (folder / ".gitignore").is_file()
    # A file added beside ours keeps the folder too.
    (folder / "settings.json").write_text(json.dumps(gemini.settings(), indent=2) + "\n")
    (folder / "GEMINI.md").write_text("notes\n")
    assert remove("four") == [] and (folder / "GEMINI.md").is_file() and (folder / "settings.json").is_file()

    # The user's own .gemini folder: nothing written into it, nothing taken from it.
    for leftover in folder.iterdir():
        leftover.unlink()
    (folder / "settings.json").write_text('{"ui": {"theme": "mine"}}\n')
    assert program.prepare(kind, repo.path) is None
    assert program.release(repo.path) == [] and lifecycle.release_program_files(repo.path, "four", "gemini", repo.path) == []
    assert sorted(p.name for p in folder.iterdir()) == ["settings.json"]
    assert (folder / "settings.json").read_text() == '{"ui": {"theme": "mine"}}\n'


def test_prune_of_a_dead_spawn_in_the_main_checkout_takes_its_hooks_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, test_env: dict[str, str], tmux: Tmux, repo: Repo
) -> None:
    """A spawn killed after preparing the main checkout: `agents prune --yes` retires it and takes back its files."""
    import subprocess
    import sys

    from agents_tmux import registry

    monkeypatch.setenv("XDG_STATE_HOME", test_env["XDG_STATE_HOME"])
    _home(tmp_path, monkeypatch, {str(repo.path): "TRUST_FOLDER"})
    kind = config.load(None, builtin_only=True).agents["gemini"]
    assert programs.get("gemini").prepare(kind, repo.path) is not None
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    registry.record(repo.path, {"name": "gone", "kind": "gemini", "worktree": str(repo.path), "branch": "",
                                "status": registry.STARTING, "spawner_pid": int(dead.stdout), "spawner_started": 1})
    out = tmux.agents("prune", "--yes").stdout
    assert "retire gone" in out, out
    assert registry.load(repo.path)["gone"]["status"] == registry.REMOVED
    assert not (repo.path / ".gemini").exists()
