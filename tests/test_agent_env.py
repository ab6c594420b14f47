"""Each agent's environment: a port of its own, `.worktreeinclude`, and a setup whose outcome shows.

Real git and tmux. The agent program is a shell line that prints what it
received (its port as an argument and as AGENTS_PORT) and then sleeps.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

from conftest import Repo, Tmux, agent_panes, wait_for
from test_lifecycle import registry_entry

PORTS = (45170, 45172)


def configure(tmux: Tmux, repo: Repo, setup: str, ports: str = f"{PORTS[0]}-{PORTS[1]}") -> None:
    (repo.path / ".gitignore").write_text(".agents.toml\n*.local\nsecrets/\n")
    repo.git("add", ".gitignore")
    repo.git("commit", "-q", "-m", "ignore")
    (repo.path / ".agents.toml").write_text(
        "[agents.echo]\n"
        'command = ["sh", "-c", "echo agent-argument={port} agent-env=$AGENTS_PORT; exec sleep 600"]\n'
        'prompt = "none"\n'
        f'[defaults]\nagent = "echo"\nports = "{ports}"\nsetup = "{setup}"\n'
    )
    tmux.run("set-option", "-g", "@agents-max", "100")


def spawn(tmux: Tmux, task: str) -> tuple[str, str]:
    name = tmux.agents("spawn", task, "-d").stdout.strip()
    return name, wait_for(lambda: agent_panes(tmux).get(name), message=f"the pane of {name}")


def port_table(tmux: Tmux) -> dict:
    path = Path(tmux.env["XDG_STATE_HOME"]) / "agents-tmux" / "ports.json"
    return json.loads(path.read_text()) if path.exists() else {}


def test_every_live_agent_has_its_own_port_released_on_rm(tmux: Tmux, repo: Repo) -> None:
    configure(tmux, repo, "echo setup-port={port}")
    # Something else listens on the first port of the range: it is skipped.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", PORTS[0]))
        busy.listen()
        first, first_pane = spawn(tmux, "First agent")
        second, second_pane = spawn(tmux, "Second agent")
        # The range is used up: a third spawn fails in one line and leaves nothing behind.
        refused = tmux.agents("spawn", "Third agent", "-d", check=False)
    assert refused.returncode == 1 and "every port" in refused.stderr and "Traceback" not in refused.stderr
    assert [b for b in repo.branches() if "third" in b] == [] and not (repo.path.parent / "project.agents" / "third-agent").exists()

    ports = {}
    for name, pane in ((first, first_pane), (second, second_pane)):
        port = int(tmux.option(pane, "@agent_port"))
        ports[name] = port
        # {port} in setup and in the command, AGENTS_PORT in the environment; the setup's output stays in view.
        wait_for(lambda p=pane, n=port: f"agent-argument={n} agent-env={n}" in tmux.capture(p), message="the agent's output")
        screen = tmux.capture(pane)
        assert f"setup-port={port}" in screen and "setup finished" in screen
        assert registry_entry(tmux, name)["port"] == port
    assert sorted(ports.values()) == [PORTS[0] + 1, PORTS[0] + 2]
    listed = {a["name"]: a["port"] for a in json.loads(tmux.agents("list", "--json").stdout)}
    assert listed == ports  # numbers, as every number in list --json

    # rm gives the port back; the next agent gets it (the only one free while the first is busy again).
    tmux.agents("rm", first)
    assert str(ports[first]) not in port_table(tmux)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", PORTS[0]))
        third, third_pane = spawn(tmux, "Third agent")
    assert int(tmux.option(third_pane, "@agent_port")) == ports[first]
    assert len({int(p) for p in port_table(tmux)}) == 2


def test_worktreeinclude_copies_the_ignored_files_it_names(tmux: Tmux, repo: Repo) -> None:
    configure(tmux, repo, "true")
    (repo.path / "tracked.txt").write_text("tracked\n")
    repo.git("add", "tracked.txt")
    repo.git("commit", "-q", "-m", "tracked")
    (repo.path / ".worktreeinclude").write_text("# gitignore syntax\nsecrets/\nconf.local\ntracked.txt\n")
    (repo.path / "secrets").mkdir()
    (repo.path / "secrets" / "key.txt").write_text("s3cret\n")
    (repo.path / "conf.local").write_text("conf\n")
    (repo.path / "other.local").write_text("not named\n")
    (repo.path / "named-but-not-ignored.txt").write_text("untracked\n")
    (repo.path / ".worktreeinclude").write_text((repo.path / ".worktreeinclude").read_text() + "named-but-not-ignored.txt\n")

    name, _ = spawn(tmux, "Include")
    worktree = repo.path.parent / "project.agents" / name
    assert (worktree / "secrets" / "key.txt").read_text() == "s3cret\n"
    assert (worktree / "conf.local").read_text() == "conf\n"
    assert not (worktree / "other.local").exists()
    assert not (worktree / "named-but-not-ignored.txt").exists()
    assert repo.git("status", "--porcelain", cwd=worktree) == ""
    # Unchanged copies are no work of the agent's: a plain rm goes through.
    out = tmux.agents("rm", name).stdout
    assert "worktree" in out and not worktree.exists()


def test_a_failing_setup_shows_in_list_and_in_the_status_line(tmux: Tmux, repo: Repo) -> None:
    configure(tmux, repo, "echo broken-setup-output; exit 3")
    tmux.run("set-option", "-g", "status-right", "#{agents_status}")
    tmux.load_plugin()
    name, pane = spawn(tmux, "Broken setup")
    wait_for(lambda: tmux.option(pane, "@agent_setup") == "failed", message="@agent_setup failed")
    wait_for(lambda: tmux.option(pane, "@agent_state") == "exited", message="the agent to be marked exited")
    screen = tmux.capture(pane)
    assert "broken-setup-output" in screen and "setup command failed (exit status 3)" in screen
    assert "agent-argument" not in screen
    row = next(line for line in tmux.agents("list").stdout.splitlines() if line.startswith(name))
    assert "setup failed" in row
    assert "⚠ setup 1" in tmux.status_right()
