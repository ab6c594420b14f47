"""The real Codex CLI, Gemini CLI and Aider, run through the plugin on a test tmux server, offline.

Each rig gives one program a private, prepared HOME (the test's), its fake API on
loopback (:mod:`tests.support.fake_openai_responses`, :mod:`tests.support.fake_gemini`,
:mod:`tests.support.fake_chat_completions`), the variables it needs in the tmux server's
global environment (every agent pane inherits them) and the agents.tmux user config
(``$XDG_CONFIG_HOME/agents-tmux/config.toml``) pointing the kind's ``command`` at the
installed binary. Nothing of the real user's is read or written: the program's own
config folder is the test HOME's. See /work/shared/AGENT-CLIS.md for what each needs.

Binaries are found in ``.cache/agent-clis`` (where ``scripts/test`` installs them, pinned),
else ``$AGENTS_TMUX_<PROGRAM>_BIN``, else on ``PATH``; a test module skips, saying why,
when its program is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_llm import FakeLLM
from tests.support.pane_rig import PaneRig

__all__ = ["AIDER", "CODEX", "GEMINI", "VERSIONS", "ProgramRig", "find_program", "needs", "prepare_aider", "prepare_codex",
           "prepare_gemini"]

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Where scripts/test installs the programs (git-ignored).
CACHE = REPO_ROOT / ".cache" / "agent-clis"
#: Installed location, version pinned by scripts/test, of each program.
BUNDLED = {
    "codex": CACHE / "codex" / "node_modules" / ".bin" / "codex",
    "gemini": CACHE / "gemini" / "node_modules" / ".bin" / "gemini",
    "aider": CACHE / "aider" / "bin" / "aider",
}
#: The versions scripts/test installs (and the tests were recorded with).
VERSIONS = {"codex": "0.171.0", "gemini": "0.61.0", "aider": "0.86.2"}
#: The model name the fake APIs answer as.
MODEL = "fake-model"


def find_program(name: str) -> str | None:
    """The binary of ``name`` to test with (None when it is not installed)."""
    bundled = BUNDLED[name]
    if bundled.is_file() and os.access(bundled, os.X_OK):
        return str(bundled)
    configured = os.environ.get(f"AGENTS_TMUX_{name.upper()}_BIN", "").strip()
    if configured:
        path = Path(configured).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return shutil.which(name)


CODEX = find_program("codex")
GEMINI = find_program("gemini")
AIDER = find_program("aider")


def needs(name: str) -> pytest.MarkDecorator:
    """``pytestmark = needs("codex")``: skip, saying why, when the program is not installed."""
    return pytest.mark.skipif(
        find_program(name) is None,
        reason=f"the real {name} is not installed (scripts/test installs it into .cache/agent-clis when the "
        f"registry serves it; or set AGENTS_TMUX_{name.upper()}_BIN)",
    )


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _toml_string(value: str) -> str:
    """A TOML basic string (JSON's escaping is valid TOML for these)."""
    return json.dumps(value)


def agents_config(home: Path, kind: str, command: list[str], extra: str = "") -> None:
    """Point kind ``kind`` at ``command`` in the test HOME's agents.tmux config."""
    line = ", ".join(_toml_string(part) for part in command)
    _write(home / ".config" / "agents-tmux" / "config.toml", f"[agents.{kind}]\ncommand = [{line}]\n{extra}")


@dataclass
class ProgramRig(PaneRig):
    """A test tmux server set up to spawn one real program against its fake API."""

    tmux: Any  # conftest.Tmux
    api: FakeLLM
    kind: str
    binary: str
    home: Path
    repo: Any  # conftest.Repo
    #: Seconds to wait for anything the program does (it starts in 1-5 s on 2 busy cores).
    slow: float = 60.0
    #: Text on the screen when the program takes input, and while it is busy.
    ready: str = ""
    busy: str = ""
    notes: dict[str, Any] = field(default_factory=dict)

    # -- acting --------------------------------------------------------------

    def spawn(self, task: str, *extra: str) -> tuple[str, str]:
        """``agents spawn --agent KIND TASK`` from the user's pane: the agent's name and pane."""
        first = self.tmux.panes()[0]
        name = self.tmux.agents("spawn", "--agent", self.kind, task, "--pane", first, *extra).stdout.strip()
        return name, self.pane_of(name)

    def pane_of(self, name: str) -> str:
        for line in self.tmux.run("list-panes", "-a", "-F", "#{pane_id}\t#{@agent_name}").splitlines():
            pane, _, agent = line.partition("\t")
            if agent == name:
                return pane
        raise AssertionError(f"no pane carries agent {name!r}")

    def type(self, pane: str, text: str) -> None:
        """Type ``text`` and press Enter, as a person would: once the program takes input,
        and Enter only once the text shows (keys sent while it redraws can be lost)."""
        def takes_input() -> bool:
            screen = self.screen(pane)
            tail = "\n".join(screen.rstrip().splitlines()[-12:])
            # Busy as the watcher reads it (a stale spinner frame above the prompt is not busy).
            return (not self.ready or self.ready in tail) and self.reads_as(screen) != "working"

        self.wait(takes_input, pane, f"{self.kind} to take input")
        for _ in range(3):
            # Right after start-up a program may still swallow keys (Gemini reads
            # its terminal's answers to queries): type again if nothing shows.
            self.tmux.run("send-keys", "-t", pane, "-l", text)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and text not in self.screen(pane):
                time.sleep(0.1)
            if text in self.screen(pane):
                break
        self.wait(lambda: text in self.screen(pane), pane, f"{text!r} typed")
        asked = len([e for e in self.api.main_requests if e.turn and text in e.turn.user_text])
        for _ in range(3):
            # An Enter hard on the heels of the text can be taken as part of a
            # paste (Gemini): press it again until the model is asked.
            time.sleep(0.3)
            self.tmux.run("send-keys", "-t", pane, "Enter")
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if len([e for e in self.api.main_requests if e.turn and text in e.turn.user_text]) > asked:
                    return
                time.sleep(0.1)

    def keys(self, pane: str, *keys: str) -> None:
        self.tmux.run("send-keys", "-t", pane, *keys)

    # -- reading -------------------------------------------------------------

    def reads_as(self, screen: str) -> str | None:
        """The state the built-in screen patterns of this kind read on ``screen``."""
        from agents_tmux import config, watch

        kind = config.load(None, builtin_only=True).agents[self.kind]
        return watch.classify(screen, watch.compile_patterns({s: list(p) for s, p in kind.screen.items()}))

    def quiet_screen(self, pane: str) -> str:
        """The screen once the program is not busy (a hook or a spinner may still run a moment)."""
        self.wait(lambda: not self.busy or self.busy not in self.screen(pane), pane, f"{self.kind} to settle")
        return self.screen(pane)

    def describe(self, pane: str) -> str:
        return (f"state={self.state(pane)!r}\n--- API ---\n{self.api.summary()}\n"
                f"--- screen of {pane} ---\n{self.screen(pane)}")

    def steady(self, pane: str, state: str, seconds: float = 2.5) -> None:
        """The state stays ``state`` for ``seconds`` (it does not flap)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            now = self.state(pane)
            if now != state:
                pytest.fail(f"state left {state!r} for {now!r}\n{self.describe(pane)}")
            time.sleep(0.1)


def _common(tmux: Any, env: dict[str, str]) -> None:
    """Variables every program's pane gets, and the plugin loaded with the agents segment."""
    for name, value in {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost", **env}.items():
        tmux.run("set-environment", "-g", name, value)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        tmux.run("set-environment", "-gu", name, check=False)
    tmux.run("set-option", "-g", "status-right", "#{agents_status}")
    tmux.load_plugin()


def agents_folder(repo: Any) -> Path:
    """Where the plugin puts the repository's agent worktrees (the default ``worktree_dir``)."""
    return Path(repo.path).parent / f"{Path(repo.path).name}.agents"


# --------------------------------------------------------------------------- #
# Codex
# --------------------------------------------------------------------------- #


def prepare_codex(tmux: Any, api: Any, repo: Any, binary: str | None = None) -> ProgramRig:
    """Codex with its own ``CODEX_HOME`` (in the test HOME) speaking to ``api`` (a FakeResponses).

    The provider, model, trust of the repository (not of its agents' worktrees), and the quiet
    start-up switches live in that ``config.toml``; ``-a on-request`` comes from the kind
    (so approvals appear when the model asks to escalate).
    """
    binary = binary or CODEX
    assert binary is not None
    home = Path(tmux.env["HOME"])
    codex_home = home / ".codex"
    # Only the repository, as a user trusts it: Codex trusts its worktrees with it.
    trusted = [Path(repo.path)]
    projects = "".join(f"[projects.{_toml_string(str(p))}]\ntrust_level = \"trusted\"\n" for p in trusted)
    _write(codex_home / "config.toml", "\n".join([
        'model_provider = "fake"',
        f'model = "{MODEL}"',
        "check_for_update_on_startup = false",
        "[analytics]", "enabled = false",
        "[features]", "plugins = false",
        "[tui]", "screen_reader_detection_done = true",
        "[model_providers.fake]",
        'name = "Fake"', f"base_url = {_toml_string(api.base_url)}", 'env_key = "FAKE_API_KEY"',
        'wire_api = "responses"',
        projects,
    ]) + "\n")
    agents_config(home, "codex", [binary, "-a", "on-request"])
    _common(tmux, {"CODEX_HOME": str(codex_home), "FAKE_API_KEY": "sk-fake-agents-tmux"})
    return ProgramRig(tmux=tmux, api=api, kind="codex", binary=binary, home=home, repo=repo,
                      ready="? for shortcuts", busy="esc to interrupt")


# --------------------------------------------------------------------------- #
# Gemini CLI
# --------------------------------------------------------------------------- #


def prepare_gemini(tmux: Any, api: Any, repo: Any, binary: str | None = None, trust_repo: bool = True) -> ProgramRig:
    """Gemini CLI with the test HOME's ``~/.gemini`` speaking to ``api`` (a FakeGemini).

    ``trust_repo``: the repository is in Gemini's trusted folders (as after the user
    trusted it once), which is what lets the plugin trust the agents' worktrees too.
    """
    binary = binary or GEMINI
    assert binary is not None
    home = Path(tmux.env["HOME"])
    gemini = home / ".gemini"
    settings = {
        "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": True}},
        "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
        "ui": {"hideTips": True},
    }
    _write(gemini / "settings.json", json.dumps(settings, indent=2) + "\n")
    if trust_repo:
        _write(gemini / "trustedFolders.json", json.dumps({str(repo.path): "TRUST_FOLDER"}, indent=2) + "\n")
    agents_config(home, "gemini", [binary])
    _common(tmux, {
        "GEMINI_API_KEY": "fake-gemini-key",
        "GOOGLE_GEMINI_BASE_URL": api.url,
        "GEMINI_CLI_NO_RELAUNCH": "true",
        "COLORTERM": "truecolor",
    })
    return ProgramRig(tmux=tmux, api=api, kind="gemini", binary=binary, home=home, repo=repo,
                      ready="Type your message", busy="esc to cancel")


# --------------------------------------------------------------------------- #
# Aider
# --------------------------------------------------------------------------- #


def prepare_aider(tmux: Any, api: Any, repo: Any, binary: str | None = None) -> ProgramRig:
    """Aider with the test HOME's ``~/.aider.conf.yml`` speaking to ``api`` (a FakeChatCompletions).

    ``--edit-format diff`` makes Aider offer the shell commands a reply suggests (the
    ``whole`` format does not); the model metadata file and the local cost map keep
    litellm off the network.
    """
    binary = binary or AIDER
    assert binary is not None
    home = Path(tmux.env["HOME"])
    metadata = home / "aider-model.json"
    _write(metadata, json.dumps({f"openai/{MODEL}": {
        "max_tokens": 4096, "max_input_tokens": 128000, "max_output_tokens": 4096, "input_cost_per_token": 0,
        "output_cost_per_token": 0, "litellm_provider": "openai", "mode": "chat"}}) + "\n")
    _write(home / ".aider.conf.yml", "\n".join([
        f"model: openai/{MODEL}",
        f"model-metadata-file: {metadata}",
        "edit-format: diff",
        "check-update: false",
        "analytics-disable: true",
        "show-release-notes: false",
        "show-model-warnings: false",
        "gitignore: false",
        "auto-commits: false",
        "map-tokens: 0",
    ]) + "\n")
    agents_config(home, "aider", [binary])
    _common(tmux, {
        "OPENAI_API_BASE": api.base_url,
        "OPENAI_API_KEY": "sk-fake-agents-tmux",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    })
    return ProgramRig(tmux=tmux, api=api, kind="aider", binary=binary, home=home, repo=repo,
                      ready="diff>", busy="Waiting for")
