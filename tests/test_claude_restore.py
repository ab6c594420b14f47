"""Restore after a tmux restart, with the real Claude Code (issue 5).

Two real Claude agents are spawned through the plugin and each finishes a turn
against the fake API; the tmux server is killed and a new one started (same HOME,
same environment, plugin loaded). `agents restore` must bring each agent back in
its worktree running `claude --resume <the recorded session id>`, Claude must keep
writing the same transcript file, and the next request the fake API receives, after
`agents send`, must carry the earlier conversation.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from conftest import Repo, Tmux, agent_panes, wait_for

from tests.support.claude_rig import (  # noqa: F401 (api: a fixture)
    ClaudeBuild,
    ClaudeRig,
    api,
    claude_build,
    claude_child,
    prepare_rig,
    transcript_folder_name,
    trusted_folders,
)
from tests.support.fake_api import FakeAnthropic, Reply, is_main_request, last_user_text

#: Generous: Claude takes 1-2 s to start here, on 2 busy cores.
SLOW = 40.0


def claude_argv(tmux: Tmux, pane: str) -> list[str] | None:
    """The argv of the resumed claude process the pane's wrapper runs (None until it runs)."""
    found = claude_child(tmux, pane, "--resume")
    return found[1] if found else None


def transcript_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def restart_server(rig: ClaudeRig, repo: Repo) -> ClaudeRig:
    """Kill the test's tmux server, start a new one on the same socket, set up as before."""
    rig.tmux.restart(start_in=repo.path)
    return prepare_rig(rig.tmux, rig.api, trusted_folders(repo), rig.build)


def request_text(body: dict[str, Any], role: str) -> str:
    """Every message of ``role`` in a request, as one JSON text to search."""
    return json.dumps([m for m in body.get("messages", []) if m.get("role") == role], ensure_ascii=False)


def test_restore_resumes_the_same_claude_conversations(api: FakeAnthropic, tmux: Tmux, repo: Repo, claude_build: ClaudeBuild) -> None:
    rig = prepare_rig(tmux, api, trusted_folders(repo), claude_build)
    agents = {
        "alpha": ("Count the bananas for alpha", "Alpha counted 42 bananas."),
        "beta": ("Paint the fence for beta", "Beta painted the fence blue."),
    }
    for task, answer in agents.values():
        api.add(Reply.when(task, answer, times=1))

    before: dict[str, dict[str, Any]] = {}
    for key, (task, answer) in agents.items():
        name = tmux.agents("spawn", task, "-d").stdout.strip()
        pane = wait_for(lambda n=name: agent_panes(tmux, check=False).get(n), timeout=SLOW, message=f"the pane of {name}")
        rig.main_request_with(task, timeout=SLOW)
        rig.wait_screen(pane, answer, timeout=SLOW)
        rig.wait_state(pane, "idle", timeout=SLOW)
        session_id = tmux.option(pane, "@agent_session_id")
        transcript = Path(rig.wait(lambda p=pane: tmux.option(p, "@agent_transcript"), pane, "@agent_transcript"))
        worktree = repo.path.parent / "project.agents" / name
        assert transcript == rig.home / ".claude" / "projects" / transcript_folder_name(worktree) / f"{session_id}.jsonl"
        rig.wait(lambda t=transcript, a=answer: a in t.read_text(encoding="utf-8"), pane, "the answer in the transcript")
        before[key] = {"name": name, "session_id": session_id, "transcript": transcript, "worktree": worktree,
                       "size": transcript_size(transcript)}

    rig = restart_server(rig, repo)
    assert agent_panes(tmux, check=False) == {}
    out = tmux.agents("restore").stdout
    for info in before.values():
        assert f"restored {info['name']}: resumed session {info['session_id']}" in out, out

    panes = wait_for(lambda: (p := agent_panes(tmux, check=False)) and len(p) == 2 and p, timeout=SLOW, message="two restored panes")
    assert set(panes) == {info["name"] for info in before.values()}
    for key, info in before.items():
        pane = panes[info["name"]]
        worktree, session_id = info["worktree"], info["session_id"]
        assert tmux.display("#{pane_current_path}", pane) == str(worktree)
        assert tmux.option(pane, "@agent_worktree") == str(worktree)
        assert tmux.option(pane, "@agent_session_id") == session_id
        start = tmux.display("#{pane_start_command}", pane)
        assert f"--resume {session_id}" in start and "--session-id" not in start
        argv = rig.wait(lambda p=pane: claude_argv(tmux, p), pane, "the resumed claude process", timeout=SLOW)
        assert argv[argv.index("--resume") + 1] == session_id
        # Claude runs in the worktree.
        child_cwd = rig.wait(lambda p=pane: _claude_cwd(tmux, p), pane, "the claude process's cwd")
        assert child_cwd == worktree
        # The resumed session's SessionStart hook reports the same transcript file.
        rig.wait(lambda p=pane, t=info["transcript"]: tmux.option(p, "@agent_transcript") == str(t), pane,
                 "@agent_transcript to name the same file", timeout=SLOW)
        rig.wait_state(pane, "idle", timeout=SLOW)

    # A new prompt: the request carries the earlier conversation, the transcript grows.
    for key, info in before.items():
        task, answer = agents[key]
        pane = panes[info["name"]]
        rig.wait_screen(pane, "? for shortcuts", timeout=SLOW)
        follow_up = f"Follow-up for {key}: what did you do?"
        tmux.agents("send", info["name"], follow_up)
        body = rig.wait(lambda f=follow_up: _request_with(rig, f), pane, "the follow-up request", timeout=SLOW)
        assert task in request_text(body, "user")
        assert answer in request_text(body, "assistant")
        assert json.loads(body["metadata"]["user_id"])["session_id"] == info["session_id"]
        # The other agent's conversation is not in this one.
        other = next(k for k in agents if k != key)
        assert agents[other][0] not in json.dumps(body["messages"])
        rig.wait_state(pane, "idle", timeout=SLOW)
        transcript: Path = info["transcript"]
        rig.wait(lambda t=transcript, f=follow_up: f in t.read_text(encoding="utf-8"), pane, "the follow-up in the same transcript")
        assert transcript_size(transcript) > info["size"]
        assert tmux.option(pane, "@agent_transcript") == str(transcript)
        # Still exactly one transcript for that session: no new file was started.
        folder = transcript.parent
        assert [p.name for p in folder.glob("*.jsonl")] == [transcript.name]


def _request_with(rig: ClaudeRig, text: str) -> dict[str, Any] | None:
    return next((b for b in rig.api.requests if is_main_request(b) and text in last_user_text(b)), None)


def _claude_cwd(tmux: Tmux, pane: str) -> Path | None:
    found = claude_child(tmux, pane, "--resume")
    if found is None:
        return None
    try:
        return Path(os.readlink(f"/proc/{found[0]}/cwd"))
    except OSError:
        return None
