"""`agents team`: a whole layout of roles in one command, from the TOML config."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest
from conftest import AGENTS as AGENTS_CLI
from conftest import PLAIN_AGENT, Repo, Tmux, expect_text, first_pane, read_standin_log, server_processes, wait_for

TASK = "Fix the login"
SLUG = "fix-the-login"


def starts(env: dict[str, str]) -> dict[str, dict]:
    """The stand-in's start records by the folder it started in."""
    return {e["cwd"]: e for e in read_standin_log(env) if e["event"] == "start"}


def at_least(env: dict[str, str], count: int) -> dict[str, dict] | None:
    """The start records once ``count`` agents have started."""
    found = starts(env)
    return found if len(found) >= count else None


def team_rows(out: str) -> dict[str, tuple[str, str, str]]:
    """`agents team` output: role -> (name, branch, pane)."""
    rows = {}
    for line in out.splitlines():
        role, name, branch, pane = line.split("\t")
        rows[role] = (name, branch, pane)
    return rows


def geometry(tmux: Tmux, pane: str) -> dict[str, int]:
    fmt = "#{pane_left} #{pane_top} #{pane_width} #{pane_height} #{window_width} #{window_height}"
    values = [int(v) for v in tmux.display(fmt, pane).split()]
    return dict(zip(("left", "top", "width", "height", "window_width", "window_height"), values))


def branch_list(repo: Repo) -> set[str]:
    return set(repo.branches())


def agent_panes(tmux: Tmux) -> list[str]:
    out = tmux.run("list-panes", "-a", "-F", "#{@agent_name}")
    return [line for line in out.splitlines() if line]


def test_default_team_geometry_worktrees_roles_and_prompts(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    origin = first_pane(tmux)
    out = tmux.agents("team", "--task", TASK, "--pane", origin).stdout
    rows = team_rows(out)
    assert list(rows) == ["planner", "coder", "reviewer"]
    planner, coder, reviewer = (rows[r][2] for r in ("planner", "coder", "reviewer"))

    # One new window, named after the task, holding the three panes.
    window = tmux.display("#{window_id}", planner)
    assert window != tmux.display("#{window_id}", origin)
    assert {tmux.display("#{window_id}", p) for p in (coder, reviewer)} == {window}
    assert tmux.display("#{window_panes}", planner) == "3"
    assert tmux.display("#{window_name}", planner) == SLUG

    # Planner and coder side by side at the top, reviewer below across the full width.
    p, c, r = geometry(tmux, planner), geometry(tmux, coder), geometry(tmux, reviewer)
    assert (p["left"], p["top"]) == (0, 0)
    assert c["top"] == 0 and c["left"] > p["left"] + p["width"] - 1
    assert abs(p["width"] - c["width"]) <= 1
    assert r["left"] == 0 and r["width"] == r["window_width"]
    assert r["top"] >= p["top"] + p["height"] and r["top"] >= c["top"] + c["height"]

    # Each in its own worktree and branch agent/<task>-<role>; the reviewer in the main checkout.
    worktrees = repo.path.parent / "project.agents"
    expected = {
        planner: ("planner", worktrees / f"{SLUG}-planner", f"agent/{SLUG}-planner"),
        coder: ("coder", worktrees / f"{SLUG}-coder", f"agent/{SLUG}-coder"),
        reviewer: ("reviewer", repo.path, ""),
    }
    assert {f"agent/{SLUG}-planner", f"agent/{SLUG}-coder"} <= branch_list(repo)
    assert not any("reviewer" in b for b in repo.branches())
    for pane, (role, path, branch) in expected.items():
        assert tmux.option(pane, "@agent_role") == role
        assert tmux.option(pane, "@agent_branch") == branch
        assert tmux.option(pane, "@agent_task") == TASK
        assert tmux.display("#{pane_current_path}", pane) == str(path)

    # The role's prompt reaches the agent as --append-system-prompt, filled in; the task is the prompt.
    records = wait_for(lambda: at_least(tmux.env, 3), timeout=30, message="three agents to start")
    for pane, (role, path, branch) in expected.items():
        start = records[str(path)]
        assert start["prompt"] == TASK
        system = start["append_system_prompt"]
        assert f"You are the {role}" in system
        assert "{" not in system and "}" not in system
        assert f"{path}/.agents/context/plan.md" in system
        assert TASK in system
        if branch:
            assert start["argv"][start["argv"].index("--append-system-prompt") + 1] == system
        if role == "coder":
            assert f"branch {branch}" in system
        if role == "reviewer":
            assert f"main checkout {repo.path}" in system

    # The team is written down for the agents to find each other.
    team_md = (repo.path / ".agents" / "context" / "team.md").read_text()
    assert f"agent/{SLUG}-coder" in team_md and "(main checkout)" in team_md
    assert repo.git("status", "--porcelain") == ""


def test_team_in_a_new_session(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    rows = team_rows(tmux.agents("team", "--task", TASK, "--session", "--pane", first_pane(tmux)).stdout)
    sessions = tmux.run("list-sessions", "-F", "#{session_name}").split()
    assert f"project-{SLUG}" in sessions
    for _, _, pane in rows.values():
        assert tmux.display("#{session_name}", pane) == f"project-{SLUG}"
    r = geometry(tmux, rows["reviewer"][2])
    assert r["width"] == r["window_width"] and r["top"] > 0
    # Sized like the window the command came from, not tmux's 80x24.
    assert r["window_width"] == 200

    # A second team with the same task gets numbered names; an explicit session name is taken as it is.
    tmux.run("set-option", "-g", "@agents-max", "10")
    rows2 = team_rows(tmux.agents("team", "--task", TASK, "--session=review.round: 2").stdout)
    assert rows2["coder"][0] == f"{SLUG}-coder-2"
    assert tmux.display("#{session_name}", rows2["coder"][2]) == "review-round-2"
    # A session name already in use is refused before anything is made.
    before = branch_list(repo)
    failed = tmux.agents("team", "--task", "other task", "--session", "review-round-2", check=False)
    assert failed.returncode == 1
    assert failed.stderr.strip() == "agents team: a session called 'review-round-2' already exists: choose another name with --session NAME"
    assert branch_list(repo) == before


def test_layout_target_session_and_window_flag(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    (repo.path / ".agents.toml").write_text('[layouts.team]\ntarget = "session"\n')
    rows = team_rows(tmux.agents("team", "--task", "solo", "--pane", first_pane(tmux)).stdout)
    assert tmux.display("#{session_name}", rows["planner"][2]) == "project-solo"
    tmux.run("set-option", "-g", "@agents-max", "10")
    rows = team_rows(tmux.agents("team", "--task", "in window", "--window", "--pane", first_pane(tmux)).stdout)
    assert tmux.display("#{session_name}", rows["planner"][2]) == "main"


def test_the_cap_applies_to_the_whole_team(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    tmux.run("set-option", "-g", "@agents-max", "4")
    tmux.agents("spawn", "one already", "-d")
    tmux.agents("spawn", "two already", "-d")
    before = branch_list(repo)
    panes_before = tmux.panes()
    refused = tmux.agents("team", "--task", TASK, check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "agents team: 2 agents are running, the team adds 3 and the cap is 4 (@agents-max): "
        "each one spends API quota; use --force to start the team anyway"
    )
    assert branch_list(repo) == before and tmux.panes() == panes_before
    rows = team_rows(tmux.agents("team", "--task", TASK, "--force").stdout)
    assert len(rows) == 3 and len(agent_panes(tmux)) == 5


def test_a_failing_pane_takes_back_what_the_team_made(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    # The coder takes all the rows it can, leaving the planner one: tmux has no
    # space to split the planner, so the third pane fails after two agents started.
    (repo.path / ".agents.toml").write_text(
        '[layouts.team]\npanes = [ { role = "planner" }, { role = "coder", split = "below", size = 1000 },'
        ' { role = "reviewer", split = "below", of = "planner" } ]\n'
    )
    repo.git("add", ".agents.toml")
    repo.git("commit", "-q", "-m", "config")
    windows = tmux.run("list-windows", "-a", "-F", "#{window_id}").split()
    failed = tmux.agents("team", "--task", TASK, "--pane", first_pane(tmux), check=False)
    assert failed.returncode == 1
    message = failed.stderr.strip()
    assert message.startswith("agents team: the reviewer pane (pane 3 of 3) failed: tmux split-window: no space for new pane;")
    assert message.endswith(f"removed what the team had started ({SLUG}-planner, {SLUG}-coder)")
    assert "\n" not in message
    assert agent_panes(tmux) == []
    assert tmux.run("list-windows", "-a", "-F", "#{window_id}").split() == windows
    assert repo.branches() == ["main"]
    assert repo.worktrees() == [repo.path]
    assert not list((repo.path.parent / "project.agents").glob("*"))
    # The names are free again.
    listed = tmux.agents("list", "--json").stdout
    assert listed.strip() == "[]"


BAD_CONFIGS = [
    (
        '[layouts.team]\npanes = [ { role = "planner" }, { role = "tester", split = "below" } ]\n',
        "layouts.team.panes[2].role: unknown role 'tester' (expected one of the [roles] tables: coder, planner, reviewer)",
        2,
    ),
    (
        '[roles.coder]\nagent = "cluade"\n',
        "roles.coder.agent: unknown agent kind 'cluade' (expected one of the [agents] tables: aider, claude, codex, gemini)",
        2,
    ),
    ('[roles.reviewer]\nworktree = "no"\n', "roles.reviewer.worktree: expected true or false, got 'no'", 2),
    ('[roles.coder]\nprompt = 42\n', "roles.coder.prompt: expected a string, got a number", 2),
    ('[roles.coder]\nmodel = "opus"\n', "roles.coder.model: unknown key (expected one of: agent, prompt, worktree, base)", 2),
    (
        '[roles.coder]\nprompt = "Work on {taks}"\n',
        "roles.coder.prompt: unknown placeholder {taks} (expected: {context}, {task}, {branch}, {repo}, {role}, {name}, {worktree}; write {{ and }} for braces)",
        2,
    ),
    (
        '\n[layouts.grid]\npanes = "planner"\n',
        "layouts.grid.panes: expected a list of panes like [ { role = \"coder\" }, ... ], got 'planner'",
        3,
    ),
    (
        '[layouts.team]\npanes = [ { role = "planner" }, { role = "coder", split = "sideways" } ]\n',
        "layouts.team.panes[2].split: expected one of right, left, below, above, got 'sideways'",
        2,
    ),
    (
        '[layouts.team]\npanes = [ { role = "planner" }, { role = "coder", split = "right", full_width = true } ]\n',
        "layouts.team.panes[2].full_width: full_width goes with split = below or above; for split = 'right' use full_height",
        2,
    ),
    ('[layouts.team]\ntarget = "tab"\n', "layouts.team.target: expected one of window, session, got 'tab'", 2),
]


@pytest.mark.parametrize("toml,problem,line", BAD_CONFIGS, ids=[p.split(":")[0] for _, p, _ in BAD_CONFIGS])
def test_bad_configs_give_one_located_line(tmux: Tmux, repo: Repo, standin_agent: Path, toml: str, problem: str, line: int) -> None:
    config = repo.path / ".agents.toml"
    config.write_text(toml)
    panes_before = tmux.panes()
    failed = tmux.agents("team", "--task", TASK, check=False)
    assert failed.returncode == 1
    assert failed.stderr == f"agents team: config error in {config} line {line}: {problem}\n"
    assert tmux.panes() == panes_before and repo.branches() == ["main"]


def test_unknown_layout_and_missing_task(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    failed = tmux.agents("team", "grid", "--task", TASK, check=False)
    assert failed.stderr == "agents team: unknown layout 'grid' (configured: team; add a [layouts.grid] table to the config)\n"
    failed = tmux.agents("team", check=False)
    assert failed.stderr == 'agents team: say what the team should do: agents team --task "TASK"\n'
    assert failed.returncode == 1 and repo.branches() == ["main"]


def test_custom_layout_grid_with_of_and_another_agent_kind(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    (repo.path / ".agents.toml").write_text(
        f'[agents.plain]\ncommand = ["{PLAIN_AGENT}"]\n'
        '[roles.tester]\nagent = "plain"\nprompt = "unused: plain agents take no system prompt"\n'
        '[roles.lead]\nprompt = "Lead {name} on {branch} for {role} in {worktree}; repo {repo}; {{braces}}"\n'
        '[layouts.grid]\npanes = [\n  { role = "lead" },\n  { role = "coder", split = "right" },\n'
        '  { role = "tester", split = "below", of = "lead" },\n  { role = "reviewer", split = "below", of = 2, size = "30%" },\n]\n'
        '[defaults]\nmax_agents = 5\n'
    )
    rows = team_rows(tmux.agents("team", "grid", "--task", "grid work", "--pane", first_pane(tmux)).stdout)
    lead, coder, tester, reviewer = (geometry(tmux, rows[r][2]) for r in ("lead", "coder", "tester", "reviewer"))
    assert lead["left"] == tester["left"] == 0 and tester["top"] > lead["top"]
    assert coder["left"] == reviewer["left"] > 0 and reviewer["top"] > coder["top"]
    assert reviewer["height"] < coder["height"]
    assert tmux.option(rows["tester"][2], "@agent_kind") == "plain"
    worktree = repo.path.parent / "project.agents" / "grid-work-lead"
    records = wait_for(lambda: at_least(tmux.env, 4), timeout=30, message="four agents")
    assert records[str(worktree)]["append_system_prompt"] == (
        f"Lead grid-work-lead on agent/grid-work-lead for lead in {worktree}; repo {repo.path}; {{braces}}"
    )
    tester_start = records[str(repo.path.parent / "project.agents" / "grid-work-tester")]
    assert tester_start["program"] == "plain-agent" and tester_start["prompt"] == "grid work"


@pytest.fixture
def client(tmux: Tmux, standin_agent: Path, attach: Callable[..., pexpect.spawn]) -> pexpect.spawn:
    """A real client, with the team key set to T and the plugin loaded."""
    tmux.run("set-option", "-g", "@agents-team-key", "T")
    tmux.load_plugin()
    return attach()


def test_team_key_prompts_for_the_task(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    client.send("\x02")
    client.send("T")
    client.expect("team task:")
    client.send('Fix "it"; $(touch pwned) #{pane_id}')
    client.send("\r")
    wait_for(lambda: len(agent_panes(tmux)) == 3, timeout=30, message="the team's three panes")
    # The client moves to the team's window, on the first pane.
    wait_for(lambda: tmux.display("#{@agent_role}") == "planner", message="the client to show the planner")
    assert tmux.option(tmux.display("#{pane_id}"), "@agent_task") == 'Fix "it"; $(touch pwned) #{pane_id}'
    assert not (repo.path / "pwned").exists()
    assert "agents-team-task" not in tmux.run("list-buffers", "-F", "#{buffer_name}")


def test_team_key_outside_a_repository_says_so_before_asking(tmux: Tmux, repo: Repo, client: pexpect.spawn, tmp_path: Path) -> None:
    elsewhere = tmp_path / "not-a-repo"
    elsewhere.mkdir()
    tmux.run("new-window", "-c", str(elsewhere))
    wait_for(lambda: tmux.display("#{pane_current_path}") == str(elsewhere), message="the new window to be current")
    client.send("\x02")
    client.send("T")
    # Said before any prompt opens: a task typed into the prompt would be lost.
    assert expect_text(client, "team task:", "is not in a git repository") == "is not in a git repository"
    assert agent_panes(tmux) == []


def test_team_key_over_the_cap_asks_once(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    tmux.run("set-option", "-g", "@agents-max", "2")
    tmux.agents("spawn", "already running", "-d")
    client.send("\x02")
    client.send("T")
    client.expect("team task:")
    client.send("over the cap")
    client.send("\r")
    client.expect(r"1 agents running, the team adds 3, cap is 2\. Start it\? \(y/n\)")
    assert len(agent_panes(tmux)) == 1
    client.send("y")
    wait_for(lambda: len(agent_panes(tmux)) == 4, timeout=30, message="the team after confirming")
    assert {"agent/over-the-cap-planner", "agent/over-the-cap-coder"} <= set(repo.branches())


def test_context_key_opens_a_popup(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    (repo.path / ".agents" / "context").mkdir(parents=True)
    (repo.path / ".agents" / "context" / "plan.md").write_text("# plan\n")
    tmux.run("bind-key", "-T", "prefix", "X", "run-shell", "-b", f"{AGENTS_CLI} -L {tmux.socket} context --from-key --client '#{{client_name}}' --pane '#{{pane_id}}'")
    client.send("\x02")
    client.send("X")
    client.expect("plan.md")
    client.expect("Shared context")
    client.send("q")


def test_team_key_on_two_clients_at_once_starts_each_clients_task(
    tmux: Tmux, repo: Repo, client: pexpect.spawn, attach: Callable[..., pexpect.spawn]
) -> None:
    # Both prompts answered together: each team is started on its own task, not on the one typed last.
    tmux.run("set-option", "-g", "@agents-max", "20")
    other = attach()
    wait_for(lambda: len(tmux.run("list-clients", "-F", "#{client_name}").split()) == 2, message="the second client")
    for child, task in ((client, "team alpha"), (other, "team beta")):
        child.send("\x02")
        child.send("T")
        child.expect("team task:")
        child.send(task)
    client.send("\r")
    other.send("\r")

    def tasks() -> list[str]:
        return sorted(t for t in tmux.run("list-panes", "-a", "-F", "#{@agent_task}").splitlines() if t)

    wait_for(lambda: len(tasks()) == 6, timeout=60, message="both teams")
    assert tasks() == ["team alpha"] * 3 + ["team beta"] * 3
    # Each prompt's buffer goes once its team started.
    wait_for(lambda: not [b for b in tmux.run("list-buffers", "-F", "#{buffer_name}", check=False).split() if b.startswith("agents-team-task")],
             timeout=30, message="no task buffer left")


def test_team_key_refused_keeps_the_task_in_its_buffer(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    tmux.run("set-option", "-g", "@agents-command", "no-such-agent-program")
    client.send("\x02")
    client.send("T")
    client.expect("team task:")
    client.send("Kept 'as' typed;")
    client.send("\r")
    expect_text(client, "no-such-agent-program")
    assert agent_panes(tmux) == []
    assert tmux.run("show-buffer", "-b", "agents-team-task") == "Kept 'as' typed;"
    assert tmux.run("list-buffers", "-F", "#{buffer_name}").split() == ["agents-team-task"]


def test_team_key_prompt_of_a_client_that_goes_leaves_nothing_running(tmux: Tmux, repo: Repo, client: pexpect.spawn) -> None:
    # tmux 3.3 holds a command-prompt run from the command line until the prompt closes, forever if the client goes.
    client.send("\x02")
    client.send("T")
    client.expect("team task:")
    client.send("half typed")

    def prompts() -> list[int]:
        return list(server_processes(tmux, lambda words: b"command-prompt" in words or any(w.endswith(b"ask-task") for w in words)))

    tmux.run("detach-client", "-s", "main")
    wait_for(lambda: not prompts(), timeout=10, message="nothing left of the team key's prompt")
