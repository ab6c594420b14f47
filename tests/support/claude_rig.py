"""The real Claude Code, run through the plugin on a test tmux server, offline.

:class:`ClaudeRig` ties together what an end-to-end test needs: a
:class:`~tests.support.fake_api.FakeAnthropic` (the model, scripted per test), the
test HOME prepared for Claude (:func:`~tests.support.claude_home.prepare_claude_home`),
the Claude variables in the tmux server's global environment (every new pane, so every
agent, inherits them), ``@agents-command`` set to the real binary and the plugin loaded.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.claude_home import (
    CLAUDE_VERSION,
    claude_env,
    claude_version,
    fake_api_key,
    find_claude,
    find_latest_claude,
    prepare_claude_home,
)
from tests.support.fake_api import FakeAnthropic, is_main_request, last_user_text
from tests.support.pane_rig import PaneRig

__all__ = [
    "BUILDS", "CLAUDE", "ClaudeBuild", "ClaudeRig", "api", "claude_build", "claude_child", "needs_claude", "prepare_rig",
    "transcript_folder_name", "trusted_folders",
]

#: The real Claude Code's binary (None when it is not installed).
CLAUDE = find_claude()


@dataclass(frozen=True)
class ClaudeBuild:
    """One installed Claude Code the real-Claude tests run against."""

    #: "pinned" (the version the notes were written against) or "latest".
    label: str
    binary: str | None
    #: Why it is not there, when ``binary`` is None.
    missing: str = ""

    @property
    def version(self) -> str:
        """Its version number, asked once per test session."""
        if self.binary is None:
            return ""
        if self.binary not in _VERSIONS:
            _VERSIONS[self.binary] = claude_version(self.binary)
        return _VERSIONS[self.binary]


_VERSIONS: dict[str, str] = {}
_LATEST, _LATEST_MISSING = find_latest_claude()
#: Every Claude Code the real-Claude tests run against, pinned first.
BUILDS = (
    ClaudeBuild("pinned", CLAUDE, "" if CLAUDE else f"the pinned Claude Code {CLAUDE_VERSION} is not installed "
                "(scripts/test installs it into .cache/claude-code; or set $AGENTS_TMUX_CLAUDE_BIN)"),
    ClaudeBuild("latest", _LATEST, "" if _LATEST else f"the newest Claude Code: {_LATEST_MISSING}"),
)


@pytest.fixture(
    params=[pytest.param(build, id=build.label, marks=pytest.mark.skipif(build.binary is None, reason=build.missing)) for build in BUILDS]
)
def claude_build(request: pytest.FixtureRequest) -> ClaudeBuild:
    """Each installed Claude Code in turn (a test using it runs once per version; import it into the module)."""
    build = request.param
    assert isinstance(build, ClaudeBuild)
    return build

#: ``pytestmark = needs_claude`` in a module whose tests run the real Claude Code.
needs_claude = pytest.mark.skipif(
    CLAUDE is None,
    reason="the real Claude Code is not installed (scripts/test installs it with npm into "
    ".cache/claude-code; or set AGENTS_TMUX_CLAUDE_BIN)",
)


@pytest.fixture
def api() -> Iterator[FakeAnthropic]:
    """A fake API answering "OK." to anything no rule matches (import it into the test module)."""
    with FakeAnthropic(default="OK.") as server:
        yield server


def trusted_folders(repo: Any) -> list[Path]:
    """The repository and its agents' folder: Claude starts straight into its prompt there."""
    return [repo.path, repo.path.parent / "project.agents"]


def prepare_rig(
    tmux: Any, api: FakeAnthropic, trusted: Iterable[Path], build: ClaudeBuild | None = None, ask_permissions: bool = True
) -> ClaudeRig:
    """:meth:`ClaudeRig.prepare` with ``build`` (default: the pinned Claude Code)."""
    build = build or BUILDS[0]
    assert build.binary is not None, build.missing
    return ClaudeRig.prepare(tmux, api, build.binary, trusted, build.version, ask_permissions)


def claude_child(tmux: Any, pane: str, flag: str) -> tuple[int, list[str]] | None:
    """The pid and argv of the process the pane's wrapper runs with ``flag`` in its argv (None if none)."""
    wrapper = tmux.display("#{pane_pid}", pane)
    try:
        children = Path(f"/proc/{wrapper}/task/{wrapper}/children").read_text().split()
    except OSError:
        return None
    for child in children:
        try:
            argv = [os.fsdecode(a) for a in Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0") if a]
        except OSError:
            continue
        if flag in argv:
            return int(child), argv
    return None


def transcript_folder_name(cwd: Path) -> str:
    """The folder Claude keeps a session's transcript in, under ``~/.claude/projects``.

    Every character that is not a letter or a digit becomes ``-``.

    >>> transcript_folder_name(Path("/tmp/e2e_1/project.agents/fix-it"))
    '-tmp-e2e-1-project-agents-fix-it'
    """
    return re.sub(r"[^A-Za-z0-9]", "-", str(cwd))


@dataclass
class ClaudeRig(PaneRig):
    """A test tmux server set up to spawn the real Claude Code against a fake API."""

    tmux: Any  # conftest.Tmux (tests/ is not a package)
    api: FakeAnthropic
    claude: str
    home: Path
    api_key: str
    version: str = CLAUDE_VERSION
    ask_permissions: bool = True

    @property
    def build(self) -> ClaudeBuild:
        """The Claude Code this rig runs."""
        return next((b for b in BUILDS if b.binary == self.claude), ClaudeBuild("other", self.claude))

    @classmethod
    def prepare(
        cls, tmux: Any, api: FakeAnthropic, claude: str, trusted: Iterable[Path], version: str = CLAUDE_VERSION,
        ask_permissions: bool = True,
    ) -> ClaudeRig:
        """Prepare the HOME, the server environment and the plugin (before any spawn)."""
        home = Path(tmux.env["HOME"])
        key = fake_api_key("agents-tmux-e2e")
        prepare_claude_home(home, key, trusted, version, ask_permissions)
        for name, value in claude_env(home, api.url, key).items():
            tmux.run("set-environment", "-g", name, value)
        # The agents segment alone on the right, so the rendered line is exactly it.
        tmux.run("set-option", "-g", "status-right", "#{agents_status}")
        tmux.run("set-option", "-g", "@agents-command", claude)
        tmux.load_plugin()
        return cls(tmux=tmux, api=api, claude=claude, home=home, api_key=key, version=version, ask_permissions=ask_permissions)

    # -- reading ------------------------------------------------------------

    def segment(self) -> str:
        """The rendered agents status segment (styles stripped, outer spaces removed)."""
        return self.tmux.status_right().strip()

    def describe(self, pane: str) -> str:
        """State, status and screen, for failure messages."""
        requests = [
            (last_user_text(b)[:60], len(b.get("messages", []))) for b in self.api.requests if is_main_request(b)
        ]
        return (
            f"state={self.state(pane)!r} status={self.segment()!r} main requests={requests}\n"
            f"--- screen of {pane} ---\n{self.screen(pane)}"
        )

    def main_request_with(self, text: str, timeout: float = 30.0) -> dict[str, Any]:
        """The first main-conversation request whose user text contains ``text``."""
        return self.api.wait_for_request(lambda b: is_main_request(b) and text in last_user_text(b), timeout=timeout)

    def session_file(self, pid: int) -> dict[str, Any] | None:
        """Claude's live ``~/.claude/sessions/<pid>.json``, if it exists."""
        path = self.home / ".claude" / "sessions" / f"{pid}.json"
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return loaded if isinstance(loaded, dict) else None
