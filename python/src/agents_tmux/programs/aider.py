"""Aider: no hooks, so its screen tells its state; the task is typed in; history restored on restart.

Facts (Aider 0.86, /work/shared/AGENT-CLIS.md and the recordings in tests/screens/aider):

* Aider has no hooks and no session ids. Its ``--notifications-command`` runs at the
  first input wait after each reply, the question and the prompt alike, with no payload:
  it cannot tell waiting from idle, so the screen watcher (a ``capture-pane`` a second)
  reads every state.
* There is no option for a first prompt that stays interactive (``--message`` answers
  once and exits): the task is typed into the pane once Aider is up.
* Restarting continues the conversation with ``--restore-chat-history`` (Aider reads it
  back from ``.aider.chat.history.md`` in the worktree).
"""

from __future__ import annotations

from agents_tmux.programs import Program

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

#: Where Aider keeps the chat it restores (in the git root it works in).
HISTORY = ".aider.chat.history.md"

#: What the screen shows (recorded from Aider 0.86 in tests/screens/aider).
SCREEN = {
    # "Run shell command? (Y)es/(N)o/(D)on't ask again [Yes]:", "Add file to the chat?...",
    # until a prompt is typed below it (the answered question stays in view).
    "waiting": ("\\(Y\\)es/\\(N\\)o(?![\\s\\S]*^(\\w+ )?\\w*> )", "\\[Yes\\]: ?$"),
    # A failed request ("litellm.BadRequestError: ..."), until a later prompt is typed.
    "error": ("^litellm\\.[\\w.]*(Error|Exception)\\b(?![\\s\\S]*\\n(\\w+ )?\\w*> \\S)",),
    # The "Waiting for <model>" spinner, and a shell command it was allowed to
    # run, while no prompt follows them (Ctrl+C leaves the spinner's last frame
    # on screen). The "Tokens: ... sent" line comes after a reply: it means done.
    "working": ("Waiting for \\S(?![\\s\\S]*^(\\w+ )?\\w*>( |$))", "^Running \\S(?![\\s\\S]*^(\\w+ )?\\w*>( |$))"),
    # The prompt, "> " or "<mode>> " (diff>, architect>, ask>...), alone on the last line.
    "idle": ("^(\\w+ )?\\w*> ?\\Z",),
}


class Aider(Program):
    """Aider (``aider``), read from its screen."""

    name = "aider"
    screen = SCREEN

    def has_conversations(self, worktree: Path | None) -> bool | None:
        if worktree is None:
            return False
        try:
            return (worktree / HISTORY).stat().st_size > 0
        except OSError:
            return False


PROGRAM = Aider()
