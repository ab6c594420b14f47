"""`agents sync` hands a conflict to the real Claude Code: a message naming the files, the state follows.

A real Claude agent finishes a turn; its branch and main then change the
same line. `agents sync` leaves the merge conflict in the agent's worktree
(the main checkout is untouched) and types a message into Claude naming the
conflicted file and how to finish; the fake API receives it as the next
prompt, and the agent's state goes to working and back to idle.
"""

from __future__ import annotations

from conftest import Repo, Tmux, agent_panes, commit_in, wait_for
from test_lifecycle import snapshot

from tests.support.claude_rig import api, needs_claude, prepare_rig, trusted_folders  # noqa: F401 (api: a fixture)
from tests.support.fake_api import FakeAnthropic, Reply, is_main_request, last_user_text

pytestmark = needs_claude

SLOW = 40.0


def test_sync_conflict_goes_to_the_claude_agent(api: FakeAnthropic, tmux: Tmux, repo: Repo) -> None:
    rig = prepare_rig(tmux, api, trusted_folders(repo))
    name = tmux.agents("spawn", "Change the greeting", "-d").stdout.strip()
    pane = wait_for(lambda: agent_panes(tmux, check=False).get(name), timeout=SLOW, message="the agent's pane")
    rig.wait_state(pane, "idle", timeout=SLOW)
    rig.wait_screen(pane, "? for shortcuts", timeout=SLOW)
    worktree = repo.path.parent / "project.agents" / name
    commit_in(repo, worktree, "app.py", "print('hello from the agent')\n", "Agent greeting")
    commit_in(repo, repo.path, "app.py", "print('hello from main')\n", "Main greeting")
    main_before = snapshot(repo, repo.path)
    # The answer takes a moment, so the working state is there to be seen.
    api.add(Reply.when("conflicts in: app.py", "I will resolve the conflict in app.py.", delay=3.0, times=1))

    out = tmux.agents("sync", name).stdout
    assert "conflicts in app.py" in out and f"{name} was asked to resolve them" in out
    body = rig.wait(
        lambda: next((b for b in api.requests if is_main_request(b) and "conflicts in: app.py" in last_user_text(b)), None),
        pane, "the conflict message at the API", timeout=SLOW,
    )
    assert "git commit --no-edit" in last_user_text(body)
    rig.wait_state(pane, "working", timeout=SLOW)
    rig.wait_screen(pane, "I will resolve the conflict", timeout=SLOW)
    rig.wait_state(pane, "idle", timeout=SLOW)
    assert repo.git("rev-parse", "-q", "--verify", "MERGE_HEAD", cwd=worktree, check=False).strip()
    assert snapshot(repo, repo.path) == main_before
