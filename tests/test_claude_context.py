"""The shared context folder with the real Claude Code: no permission question for it.

In an agent's worktree `.agents/context` is a link to the real folder in the main
checkout, outside Claude's working directory. Claude Code 2.1.197 asks before
reading a file there ("Read file ... Do you want to proceed?", "allow reading from
context/ during this session"), while a read inside the worktree is allowed at once.
The plugin passes `--add-dir <the real folder>` to Claude agents, so reading the
shared files is as free as reading the worktree's own.
"""

from __future__ import annotations

from conftest import Repo, Tmux, pane_of

from tests.support.claude_rig import ClaudeBuild, api, claude_build, prepare_rig, trusted_folders  # noqa: F401 (fixtures)
from tests.support.fake_api import FakeAnthropic, Reply, ToolUse

SLOW = 40.0


def test_claude_reads_the_shared_context_without_asking(api: FakeAnthropic, tmux: Tmux, repo: Repo, claude_build: ClaudeBuild) -> None:
    rig = prepare_rig(tmux, api, trusted_folders(repo), claude_build)
    task = "Read the shared plan"
    name = "read-the-shared-plan"
    worktree = repo.path.parent / "project.agents" / name
    shared = repo.path / ".agents" / "context"
    shared.mkdir(parents=True)
    (shared / "plan.md").write_text("Step 1: the secret word is PAPAYA.\n")
    api.add(
        Reply.when(task, ToolUse("Read", {"file_path": str(worktree / ".agents" / "context" / "plan.md")}), times=1),
        Reply.after_tool("I have read the plan.", contains="PAPAYA", times=1),
    )
    assert tmux.agents("spawn", task, "-d").stdout.strip() == name
    pane = pane_of(tmux, name)

    # Claude is told about the real folder, before its other options.
    start = tmux.display("#{pane_start_command}", pane)
    assert f"--add-dir {shared} --settings " in start

    # The read needs no answer from the user: the tool result reaches the model.
    rig.wait_screen(pane, "I have read the plan.", timeout=SLOW)
    assert "Do you want to proceed?" not in rig.screen(pane)
    rig.wait_state(pane, "idle", timeout=SLOW)
    assert (worktree / ".agents" / "context").is_symlink()
