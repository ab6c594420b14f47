"""`agents send` and `agents broadcast`: text arrives exactly as written, never read by tmux or a shell."""

from __future__ import annotations

from pathlib import Path

from conftest import Repo, Tmux, read_standin_log, wait_for

NASTY = [
    "plain words",
    "$(touch pwned-dollar) `touch pwned-backtick` ${HOME}",
    "#{pane_id} #(touch pwned-format) ##",
    "ends with a semicolon;",
    "; kill-server ;",
    "quotes ' \" \\ and a tab\tinside",
    "unicode: é ü ß 日本語 🎉",
]


def inputs(env: dict[str, str], cwd: Path) -> list[str]:
    """Input lines the stand-in received in ``cwd`` (its prompts and later lines)."""
    pids = {e["pid"] for e in read_standin_log(env) if e["event"] == "start" and e.get("cwd") == str(cwd)}
    return [e["line"] for e in read_standin_log(env) if e["event"] == "input" and e["pid"] in pids]


def spawn_ready(tmux: Tmux, repo: Repo, task: str) -> tuple[str, Path, str]:
    name = tmux.agents("spawn", task, "-d").stdout.strip()
    worktree = repo.path.parent / "project.agents" / name
    pane = wait_for(lambda: {n: p for n, _, p in (l.partition("\t") for l in tmux.run("list-panes", "-a", "-F", "#{@agent_name}\t#{pane_id}").splitlines())}.get(name))
    # The task is the first prompt; /done ends that turn, so the agent is idle.
    wait_for(lambda: tmux.option(pane, "@agent_state") == "working", timeout=20, message=f"{name} working")
    tmux.run("send-keys", "-t", pane, "/done", "Enter")
    wait_for(lambda: tmux.option(pane, "@agent_state") == "idle", timeout=20, message=f"{name} idle")
    return name, worktree, pane


def test_send_delivers_nasty_multiline_text_exactly(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    name, worktree, _ = spawn_ready(tmux, repo, "receiver")
    text = "\n".join(NASTY)
    tmux.agents("send", name, text)
    wait_for(lambda: inputs(tmux.env, worktree)[-len(NASTY):] == NASTY, timeout=20,
             message="every line of the message, unchanged")
    assert tmux.run("list-sessions", "-F", "#{session_name}").split() == ["main"]
    for path in (worktree, repo.path, Path(tmux.env["HOME"])):
        assert not list(path.glob("pwned*")), path
    # No buffer is left behind.
    assert "agents-send" not in tmux.run("list-buffers", "-F", "#{buffer_name}")


def test_send_from_stdin_and_single_line(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    name, worktree, pane = spawn_ready(tmux, repo, "stdin receiver")
    tmux.agents("send", name, "-", input="from stdin; #{session_name}\n")
    wait_for(lambda: "from stdin; #{session_name}" in inputs(tmux.env, worktree), timeout=20, message="the stdin message")
    wait_for(lambda: tmux.option(pane, "@agent_state") == "working", timeout=20, message="the message submitted as a prompt")


def test_send_refuses_empty_text_and_exited_agents(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    name, worktree, pane = spawn_ready(tmux, repo, "short lived")
    proc = tmux.agents("send", name, "   ", check=False)
    assert proc.returncode == 1 and "empty" in proc.stderr
    tmux.run("send-keys", "-t", pane, "/exit", "Enter")
    wait_for(lambda: tmux.option(pane, "@agent_state") == "exited", message="exited")
    proc = tmux.agents("send", name, "touch pwned-shell", check=False)
    assert proc.returncode == 1 and f"agents -L {tmux.socket} restart {name}" in proc.stderr
    assert not (worktree / "pwned-shell").exists()


def test_broadcast_reaches_every_running_agent_but_not_exited_ones(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    tmux.run("set-option", "-g", "@agents-max", "10")
    agents = [spawn_ready(tmux, repo, f"listener {i}") for i in range(3)]
    gone_name, gone_wt, gone_pane = agents[2]
    tmux.run("send-keys", "-t", gone_pane, "/exit", "Enter")
    wait_for(lambda: tmux.option(gone_pane, "@agent_state") == "exited", message="exited")
    message = "all hands: $(touch pwned-broadcast) #{pane_id};\nsecond line"
    out = tmux.agents("broadcast", message).stdout
    assert "listener-0" in out and "listener-1" in out and gone_name not in out
    for name, worktree, _ in agents[:2]:
        wait_for(lambda w=worktree: inputs(tmux.env, w)[-2:] == message.split("\n"), timeout=20, message=f"{name} got it")
    assert not list(gone_wt.glob("pwned*"))
    assert "all hands" not in tmux.capture(gone_pane)


def test_broadcast_state_filter(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    tmux.run("set-option", "-g", "@agents-max", "10")
    idle_name, idle_wt, _ = spawn_ready(tmux, repo, "idle one")
    busy_name, busy_wt, busy_pane = spawn_ready(tmux, repo, "busy one")
    tmux.run("send-keys", "-t", busy_pane, "keep working", "Enter")
    wait_for(lambda: tmux.option(busy_pane, "@agent_state") == "working", message="busy")
    out = tmux.agents("broadcast", "--state", "idle", "only idle ones").stdout
    assert idle_name in out and busy_name not in out
    wait_for(lambda: "only idle ones" in inputs(tmux.env, idle_wt), timeout=20, message="the idle agent got it")
    assert "only idle ones" not in inputs(tmux.env, busy_wt)
