"""agents.tmux: several AI coding agents side by side in tmux, each on its own git worktree.

This package is imported by hot paths (the Claude Code hook handler), so it
imports nothing here: every module pulls in only what it needs.
"""

__version__ = "0.1.0"
