"""Reloading the config (prefix + r) with the plugin loaded changes nothing but what the files say.

The server is started like `agents up` starts it: conf/tmux.conf, then a second
file that sets the agent command and runs agents.tmux. Two stand-in agents run
(one waiting for permission, one idle); after ten reloads every key binding,
hook, status format, agent and usage summary (runtime state the hook keeps) is
exactly as before.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from conftest import ROOT, STANDIN, Repo, Tmux, expect_text, stop_server, wait_for

CONF = ROOT / "conf" / "tmux.conf"
PLUGIN = ROOT / "agents.tmux"
PREFIX = "\x02"
#: The head of the status segment's entry for waiting agents (once per segment).
WAITING_ENTRY = "#{?#{==:#{n:#{S:#{W:#{P:#{?#{==:#{@agent_state},waiting},x,}}}}},0}"
#: The head of the window-list icon (once per window-status format).
WINDOW_ICON = "#{?#{m:*<waiting>*,#{P:<#{@agent_state}>}}"


def write_loader(path: Path, *extra: str) -> Path:
    """The second config file: plugin options, then the plugin (like `agents up`'s loader)."""
    lines = [f"set -g @agents-command '{STANDIN}'", *extra, f"run-shell '{PLUGIN}'"]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def conf_tmux(test_env: dict[str, str], repo: Repo, tmp_path: Path) -> Iterator[Tmux]:
    """A private server started with conf/tmux.conf and the plugin loader, one session in the repo."""
    env = {**test_env, "STANDIN_IDLE_NOTIFY_SECS": "3600"}
    loader = write_loader(tmp_path / "load-plugin.conf")
    server = Tmux(socket=f"agents-reload-{uuid.uuid4().hex[:10]}", env=env, home=Path(env["HOME"]), cwd=repo.path)
    server.run("-f", str(CONF), "-f", str(loader), "new-session", "-d", "-s", "main", "-x", "200", "-y", "50", "-c", str(repo.path))
    server.run("set-option", "-g", "default-shell", "/bin/bash")
    try:
        yield server
    finally:
        stop_server(server.socket, env)


def snapshot(tmux: Tmux) -> dict[str, str]:
    """Everything a reload could disturb."""
    options = {
        name: tmux.run("show-options", "-gv", name)
        for name in ("status-left", "status-right", "window-status-format", "window-status-current-format")
    }
    return {
        "keys": tmux.run("list-keys"),
        "hooks": tmux.run("show-hooks", "-g"),
        "window hooks": tmux.run("show-hooks", "-gw"),
        **options,
        "all options": tmux.run("show-options", "-s") + tmux.run("show-options", "-g") + tmux.run("show-options", "-gw"),
        "environment": tmux.run("show-environment", "-g"),
        "panes": tmux.run(
            "list-panes", "-a", "-F", "#{pane_id} #{pane_pid} #{pane_dead} #{@agent_name} #{@agent_state} #{@agent_state_since}"
        ),
        "agents": tmux.agents("list", "--json").stdout,
    }


def count_plugin_pieces(tmux: Tmux) -> dict[str, int]:
    spawn = "scripts/ask-task"
    return {
        "spawn bindings": tmux.run("list-keys").count(spawn),
        "pane-died hooks": tmux.run("show-hooks", "-gw").count("pane-died[4210]"),
        "segments": (tmux.run("show-options", "-gv", "status-left") + tmux.run("show-options", "-gv", "status-right")).count(WAITING_ENTRY),
        "window icons": tmux.run("show-options", "-gv", "window-status-format").count(WINDOW_ICON)
        + tmux.run("show-options", "-gv", "window-status-current-format").count(WINDOW_ICON),
    }


ONE_OF_EACH = {"spawn bindings": 1, "pane-died hooks": 1, "segments": 1, "window icons": 2}


#: Global options the hook's usage reading sets after each turn (agents' runtime
#: state, which the plugin never sets at load), with values a real turn leaves.
USAGE_OPTIONS = {"@agents_usage": "12.0k ~$0.75", "@agents_budget_level": "near", "@agents_budget": "85% budget"}


def global_option_names(tmux: Tmux) -> set[str]:
    return {line.split(" ", 1)[0] for line in tmux.run("show-options", "-g").splitlines()}


def state(tmux: Tmux, pane: str) -> str:
    return tmux.option(pane, "@agent_state")


def pids_alive(tmux: Tmux, panes: list[str]) -> bool:
    for pane in panes:
        pid = tmux.display("#{pane_pid}", pane)
        if not Path(f"/proc/{pid}").exists() or tmux.display("#{pane_dead}", pane) != "0":
            return False
    return True


def source_config_files(tmux: Tmux) -> None:
    for path in tmux.display("#{config_files}").split(","):
        tmux.run("source-file", path)


def test_ten_reloads_keep_bindings_hooks_status_and_agents(conf_tmux: Tmux, repo: Repo) -> None:
    tmux = conf_tmux
    origin = tmux.panes()[0]
    first = tmux.agents("spawn", "Needs permission", "--pane", origin).stdout.strip()
    second = tmux.agents("spawn", "Finishes quickly", "--pane", origin).stdout.strip()
    rows = [line.split() for line in tmux.run("list-panes", "-a", "-F", "#{pane_id} #{@agent_name}").splitlines()]
    agents = {row[1]: row[0] for row in rows if len(row) == 2}
    waiting, idle = agents[first], agents[second]
    # The stand-in works on its task; /tool asks for permission (waiting), /done ends the turn (idle).
    wait_for(lambda: state(tmux, waiting) == "working" and state(tmux, idle) == "working", timeout=30, message="both agents working")
    tmux.run("send-keys", "-t", waiting, "-l", "/tool")
    tmux.run("send-keys", "-t", waiting, "Enter")
    tmux.run("send-keys", "-t", idle, "-l", "/done")
    tmux.run("send-keys", "-t", idle, "Enter")
    wait_for(lambda: state(tmux, waiting) == "waiting", timeout=30, message="the first agent waiting")
    wait_for(lambda: state(tmux, idle) == "idle", timeout=30, message="the second agent idle")
    # Runtime state, not config: the finished turn starts the usage reading in
    # the background, which sets the global usage options a moment later. Wait
    # for it to land, then give them values a real turn would leave, so a load
    # that reset or cleared them shows in the comparison below.
    wait_for(lambda: set(USAGE_OPTIONS) <= global_option_names(tmux), timeout=30, message="the turn's usage reading")
    for name, value in USAGE_OPTIONS.items():
        tmux.run("set-option", "-g", name, value)
    assert count_plugin_pieces(tmux) == ONE_OF_EACH
    before = snapshot(tmux)
    assert "waiting" in before["panes"] and "idle" in before["panes"]

    # One reload through prefix + r on a real client, nine more by sourcing the same files.
    client = pexpect.spawn(
        "tmux", ["-L", tmux.socket, "attach-session", "-t", "main"], env=tmux.env,
        dimensions=(50, 200), encoding="utf-8", codec_errors="replace", timeout=20,
    )
    try:
        wait_for(lambda: tmux.run("list-clients", "-F", "#{client_name}").strip(), message="the client to attach")
        tmux.run("set-option", "-g", "@loads", "0")
        with Path(tmux.display("#{config_files}").split(",")[1]).open("a") as loader:
            loader.write("set -gF @loads '#{e|+:#{@loads},1}'\n")  # counts the reloads
        client.send(PREFIX + "r")
        client.expect_exact("Config reloaded!")
        assert tmux.run("show-options", "-gv", "@loads").strip() == "1"  # both files were read again
        for _ in range(9):
            source_config_files(tmux)
        assert tmux.run("show-options", "-gv", "@loads").strip() == "10"
        tmux.run("set-option", "-gu", "@loads")
    finally:
        client.terminate(force=True)

    after = snapshot(tmux)
    for key in before:
        assert after[key] == before[key], key
    assert count_plugin_pieces(tmux) == ONE_OF_EACH
    assert pids_alive(tmux, [waiting, idle])
    assert (state(tmux, waiting), state(tmux, idle)) == ("waiting", "idle")
    listed = {entry["name"]: entry["state"] for entry in json.loads(after["agents"])}
    assert listed == {first: "waiting", second: "idle"}

    # The agents still answer: the waiting one takes its permission and finishes.
    tmux.run("send-keys", "-t", waiting, "1")
    tmux.run("send-keys", "-t", waiting, "Enter")
    wait_for(lambda: state(tmux, waiting) == "working", timeout=30, message="the waiting agent to go on")


def test_running_the_plugin_five_times_leaves_one_of_each(tmux: Tmux) -> None:
    tmux.load_plugin()
    assert count_plugin_pieces(tmux) == ONE_OF_EACH
    once = {
        "keys": tmux.run("list-keys"),
        "hooks": tmux.run("show-hooks", "-gw") + tmux.run("show-hooks", "-g"),
        "options": tmux.run("show-options", "-g") + tmux.run("show-options", "-gw") + tmux.run("show-options", "-s"),
        "environment": tmux.run("show-environment", "-g"),
    }
    for _ in range(4):
        tmux.load_plugin()
    assert count_plugin_pieces(tmux) == ONE_OF_EACH
    assert {
        "keys": tmux.run("list-keys"),
        "hooks": tmux.run("show-hooks", "-gw") + tmux.run("show-hooks", "-g"),
        "options": tmux.run("show-options", "-g") + tmux.run("show-options", "-gw") + tmux.run("show-options", "-s"),
        "environment": tmux.run("show-environment", "-g"),
    } == once


def spawn_keys(tmux: Tmux) -> list[str]:
    return [line.split()[3] for line in tmux.run("list-keys", "-T", "prefix").splitlines() if "scripts/ask-task" in line]


def test_changing_the_key_and_reloading_moves_the_binding(conf_tmux: Tmux, tmp_path: Path) -> None:
    tmux = conf_tmux
    assert spawn_keys(tmux) == ["A"]
    loader = Path(tmux.display("#{config_files}").split(",")[1])
    write_loader(loader, "set -g @agents-key N")
    source_config_files(tmux)
    assert spawn_keys(tmux) == ["N"]
    assert tmux.run("list-keys", "-T", "prefix", "A", check=False).strip() == ""
    # And back again: with the option unset (a removed line would leave the old value in the server), A returns.
    write_loader(loader, "set -gu @agents-key")
    source_config_files(tmux)
    assert spawn_keys(tmux) == ["A"]
    assert tmux.run("list-keys", "-T", "prefix", "N", check=False).strip() == ""
    assert count_plugin_pieces(tmux) == ONE_OF_EACH


def test_changed_icon_replaces_the_segment_on_reload_without_placeholder(tmux: Tmux) -> None:
    # No #{agents_status} placeholder and nothing resets status-right: the plugin
    # swaps its own earlier segment for the new one instead of keeping it stale.
    tmux.load_plugin()
    tmux.run("set-option", "-g", "@agents-icon-waiting", "W&W,1")  # '&' and ',' must stay text
    tmux.load_plugin()
    assert count_plugin_pieces(tmux) == ONE_OF_EACH
    right = tmux.run("show-options", "-gv", "status-right")
    assert "⏳" not in right and "]W&W#,1 " in right, right
    pane = tmux.panes()[0]
    tmux.run("set-option", "-p", "-t", pane, "@agent_state", "waiting")
    assert tmux.status_right().startswith("W&W,1 1 "), tmux.status_right()
    window = tmux.display("#{T:window-status-format}", pane)
    assert window.endswith(" W&W,1"), window
    # Window icons turned off: they come out of the window list on the next load.
    tmux.run("set-option", "-g", "@agents-window-status", "off")
    tmux.load_plugin()
    for option in ("window-status-format", "window-status-current-format"):
        assert "@agent_state" not in tmux.run("show-options", "-gv", option)


def test_on_off_options_read_like_the_python_side_and_junk_is_said(tmux: Tmux, attach) -> None:  # type: ignore[no-untyped-def]
    # yes/true/1 mean on for every on/off option, as they do for @agents-focus or @agents-log.
    tmux.run("set-option", "-g", "@agents-window-status", "Yes")
    tmux.run("set-option", "-g", "@agents-restore", "true")
    tmux.run("set-environment", "-g", "PATH", "/usr/bin:/bin")
    tmux.run("set-option", "-g", "@agents-path", "1")
    tmux.load_plugin()
    assert "@agent_state" in tmux.run("show-options", "-gv", "window-status-format")
    assert tmux.run("show-options", "-gqv", "@agents-restore-started").strip()
    assert tmux.run("show-environment", "-g", "PATH").startswith(f"PATH={ROOT / '.bin'}:")
    # no/false/0 mean off; junk is one line on the status line, and the default holds.
    tmux.run("set-option", "-g", "@agents-window-status", "FALSE")
    tmux.load_plugin()
    assert "@agent_state" not in tmux.run("show-options", "-gv", "window-status-format")
    client = attach()
    tmux.run("set-option", "-g", "@agents-window-status", "onn")
    tmux.load_plugin()
    expect_text(client, "agents.tmux: @agents-window-status is 'onn': expected on or off; using on")
    assert "@agent_state" in tmux.run("show-options", "-gv", "window-status-format")


def test_a_junk_status_position_is_said_and_the_segment_goes_right(tmux: Tmux, attach) -> None:  # type: ignore[no-untyped-def]
    client = attach()
    tmux.run("set-option", "-g", "@agents-status-position", "rihgt")
    tmux.load_plugin()
    expect_text(client, "agents.tmux: @agents-status-position is 'rihgt': expected right, left or none; using right")
    assert "@agent_state" in tmux.run("show-options", "-gv", "status-right")


def test_window_list_reads_as_the_readme_shows_it(conf_tmux: Tmux) -> None:
    # `1:bash* 2:upgrade-dependencies ✓`: one space before a window's icon, with or without flags.
    tmux = conf_tmux
    second = tmux.run("new-window", "-d", "-n", "upgrade-dependencies", "-P", "-F", "#{pane_id}").strip()
    tmux.run("set-option", "-p", "-t", second, "@agent_state", "idle")
    first = tmux.panes()[0]
    tmux.run("set-option", "-p", "-t", first, "@agent_state", "waiting")
    assert tmux.display("#{T:window-status-format}", second) == "2:upgrade-dependencies ✓"
    assert tmux.display("#{T:window-status-current-format}", first).startswith("1:bash*")
    assert tmux.display("#{T:window-status-current-format}", first).endswith("* ⏳")
    tmux.run("set-option", "-pu", "-t", second, "@agent_state")
    assert tmux.display("#{T:window-status-format}", second) == "2:upgrade-dependencies"
