"""The README documents every tmux option, subcommand, flag and config key the code has.

Read from the code itself (the shell scripts, the Python package, the argparse
parser, the config schema), so an option or flag added without a word in the
README fails here.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from agents_tmux import cli, config, teams

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")

#: Options whose name is built from a prefix in the code; the README names the pattern.
_TEMPLATED = {"@agents-icon-": "@agents-icon-<state>", "@agents-color-": "@agents-color-<state>"}


def _options_in_code() -> set[str]:
    """Every ``@agents-*`` / ``@agents_*`` tmux option named in the plugin's code."""
    files = [ROOT / "agents.tmux", *sorted((ROOT / "scripts").glob("*")), *sorted((ROOT / "python" / "src").rglob("*.py"))]
    found: set[str] = set()
    for path in files:
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            found.update(re.findall(r"@agents[-_][A-Za-z0-9_-]*[A-Za-z0-9_]-?", text))
    return found


def test_every_tmux_option_is_documented() -> None:
    missing = []
    for option in sorted(_options_in_code()):
        if option.startswith("@agents-key-bound") or option.endswith("-bound"):
            continue  # bookkeeping of each key option, named as "@agents-key-bound and the like"
        shown = _TEMPLATED.get(option, option)
        if shown not in README:
            missing.append(option)
    assert not missing, f"tmux options the code reads but README.md does not name: {missing}"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("the CLI has no subcommands")


def _flag_named(flag: str) -> bool:
    """Whether README.md names FLAG as a flag (not merely as part of a longer word)."""
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", README) is not None


def test_every_subcommand_and_flag_is_documented() -> None:
    missing = []
    for name, sub in sorted(_subparsers(cli.build_parser()).items()):
        if f"agents {name}" not in README:
            missing.append(f"agents {name}")
        for action in sub._actions:
            flags = [flag for flag in action.option_strings if flag not in ("-h", "--help")]
            if not flags or action.help == argparse.SUPPRESS:
                continue  # positional, or internal (hidden from --help)
            if not any(_flag_named(flag) for flag in flags):
                missing.append(f"agents {name} {flags[0]}")
    assert not missing, f"subcommands or flags README.md does not name: {missing}"


def test_every_config_key_is_documented() -> None:
    keys = [*config._TOP_KEYS, *config._DEFAULTS_KEYS, *config._AGENT_KEYS, *config._PRICE_KEYS, *config._BUDGET_KEYS,
            "context_window", *teams._ROLE_KEYS, *teams._LAYOUT_KEYS, *teams._PANE_KEYS]
    missing = [key for key in keys if not re.search(rf"\b{re.escape(key)}\b", README)]
    assert not missing, f"config keys README.md does not name: {missing}"


def test_tpm_line_is_marked_as_a_placeholder() -> None:
    line = next(line for line in README.splitlines() if line.startswith("set -g @plugin "))
    assert "placeholder" in line.lower()


def test_every_link_within_the_readme_has_its_heading() -> None:
    def anchor(heading: str) -> str:  # GitHub's: lower case, punctuation dropped, spaces to dashes
        return re.sub(r"[^\w\- ]", "", heading.lower().strip()).replace(" ", "-")

    headings = {anchor(heading) for heading in re.findall(r"^#+ (.+)$", README, re.M)}
    broken = [link for link in re.findall(r"\]\(#([^)]+)\)", README) if link not in headings]
    assert not broken, f"links to headings README.md does not have: {broken}"
