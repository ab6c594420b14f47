"""Locate the real Claude Code binary and prepare a private, offline HOME for it.

Claude Code runs fully offline against :class:`tests.support.fake_api.FakeAnthropic`
when it gets a prepared ``$HOME/.claude.json`` (onboarding done, API key approved,
folders trusted) and the environment from :func:`claude_env`. See
``tests/support/CLAUDE-NOTES.md`` for what was observed.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = [
    "CLAUDE_VERSION",
    "REPO_ROOT",
    "claude_env",
    "claude_version",
    "find_claude",
    "find_latest_claude",
    "prepare_claude_home",
    "fake_api_key",
]

#: The version the notes were written against (``lastOnboardingVersion``).
CLAUDE_VERSION = "2.1.197"

#: The repository root (``tests/support/`` is two levels below it).
REPO_ROOT = Path(__file__).resolve().parents[2]

#: Where ``scripts/test`` installs Claude Code (git-ignored): the pinned version...
BUNDLED_CLAUDE = REPO_ROOT / ".cache" / "claude-code" / "node_modules" / ".bin" / "claude"
#: ... and the newest one (``CLAUDE_CODE_LATEST`` in scripts/test).
BUNDLED_LATEST = REPO_ROOT / ".cache" / "claude-code-latest" / "node_modules" / ".bin" / "claude"

#: Environment variable naming a ``claude`` binary to use (the pinned version).
CLAUDE_BIN_VAR = "AGENTS_TMUX_CLAUDE_BIN"
#: Environment variable naming the newest ``claude`` binary to use.
CLAUDE_LATEST_VAR = "AGENTS_TMUX_CLAUDE_LATEST_BIN"


def _executable(path: Path) -> bool:
    """Tell whether ``path`` is an executable file."""
    return path.is_file() and os.access(path, os.X_OK)


def find_claude() -> str | None:
    """Return the path of the ``claude`` binary to test with, or ``None`` if there is none.

    Looked up in this order: the project's own install
    (``.cache/claude-code/node_modules/.bin/claude``), then ``$AGENTS_TMUX_CLAUDE_BIN``,
    then ``claude`` on ``PATH``.
    """
    if _executable(BUNDLED_CLAUDE):
        return str(BUNDLED_CLAUDE)
    configured = os.environ.get(CLAUDE_BIN_VAR, "").strip()
    if configured:
        path = Path(configured).expanduser()
        if _executable(path):
            return str(path)
        found = shutil.which(configured)
        if found:
            return found
    return shutil.which("claude")


def find_latest_claude() -> tuple[str | None, str]:
    """The newest Claude Code to test with, or None and why it is not there.

    ``$AGENTS_TMUX_CLAUDE_LATEST_BIN`` first, then scripts/test's install in
    ``.cache/claude-code-latest`` (whose ``.skip`` file says why it failed).
    """
    configured = os.environ.get(CLAUDE_LATEST_VAR, "").strip()
    if configured:
        path = Path(configured).expanduser()
        if _executable(path):
            return str(path), ""
        return None, f"${CLAUDE_LATEST_VAR} names {configured}, which is not an executable file"
    if _executable(BUNDLED_LATEST):
        return str(BUNDLED_LATEST), ""
    skip = BUNDLED_LATEST.parents[2].with_name("claude-code-latest.skip")
    try:
        reason = skip.read_text(encoding="utf-8").strip()
    except OSError:
        reason = "not installed (scripts/test installs it into .cache/claude-code-latest; or set $AGENTS_TMUX_CLAUDE_LATEST_BIN)"
    return None, reason


def claude_version(binary: str) -> str:
    """``claude --version``'s number (e.g. ``2.1.332``); the pinned version when it cannot tell."""
    import subprocess

    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return CLAUDE_VERSION
    words = out.split()
    return words[0] if words and words[0][:1].isdigit() else CLAUDE_VERSION


def fake_api_key(seed: str = "agents-tmux") -> str:
    """Return a fake API key shaped like a real one (Claude wants 40+ characters).

    >>> len(fake_api_key()) >= 40
    True
    """
    body = (seed + "-" + "x" * 64)[:64]
    return "sk-ant-api03-" + body + "-AAAAAAAA"


def prepare_claude_home(
    home: Path, api_key: str, trusted: Iterable[Path], version: str = CLAUDE_VERSION, ask_permissions: bool = True
) -> None:
    """Write ``home/.claude.json`` so Claude starts straight into its prompt.

    Marks onboarding as done for ``version``, approves ``api_key`` (Claude
    stores the key's last 20 characters) and accepts the folder-trust dialog for each
    folder in ``trusted`` (resolved to absolute paths, as Claude records its cwd).
    A folder left out shows Claude's "Quick safety check" trust screen on start.
    An existing ``.claude.json`` is updated, keeping what it already holds.

    ``ask_permissions``: the permission mode "default" in ``~/.claude/settings.json``,
    so a writing tool asks first (from 2.1.332 the default mode is "auto", which
    seldom asks). Also skips 2.1.332's "Make auto mode your default?" question,
    shown at start to users of another mode (``hasSeenAutoDefaultNudge``).
    """
    home.mkdir(parents=True, exist_ok=True)
    config_path = home / ".claude.json"
    config: dict[str, object] = {}
    if config_path.exists():
        loaded = json.loads(config_path.read_text(encoding="utf-8") or "{}")
        if isinstance(loaded, dict):
            config = loaded
    config["hasCompletedOnboarding"] = True
    config["lastOnboardingVersion"] = version
    config["hasSeenAutoDefaultNudge"] = True
    responses: dict[str, object] = {"approved": [], "rejected": []}
    existing = config.get("customApiKeyResponses")
    if isinstance(existing, dict):
        responses.update(existing)
    previous = responses.get("approved")
    approved: list[str] = [k for k in previous if isinstance(k, str)] if isinstance(previous, list) else []
    if api_key[-20:] not in approved:
        approved.append(api_key[-20:])
    responses["approved"] = approved
    config["customApiKeyResponses"] = responses
    projects = config.get("projects")
    if not isinstance(projects, dict):
        projects = {}
    for folder in trusted:
        key = str(Path(folder).resolve())
        entry = projects.get(key)
        if not isinstance(entry, dict):
            entry = {}
        entry["hasTrustDialogAccepted"] = True
        projects[key] = entry
    config["projects"] = projects
    if ask_permissions:
        settings_path = home / ".claude" / "settings.json"
        settings_path.parent.mkdir(parents=True, exist_ok=True)
        settings: dict[str, object] = {}
        if settings_path.exists():
            loaded_settings = json.loads(settings_path.read_text(encoding="utf-8") or "{}")
            settings = loaded_settings if isinstance(loaded_settings, dict) else {}
        permissions = settings.get("permissions")
        settings["permissions"] = {**(permissions if isinstance(permissions, dict) else {}), "defaultMode": "default"}
        settings_path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    tmp = config_path.with_name(config_path.name + ".tmp")
    tmp.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, config_path)


#: Variables of the caller's environment that would steer Claude elsewhere
#: (a real account, a proxy, a parent Claude session) and are dropped by :func:`claude_env`.
_DROPPED_PREFIXES = ("ANTHROPIC_", "CLAUDE_CODE_", "CLAUDE_CONFIG_DIR", "CLAUDECODE", "AWS_BEARER_TOKEN_BEDROCK")
_DROPPED_NAMES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy")


def claude_env(
    home: Path, api_url: str, api_key: str, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Return the environment to run the real ``claude`` with, offline and quiet.

    Without ``base`` only the variables to set are returned (merge them over a clean
    environment yourself). With ``base`` (e.g. ``os.environ``) a complete environment is
    returned: ``base`` minus anything that would redirect Claude (``ANTHROPIC_*``,
    ``CLAUDE_CODE_*``, ``CLAUDECODE``, proxies), plus the variables below.
    """
    wanted = {
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": api_url,
        "ANTHROPIC_API_KEY": api_key,
        # One switch for autoupdater, telemetry, error reporting and feedback command.
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        # The same, spelled out, in case a version stops bundling them under the switch.
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_BUG_COMMAND": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    if base is None:
        return wanted
    env = {
        name: value
        for name, value in base.items()
        if not name.startswith(_DROPPED_PREFIXES) and name not in _DROPPED_NAMES
    }
    env.update(wanted)
    return env
