"""Handle one Claude Code hook event (JSON on stdin); always silent, always exit 0."""

from __future__ import annotations

import argparse

HELP = "handle a Claude Code hook event (used by the generated --settings file)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # the event arrives on stdin


def run(args: argparse.Namespace) -> int:
    from agents_tmux import hook

    return hook.main()
