"""Park and unpark with the real Claude Code: the conversation comes back with the agent.

A real Claude agent finishes a turn against the fake API; `agents park`
closes its pane and removes its worktree; `agents unpark` adds the worktree
back at the same path and runs `claude --resume <the same session id>`, and
the next request the fake API receives, after `agents send`, carries the
earlier conversation.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Repo, Tmux, agent_panes, wait_for

from tests.support.claude_rig import api, claude_child, needs_claude, prepare_rig, trusted_folders  # noqa: F401 (api: a fixture)
from tests.support.fake_api import FakeAnthropic, Reply, is_main_request, last_user_text

pytestmark = needs_claude

SLOW = 40.0


def test_unpark_resumes_the_same_claude_conversation(api: FakeAnthropic, tmux: Tmux, repo: Repo) -> None:
    rig = prepare_rig(tmux, api, trusted_folders(repo))
    task, answer = "Count the parked bananas", "There are 17 parked bananas."
    api.add(Reply.when(task, answer, times=1))
    name = tmux.agents("spawn", task, "-d").stdout.strip()
    pane = wait_for(lambda: agent_panes(tmux, check=False).get(name), timeout=SLOW, message="the agent's pane")
    rig.wait_screen(pane, answer, timeout=SLOW)
    rig.wait_state(pane, "idle", timeout=SLOW)
    session_id = tmux.option(pane, "@agent_session_id")
    transcript = Path(rig.wait(lambda: tmux.option(pane, "@agent_transcript"), pane, "@agent_transcript"))
    rig.wait(lambda: answer in transcript.read_text(encoding="utf-8"), pane, "the answer in the transcript")
    worktree = repo.path.parent / "project.agents" / name

    tmux.agents("park", name)
    assert name not in agent_panes(tmux) and not worktree.exists()

    out = tmux.agents("unpark", name).stdout
    assert f"resumed session {session_id}" in out, out
    pane = wait_for(lambda: agent_panes(tmux, check=False).get(name), timeout=SLOW, message="the unparked pane")
    found = rig.wait(lambda: claude_child(tmux, pane, "--resume"), pane, "the resumed claude process", timeout=SLOW)
    assert found[1][found[1].index("--resume") + 1] == session_id
    rig.wait_state(pane, "idle", timeout=SLOW)
    rig.wait_screen(pane, "? for shortcuts", timeout=SLOW)

    follow_up = "How many parked bananas were there?"
    tmux.agents("send", name, follow_up)
    body = rig.wait(
        lambda: next((b for b in api.requests if is_main_request(b) and follow_up in last_user_text(b)), None),
        pane, "the follow-up request", timeout=SLOW,
    )
    messages = json.dumps(body["messages"], ensure_ascii=False)
    assert task in messages and answer in messages
    rig.wait(lambda: follow_up in transcript.read_text(encoding="utf-8"), pane, "the follow-up in the same transcript")
