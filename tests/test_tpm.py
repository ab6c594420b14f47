"""TPM end to end: Debian's tmux-plugin-manager installs agents.tmux from a git URL and runs it.

The plugin comes from a committed snapshot of the current working tree (not the
last commit), so the test exercises the code as it is now. TPM reads its plugin
list from ``$HOME/.tmux.conf``, so every test has its own HOME and its own
tmux server; TPM's own scripts call plain ``tmux``, which reaches that server
through the ``TMUX`` variable, exactly like they do from a key binding.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from conftest import ROOT, STANDIN, Repo, Tmux, read_standin_log, stop_server, wait_for

TPM_DIR = Path(os.environ.get("AGENTS_TMUX_TPM_DIR", "/usr/share/tmux-plugin-manager"))
PREFIX = "\x02"
#: The head of the status segment's entry for waiting agents (once per segment).
WAITING_ENTRY = "#{?#{==:#{n:#{S:#{W:#{P:#{?#{==:#{@agent_state},waiting},x,}}}}},0}"

pytestmark = pytest.mark.skipif(
    not (TPM_DIR / "tpm").is_file(),
    reason=f"TPM is not installed at {TPM_DIR} (apt-get install tmux-plugin-manager; .ci/run does)",
)


def snapshot_repository(dest: Path, env: dict[str, str]) -> Path:
    """A git repository at ``dest`` holding the working tree of this checkout, committed.

    Tracked and untracked-but-not-ignored files are copied as they are now
    (modes and symlinks kept), so uncommitted changes are part of the test.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    dest.mkdir(parents=True)
    for name in sorted(set(filter(None, listed))):
        source = ROOT / name
        if not (source.exists() or source.is_symlink()):
            continue  # deleted in the working tree
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "snapshot of the working tree"]):
        subprocess.run(["git", *args], cwd=dest, env=env, capture_output=True, check=True)
    return dest


@pytest.fixture(scope="module")
def plugin_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One committed snapshot per module; the folder is named like the repository (agents.tmux)."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com", "GIT_CONFIG_NOSYSTEM": "1",
    }
    return snapshot_repository(tmp_path_factory.mktemp("plugin") / "agents.tmux", env)


class TpmServer(Tmux):
    """A private server started from $HOME/.tmux.conf, plus the environment TPM's scripts need."""

    def tpm_env(self) -> dict[str, str]:
        # What tmux gives a run-shell job: the server's socket in TMUX.
        socket_path, pid = self.display("#{socket_path} #{pid}").split()
        return {**self.env, "TMUX": f"{socket_path},{pid},0"}

    def plugin_path(self) -> Path:
        value = self.run("show-environment", "-g", "TMUX_PLUGIN_MANAGER_PATH").strip()
        return Path(value.partition("=")[2])


@pytest.fixture
def tpm_server(test_env: dict[str, str], repo: Repo, plugin_source: Path) -> Iterator[TpmServer]:
    home = Path(test_env["HOME"])
    # The user's config: the plugin by its (local) git URL, the agent command, then TPM last.
    (home / ".tmux.conf").write_text(
        f"set -g default-shell /bin/bash\n"
        f"set -g @agents-command '{STANDIN}'\n"
        f"set -g @plugin 'file://{plugin_source}'\n"
        f"run '{TPM_DIR / 'tpm'}'\n"
    )
    server = TpmServer(socket=f"agents-tpm-{uuid.uuid4().hex[:10]}", env=test_env, home=home, cwd=repo.path)
    server.run("-f", str(home / ".tmux.conf"), "new-session", "-d", "-s", "main", "-x", "200", "-y", "50", "-c", str(repo.path))
    try:
        yield server
    finally:
        stop_server(server.socket, test_env)


def assert_plugin_loaded(server: TpmServer, installed: Path) -> None:
    cli = str(installed / "scripts" / "agents")
    spawn_key = server.run("list-keys", "-T", "prefix", "A")
    assert f"{installed / 'scripts' / 'ask-task'}" in spawn_key, spawn_key
    assert server.run("show-options", "-gv", "@agents-cli").strip() == cli
    right = server.run("show-options", "-gv", "status-right")
    assert right.count(WAITING_ENTRY) == 1, right
    hooks = server.run("show-hooks", "-gw")  # pane-died is a window hook
    assert hooks.count("pane-died[4210]") == 1, hooks


def test_bin_install_plugins_installs_and_tpm_runs_the_plugin(tpm_server: TpmServer, plugin_source: Path) -> None:
    # The server started with the plugin listed but not installed: nothing of ours yet.
    assert tpm_server.run("list-keys", "-T", "prefix", "A", check=False).strip() == ""
    path = tpm_server.plugin_path()
    assert path == tpm_server.home / ".tmux" / "plugins"

    result = subprocess.run(
        [str(TPM_DIR / "bin" / "install_plugins")], env=tpm_server.tpm_env(), capture_output=True, text=True,
        timeout=120, stdin=subprocess.DEVNULL, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'Installing "agents.tmux"' in result.stdout
    assert "download success" in result.stdout

    installed = path / "agents.tmux"
    assert (installed / "agents.tmux").is_file() and os.access(installed / "agents.tmux", os.X_OK)
    assert subprocess.run(["git", "rev-parse", "HEAD"], cwd=installed, capture_output=True, text=True).stdout == (
        subprocess.run(["git", "rev-parse", "HEAD"], cwd=plugin_source, capture_output=True, text=True).stdout
    )
    # install_plugins only clones: the plugin runs when tpm runs again.
    assert tpm_server.run("list-keys", "-T", "prefix", "A", check=False).strip() == ""

    # The plugin's Python environment: reuse this checkout's (same pyproject), so
    # the first run's background warm-up finds it ready and builds nothing.
    (installed / ".venv").symlink_to(ROOT / ".venv")
    tpm_server.run("source-file", str(tpm_server.home / ".tmux.conf"))  # what TPM's prefix + I does after cloning
    assert_plugin_loaded(tpm_server, installed)

    # Running bin/install_plugins again: already installed, nothing changes.
    again = subprocess.run(
        [str(TPM_DIR / "bin" / "install_plugins")], env=tpm_server.tpm_env(), capture_output=True, text=True,
        timeout=120, stdin=subprocess.DEVNULL, check=False,
    )
    assert again.returncode == 0 and 'Already installed "agents.tmux"' in again.stdout, again.stdout + again.stderr
    tpm_server.run("source-file", str(tpm_server.home / ".tmux.conf"))
    assert_plugin_loaded(tpm_server, installed)


def warm_up_processes(folder: Path) -> list[int]:
    """Processes running the installed plugin's `scripts/agents` (its background warm-up)."""
    needle = str(folder / "scripts" / "agents").encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_prefix_I_installs_then_prefix_A_spawns(tpm_server: TpmServer, repo: Repo) -> None:
    """A new user's first minutes: prefix + I, the environment builds itself, prefix + A works."""
    child = pexpect.spawn(
        "tmux", ["-L", tpm_server.socket, "attach-session", "-t", "main"], env=tpm_server.env,
        dimensions=(50, 200), encoding="utf-8", codec_errors="replace", timeout=60,
    )
    try:
        wait_for(lambda: tpm_server.run("list-clients", "-F", "#{client_name}").strip(), message="the client to attach")
        child.send(PREFIX + "I")
        child.expect_exact("Done, press ENTER to continue.")
        child.send("\r")
        installed = tpm_server.plugin_path() / "agents.tmux"
        assert_plugin_loaded(tpm_server, installed)

        # The first load started building the plugin's own .venv in the background.
        wait_for(lambda: (installed / ".venv" / ".agents-tmux-stamp").is_file() or not warm_up_processes(installed),
                 timeout=240, interval=0.5, message="the plugin's Python environment to be built")
        wait_for(lambda: not warm_up_processes(installed), timeout=60, interval=0.5, message="the warm-up to end")
        assert (installed / ".venv" / ".agents-tmux-stamp").is_file(), (installed / ".venv-install.log").read_text()

        child.send(PREFIX + "A")
        child.expect_exact("task:")
        child.send("Add a health check\r")
        start = wait_for(
            lambda: next((e for e in read_standin_log(tpm_server.env) if e["event"] == "start"), None),
            timeout=60, message="the agent to start",
        )
        assert start["prompt"] == "Add a health check"
        assert start["cwd"] == str(repo.path.parent / "project.agents" / "add-a-health-check")
        names = tpm_server.run("list-panes", "-a", "-F", "#{@agent_name}").split()
        assert names == ["add-a-health-check"]
    finally:
        child.terminate(force=True)


def test_conf_copied_to_home_finds_debian_tpm_and_loads_the_plugin(
    test_env: dict[str, str], repo: Repo, plugin_source: Path
) -> None:
    """conf/tmux.conf used as ~/.tmux.conf: its own TPM line runs Debian's TPM, which loads the plugin."""
    home = Path(test_env["HOME"])
    conf = (ROOT / "conf" / "tmux.conf").read_text()
    assert "set -g @plugin 'tmux-plugins/tpm'\n" in conf and "set -g @plugin 'agents-tmux/agents.tmux'\n" in conf
    # The user's edits: TPM comes from the package (nothing to clone), the plugin from a local URL.
    conf = conf.replace("set -g @plugin 'tmux-plugins/tpm'\n", "")
    conf = conf.replace("set -g @plugin 'agents-tmux/agents.tmux'\n", f"set -g @plugin 'file://{plugin_source}'\n")
    (home / ".tmux.conf").write_text(conf)
    server = TpmServer(socket=f"agents-tpm-{uuid.uuid4().hex[:10]}", env=test_env, home=home, cwd=repo.path)
    # No -f: tmux finds ~/.tmux.conf itself, like for a user.
    server.run("new-session", "-d", "-s", "main", "-x", "200", "-y", "50", "-c", str(repo.path))
    try:
        assert server.display("#{config_files}") == str(home / ".tmux.conf")
        assert "install_plugins" in server.run("list-keys", "-T", "prefix", "I")  # TPM ran
        result = subprocess.run(
            [str(TPM_DIR / "bin" / "install_plugins")], env=server.tpm_env(), capture_output=True, text=True,
            timeout=120, stdin=subprocess.DEVNULL, check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        installed = server.plugin_path() / "agents.tmux"
        (installed / ".venv").symlink_to(ROOT / ".venv")
        server.run("source-file", str(home / ".tmux.conf"))
        assert_plugin_loaded(server, installed)
        right = server.run("show-options", "-gv", "status-right")
        assert "#{agents_status}" not in right and right.rstrip("\n").endswith(" #S:#I.#P %H:%M"), right
        assert server.run("show-options", "-gv", "history-limit").strip() == "50000"
        assert server.run("list-panes", "-a", "-F", "#{pane_in_mode}").split() == ["0"]  # no config error shown
    finally:
        stop_server(server.socket, test_env)
