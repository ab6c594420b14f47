"""Tests for conf/tmux.conf (and scripts/sensible.sh) against real, private tmux servers.

Every test starts its own server on a unique ``-L`` socket, with HOME pointing at a temporary
folder (so no ~/.tmux.conf, XDG config or TPM of the person running the tests leaks in), and kills
only that server afterwards. The key binding ``prefix + r`` is pressed through a real tmux client
attached in a pseudo-terminal (pexpect).

The ``conf_server`` fixture is local for now; it may move to conftest.py.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
CONF = REPO / "conf" / "tmux.conf"
SENSIBLE = REPO / "scripts" / "sensible.sh"

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class TmuxServer:
    """One private tmux server: a unique socket name, a temporary HOME, and helpers."""

    def __init__(self, home: Path) -> None:
        self.socket = f"agents-conf-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("TMUX", "XDG_"))}
        self.env.update(HOME=str(home), TERM="xterm-256color", SHELL="/bin/sh", LANG="C.UTF-8")
        self.clients: list[Any] = []

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            check=False,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=20,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"tmux {shlex.join(args)} failed: {result.stderr.strip()}")
        return result

    def out(self, *args: str) -> str:
        return self.run(*args).stdout.rstrip("\n")

    def start_detached(self, *configs: Path | str) -> subprocess.CompletedProcess[str]:
        """Start the server with the given -f files (none: tmux's default search) and a session."""
        flags = [arg for conf in configs for arg in ("-f", str(conf))]
        return self.run(*flags, "new-session", "-d", "-s", "t", "-x", "120", "-y", "40")

    def attach_new(self, *configs: Path | str) -> Any:  # a pexpect.spawn
        """Start the server through a real client in a pseudo-terminal, like a user would."""
        pexpect = pytest.importorskip("pexpect")
        flags = [arg for conf in configs for arg in ("-f", str(conf))]
        client = pexpect.spawn(
            "tmux",
            ["-L", self.socket, *flags, "new-session", "-s", "t"],
            env=self.env,
            cwd=str(self.home),
            dimensions=(40, 120),
            encoding="utf-8",
            codec_errors="replace",
            timeout=10,
        )
        self.clients.append(client)
        # Wait until the server is up and the client attached.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.run("list-clients", "-F", "#{client_name}", check=False).stdout.strip():
                return client
            time.sleep(0.05)
        raise AssertionError("tmux client did not attach")

    def kill(self) -> None:
        """Kill this server only, and remove its socket file (tmux leaves it behind)."""
        for client in self.clients:
            client.close(force=True)
        socket_path = self.run("display-message", "-p", "#{socket_path}", check=False).stdout.strip()
        self.run("kill-server", check=False)
        if socket_path.endswith("/" + self.socket):
            Path(socket_path).unlink(missing_ok=True)


@pytest.fixture
def conf_server(tmp_path: Path) -> Iterator[TmuxServer]:
    home = tmp_path / "home"
    home.mkdir()
    server = TmuxServer(home)
    try:
        yield server
    finally:
        server.kill()


def assert_no_config_error(server: TmuxServer) -> None:
    """A config error at start-up puts the first pane in view-mode with the message."""
    modes = server.out("list-panes", "-a", "-F", "#{pane_in_mode}:#{pane_mode}")
    assert modes.splitlines() and all(m == "0:" for m in modes.splitlines()), modes


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def test_loads_without_error(conf_server: TmuxServer) -> None:
    result = conf_server.start_detached(CONF)
    assert result.returncode == 0
    assert result.stderr == ""
    assert_no_config_error(conf_server)
    assert conf_server.out("display-message", "-p", "#{config_files}") == str(CONF)


def test_source_file_reports_no_error(conf_server: TmuxServer) -> None:
    # source-file from the command line prints parse errors on stderr and fails.
    conf_server.start_detached("/dev/null")
    result = conf_server.run("source-file", str(CONF), check=False)
    assert (result.returncode, result.stderr) == (0, "")


def test_error_detection_works(conf_server: TmuxServer, tmp_path: Path) -> None:
    # Guard for assert_no_config_error: a broken file must be noticed.
    bad = tmp_path / "bad.conf"
    bad.write_text("set -g no-such-option 1\n")
    conf_server.start_detached(bad)
    with pytest.raises(AssertionError):
        assert_no_config_error(conf_server)


PROMISED = [
    # (show-options scope flag, option, value)
    ("-s", "escape-time", "10"),
    ("-s", "focus-events", "on"),
    ("-s", "extended-keys", "on"),
    ("-s", "set-clipboard", "on"),
    ("-g", "mouse", "on"),
    ("-g", "history-limit", "50000"),
    ("-g", "default-terminal", "tmux-256color"),
    ("-g", "base-index", "1"),
    ("-gw", "pane-base-index", "1"),
    ("-g", "renumber-windows", "on"),
    ("-g", "status-interval", "5"),
    ("-g", "display-time", "2000"),
    ("-gw", "allow-passthrough", "on"),
    ("-gw", "pane-border-status", "top"),
    ("-g", "@plugin", "agents-tmux/agents.tmux"),  # the last @plugin line wins as the value
]


@pytest.mark.parametrize(("scope", "option", "expected"), PROMISED, ids=[p[1] for p in PROMISED])
def test_promised_option(conf_server: TmuxServer, scope: str, option: str, expected: str) -> None:
    if option == "default-terminal":
        has_terminfo = (
            subprocess.run(["infocmp", "tmux-256color"], check=False, capture_output=True).returncode == 0
        )
        if not has_terminfo:
            expected = "screen-256color"
    conf_server.start_detached(CONF)
    assert conf_server.out("show-options", f"{scope}v", option) == expected


def test_status_line(conf_server: TmuxServer) -> None:
    conf_server.start_detached(CONF)
    right = conf_server.out("show-options", "-gv", "status-right")
    assert right.startswith("#{agents_status}")
    assert "#S:#I.#P" in right
    # Without the plugin the placeholder is an unknown format and draws as nothing.
    assert conf_server.out("display-message", "-p", "-t", "t", "#{T:status-right}").startswith(" t:1.1 ")


def test_terminal_features(conf_server: TmuxServer) -> None:
    conf_server.start_detached(CONF)
    features = conf_server.out("show-options", "-sv", "terminal-features").splitlines()
    assert "xterm*:extkeys" in features
    assert "xterm*:RGB" in features
    assert "*256col*:RGB" in features


def test_reloading_changes_nothing(conf_server: TmuxServer) -> None:
    # Nothing may grow on reload (no `set -a`): compare every option after three more loads.
    conf_server.start_detached(CONF)

    def snapshot() -> tuple[str, str, str, str]:
        return (
            conf_server.out("show-options", "-s"),
            conf_server.out("show-options", "-g"),
            conf_server.out("show-options", "-gw"),
            conf_server.out("list-keys"),
        )

    before = snapshot()
    for _ in range(3):
        conf_server.out("source-file", str(CONF))
    assert snapshot() == before


def test_pane_border_shows_agent_name(conf_server: TmuxServer) -> None:
    conf_server.start_detached(CONF)
    border = "#{T:pane-border-format}"
    plain = conf_server.out("display-message", "-p", "-t", "t", border)
    assert plain.startswith(" 1 ")
    assert "planner" not in plain
    conf_server.out("set-option", "-p", "-t", "t", "@agent_name", "planner")
    named = conf_server.out("display-message", "-p", "-t", "t", border)
    assert "planner" in named


# --------------------------------------------------------------------------------------------
# Key bindings
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "command"),
    [
        ("|", 'split-window -h -c "#{pane_current_path}"'),
        ("-", 'split-window -v -c "#{pane_current_path}"'),
        ("\\", 'split-window -fh -c "#{pane_current_path}"'),
        ("_", 'split-window -fv -c "#{pane_current_path}"'),
        ("r", "config_files}"),
    ],
)
def test_prefix_binding(conf_server: TmuxServer, key: str, command: str) -> None:
    conf_server.start_detached(CONF)
    listed = conf_server.out("list-keys", "-T", "prefix", key)
    assert command in listed, listed


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_split_uses_current_directory(conf_server: TmuxServer, tmp_path: Path) -> None:
    work = tmp_path / "worktree"
    work.mkdir()
    conf_server.start_detached(CONF)
    conf_server.out("respawn-pane", "-k", "-t", "t", "-c", str(work))

    def paths() -> list[str]:
        return conf_server.out("list-panes", "-t", "t", "-F", "#{pane_current_path}").splitlines()

    assert wait_for(lambda: paths() == [str(work)]), paths()
    # The command prefix + | runs, given the same format.
    conf_server.out("split-window", "-h", "-t", "t", "-c", "#{pane_current_path}")
    assert wait_for(lambda: paths() == [str(work), str(work)]), paths()


@pytest.mark.parametrize(
    ("key", "layout"),
    [("|", "side by side"), ("-", "stacked"), ("\\", "side by side"), ("_", "stacked")],
)
def test_split_keys_through_client(conf_server: TmuxServer, key: str, layout: str) -> None:
    client = conf_server.attach_new(CONF)
    client.send("\x02" + key)

    def panes() -> list[tuple[int, int, str]]:
        fmt = "#{pane_left} #{pane_top} #{pane_current_path}"
        rows = conf_server.out("list-panes", "-t", "t", "-F", fmt).splitlines()
        return [(int(r.split(" ", 2)[0]), int(r.split(" ", 2)[1]), r.split(" ", 2)[2]) for r in rows]

    assert wait_for(lambda: len(panes()) == 2), panes()
    (left1, top1, _), (left2, top2, _) = panes()
    assert (left1 != left2) if layout == "side by side" else (top1 != top2)
    assert wait_for(lambda: panes()[1][2] == str(conf_server.home)), panes()


def press_reload(client: Any, *, expect: str = "Config reloaded!") -> None:
    client.send("\x02r")  # C-b is the default prefix
    client.expect_exact(expect, timeout=10)


def test_reload_one_file(conf_server: TmuxServer) -> None:
    client = conf_server.attach_new(CONF)
    assert_no_config_error(conf_server)
    conf_server.out("set-option", "-g", "history-limit", "7")
    press_reload(client)
    assert conf_server.out("show-options", "-gv", "history-limit") == "50000"
    assert_no_config_error(conf_server)


def test_attached_client_gets_truecolour_and_extkeys(conf_server: TmuxServer) -> None:
    conf_server.attach_new(CONF)  # TERM=xterm-256color, like most terminal emulators
    features = conf_server.out("list-clients", "-F", "#{client_termfeatures}").split(",")
    assert {"RGB", "extkeys", "focus", "clipboard"} <= set(features), features


def counter_conf(path: Path) -> Path:
    """A config that counts how many times it has been loaded."""
    path.write_text("set -gF @loads '#{e|+:#{@loads},1}'\n")
    return path


def test_reload_two_files(conf_server: TmuxServer, tmp_path: Path) -> None:
    extra = counter_conf(tmp_path / "b.conf")
    client = conf_server.attach_new(CONF, extra)
    assert conf_server.out("display-message", "-p", "#{config_files}") == f"{CONF},{extra}"
    assert conf_server.out("show-options", "-gv", "@loads") == "1"
    conf_server.out("set-option", "-g", "history-limit", "7")
    press_reload(client)
    assert conf_server.out("show-options", "-gv", "history-limit") == "50000"  # first file read
    assert conf_server.out("show-options", "-gv", "@loads") == "2"  # second file read
    assert_no_config_error(conf_server)


def test_reload_path_with_space(conf_server: TmuxServer, tmp_path: Path) -> None:
    folder = tmp_path / "my configs"
    folder.mkdir()
    extra = counter_conf(folder / "b.conf")
    client = conf_server.attach_new(CONF, extra)
    press_reload(client)
    assert conf_server.out("show-options", "-gv", "@loads") == "2"


def test_reload_xdg_config(conf_server: TmuxServer) -> None:
    # No -f: tmux finds ~/.config/tmux/tmux.conf by itself, and prefix + r must reload that file.
    xdg = conf_server.home / ".config" / "tmux" / "tmux.conf"
    xdg.parent.mkdir(parents=True)
    xdg.write_text(f"source-file '{CONF}'\nset -gF @loads '#{{e|+:#{{@loads}},1}}'\n")
    client = conf_server.attach_new()
    assert conf_server.out("display-message", "-p", "#{config_files}") == str(xdg)
    press_reload(client)
    assert conf_server.out("show-options", "-gv", "@loads") == "2"


def test_reload_home_and_xdg_config(conf_server: TmuxServer) -> None:
    # Both default files exist: tmux loads both, comma-joined; both must be reloaded.
    home_conf = counter_conf(conf_server.home / ".tmux.conf")
    xdg = conf_server.home / ".config" / "tmux" / "tmux.conf"
    xdg.parent.mkdir(parents=True)
    xdg.write_text(f"source-file '{CONF}'\nset -gF @xdg '#{{e|+:#{{@xdg}},1}}'\n")
    client = conf_server.attach_new()
    assert conf_server.out("display-message", "-p", "#{config_files}") == f"{home_conf},{xdg}"
    press_reload(client)
    assert conf_server.out("show-options", "-gv", "@loads") == "2"
    assert conf_server.out("show-options", "-gv", "@xdg") == "2"


@pytest.mark.parametrize(
    ("bad_line", "error"),
    [("set -g no-such-option 1", "no-such-option"), ("set -g @broken {", "syntax error")],
    ids=["runtime-error", "syntax-error"],
)
def test_reload_reports_errors(conf_server: TmuxServer, tmp_path: Path, bad_line: str, error: str) -> None:
    extra = counter_conf(tmp_path / "b.conf")
    client = conf_server.attach_new(CONF, extra)
    extra.write_text(bad_line + "\n")
    press_reload(client, expect=error)  # the error is shown on screen
    time.sleep(0.5)
    client_name = conf_server.out("list-clients", "-F", "#{client_name}")
    log = conf_server.out("show-messages", "-t", client_name).splitlines()
    shown = [line for line in log if " message: " in line]  # the rest logs the commands run
    assert not any("Config reloaded!" in line for line in shown), shown


# --------------------------------------------------------------------------------------------
# TPM
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", [".tmux/plugins/tpm/tpm", ".config/tmux/plugins/tpm/tpm"])
def test_tpm_runs_when_installed(conf_server: TmuxServer, where: str) -> None:
    tpm = conf_server.home / where
    tpm.parent.mkdir(parents=True)
    tpm.write_text("#!/bin/sh\ntmux set -g @fake_tpm_ran yes\n")
    tpm.chmod(0o755)
    conf_server.start_detached(CONF)
    assert conf_server.out("show-options", "-gv", "@fake_tpm_ran") == "yes"
    assert_no_config_error(conf_server)


# --------------------------------------------------------------------------------------------
# scripts/sensible.sh
# --------------------------------------------------------------------------------------------


def apply_sensible(server: TmuxServer, times: int = 1) -> None:
    script = (
        f'tmux() {{ command tmux -L {shlex.quote(server.socket)} "$@"; }}\n'
        f"source {shlex.quote(str(SENSIBLE))}\n"
        f"for _ in $(seq {times}); do agents_apply_sensible || exit 1; done\n"
    )
    subprocess.run(["bash", "-c", script], check=True, env=server.env, timeout=30)


def sensible_snapshot(server: TmuxServer) -> dict[str, str]:
    server_options = server.out("show-options", "-s").splitlines()
    wanted = ("escape-time", "focus-events", "extended-keys", "terminal-features")
    snap = {
        line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in server_options if line.startswith(wanted)
    }
    snap["history-limit"] = server.out("show-options", "-gv", "history-limit")
    return snap


def test_sensible_changes_defaults(conf_server: TmuxServer) -> None:
    conf_server.start_detached("/dev/null")
    apply_sensible(conf_server)
    snap = sensible_snapshot(conf_server)
    assert snap["escape-time"] == "10"
    assert snap["focus-events"] == "on"
    assert snap["extended-keys"] == "on"
    assert snap["history-limit"] == "50000"
    assert sum("extkeys" in v for k, v in snap.items() if k.startswith("terminal-features")) == 1


def test_sensible_is_idempotent(conf_server: TmuxServer) -> None:
    conf_server.start_detached("/dev/null")
    apply_sensible(conf_server)
    once = sensible_snapshot(conf_server)
    apply_sensible(conf_server, times=10)
    assert sensible_snapshot(conf_server) == once


def test_sensible_keeps_user_values(conf_server: TmuxServer) -> None:
    conf_server.start_detached("/dev/null")
    conf_server.out("set-option", "-s", "escape-time", "50")
    conf_server.out("set-option", "-g", "history-limit", "3000")
    conf_server.out("set-option", "-s", "extended-keys", "always")
    apply_sensible(conf_server)
    snap = sensible_snapshot(conf_server)
    assert snap["escape-time"] == "50"
    assert snap["history-limit"] == "3000"
    assert snap["extended-keys"] == "always"
    assert snap["focus-events"] == "on"  # this one was still at the default


def test_sensible_after_conf_changes_nothing(conf_server: TmuxServer) -> None:
    conf_server.start_detached(CONF)
    before = sensible_snapshot(conf_server)
    apply_sensible(conf_server)
    assert sensible_snapshot(conf_server) == before
