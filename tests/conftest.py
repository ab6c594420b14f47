"""Fixtures: a private tmux server per test, a real git repository, an isolated HOME.

Every test that touches tmux gets its own server on its own socket
(``tmux -L agents-test-<random>``) and kills only that server afterwards.
Nothing here mocks tmux or git.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pexpect
import pytest

ROOT = Path(__file__).resolve().parents[1]
AGENTS = ROOT / "scripts" / "agents"
STANDIN = ROOT / "tests" / "standin" / "claude"
PLAIN_AGENT = ROOT / "tests" / "standin" / "plain-agent"


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05, message: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {message or predicate} (last value: {last!r})")


@dataclass
class Tmux:
    """A private tmux server for one test."""

    socket: str
    env: dict[str, str]
    home: Path
    #: Where `agents` runs from (a user's shell in the repository).
    cwd: Path | None = None

    def run(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(["tmux", "-L", self.socket, *args], env=self.env, capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout

    def option(self, pane: str, name: str) -> str:
        """A pane option's value ('' when unset)."""
        return self.run("show-options", "-pqv", "-t", pane, name).rstrip("\n")

    def display(self, fmt: str, target: str | None = None) -> str:
        args = ["display-message", "-p"]
        if target:
            args += ["-t", target]
        return self.run(*args, fmt).rstrip("\n")

    def status_right(self) -> str:
        """The status-right format rendered now, styles stripped."""
        rendered = self.display(self.run("show-options", "-gv", "status-right").rstrip("\n"))
        return strip_styles(rendered)

    def capture(self, pane: str) -> str:
        return self.run("capture-pane", "-p", "-t", pane)

    def panes(self) -> list[str]:
        return self.run("list-panes", "-a", "-F", "#{pane_id}").split()

    def restart(self, config: Path | None = None, start_in: Path | None = None) -> None:
        """Kill this server and start a new one on the same socket (as after a crash or reboot).

        tmux exits a moment after kill-server returns; a client that connects
        meanwhile gets "server exited unexpectedly", so the start is retried.
        """
        self.run("kill-server", check=False)
        wait_for(lambda: subprocess.run(["tmux", "-L", self.socket, "has-session"], env=self.env, capture_output=True,
                                        check=False).returncode != 0, timeout=20, message="the old tmux server to go")
        args = ["-f", str(config or "/dev/null"), "new-session", "-d", "-s", "main", "-x", "200", "-y", "50",
                "-c", str(start_in or self.cwd)]
        deadline = time.monotonic() + 10
        while True:
            proc = subprocess.run(["tmux", "-L", self.socket, *args], env=self.env, capture_output=True, text=True, check=False)
            if proc.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"tmux new-session failed after a restart: {proc.stderr.strip()}")
            time.sleep(0.2)
        self.run("set-option", "-g", "default-shell", "/bin/bash")

    def load_plugin(self) -> None:
        self.run("run-shell", str(ROOT / "agents.tmux"))

    def agents(
        self, *args: str, check: bool = True, input: str | None = None, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the real `agents` command line against this server."""
        proc = subprocess.run(
            [str(AGENTS), "-L", self.socket, *args],
            env={**self.env, **(env or {})}, capture_output=True, text=True, input=input, check=False, timeout=60,
            cwd=cwd or self.cwd,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"agents {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}")
        return proc


def strip_styles(text: str) -> str:
    """Remove ``#[...]`` style markers from a rendered format."""
    return re.sub(r"#\[[^\]]*\]", "", text)


@dataclass
class Repo:
    """A real git repository in a temporary folder."""

    path: Path
    env: dict[str, str]
    extra: dict[str, Any] = field(default_factory=dict)

    def git(self, *args: str, cwd: Path | None = None, check: bool = True) -> str:
        proc = subprocess.run(["git", *args], cwd=cwd or self.path, env=self.env, capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout

    def branches(self) -> list[str]:
        return self.git("for-each-ref", "--format=%(refname:short)", "refs/heads/").split()

    def worktrees(self) -> list[Path]:
        out = self.git("worktree", "list", "--porcelain")
        return [Path(line.split(" ", 1)[1]) for line in out.splitlines() if line.startswith("worktree ")]


def commit_in(repo: Repo, worktree: Path, rel: str, text: str, message: str | None = None) -> str:
    """Write ``text`` to ``rel`` in ``worktree`` (or the repository's own folder) and commit it; return the commit.

    The file is added with ``-f``, past .gitignore, as an agent may do.
    """
    target = worktree / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    repo.git("add", "-f", rel, cwd=worktree)
    repo.git("commit", "-q", "-m", message or f"add {rel}", cwd=worktree)
    return repo.git("rev-parse", "HEAD", cwd=worktree).strip()


#: An agent kind that only sleeps: its pane stays, shows nothing and fires no hook.
QUIET_KIND = '[agents.quiet]\ncommand = ["sleep", "600"]\nprompt = "none"\n'


def use_quiet_agents(tmux: Tmux, repo: Repo, *, ignored: str | None = None, cap: int = 100) -> Repo:
    """Make the ``sleep`` kind the repository's default agent and ``cap`` the agents' cap; return ``repo``.

    Its config (.agents.toml) stays out of git: through .git/info/exclude or, given
    ``ignored`` (more lines for .gitignore), a committed .gitignore holding them too.
    """
    if ignored is None:
        (repo.path / ".git" / "info" / "exclude").write_text(".agents.toml\n")
    else:
        (repo.path / ".gitignore").write_text(ignored + ".agents.toml\n")
        repo.git("add", ".gitignore")
        repo.git("commit", "-q", "-m", "ignore")
    (repo.path / ".agents.toml").write_text(QUIET_KIND + '[defaults]\nagent = "quiet"\n')
    tmux.run("set-option", "-g", "@agents-max", str(cap))
    return repo


def isolated_env(tmp_path: Path, home: Path, state: Path | None = None) -> dict[str, str]:
    """An environment with its own HOME (created here) and XDG folders, outside any tmux.

    ``state`` is XDG_STATE_HOME (default ``HOME/.local/state``).
    """
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TMUX", "AGENTS_TMUX", "XDG_", "GIT_", "CLAUDE", "ANTHROPIC"))}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_STATE_HOME=str(state or home / ".local" / "state"),
        XDG_RUNTIME_DIR=str(tmp_path / "run"),
        GIT_AUTHOR_NAME="Test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="Test",
        GIT_COMMITTER_EMAIL="test@example.com",
        GIT_CONFIG_NOSYSTEM="1",
        SHELL="/bin/bash",
        TERM="xterm-256color",
        LANG="C.UTF-8",
        LC_ALL="C.UTF-8",
        STANDIN_LOG=str(tmp_path / "standin.jsonl"),
    )
    (tmp_path / "run").mkdir(mode=0o700)
    return env


def init_repo(path: Path, env: dict[str, str], files: dict[str, str]) -> Repo:
    """A new git repository at ``path`` (created here) with ``files`` in one commit on ``main``."""
    path.mkdir()
    r = Repo(path=path, env=env)
    r.git("init", "-q", "-b", "main")
    for name, text in files.items():
        (path / name).write_text(text)
    r.git("add", ".")
    r.git("commit", "-q", "-m", "first commit")
    return r


@contextmanager
def private_server(env: dict[str, str], repo: Repo, start_in: Path | None = None) -> Iterator[Tmux]:
    """A private tmux server (no user config) with one session ``main`` in ``repo``; killed on exit.

    The server is started from ``start_in`` (default: this process's folder). tmux
    expands formats in ``-c``: the repository's folder goes in with its '#' doubled.
    """
    socket = f"agents-test-{uuid.uuid4().hex[:10]}"
    server = Tmux(socket=socket, env=env, home=Path(env["HOME"]), cwd=repo.path)
    args = ["-f", "/dev/null", "new-session", "-d", "-s", "main", "-x", "200", "-y", "50", "-c", str(repo.path).replace("#", "##")]
    proc = subprocess.run(["tmux", "-L", socket, *args], env=env, cwd=start_in, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"tmux {' '.join(args)} failed: {proc.stderr.strip()}")
    try:
        # Panes start /bin/sh -c ... and the standin's screens are plain text: keep the shell quiet.
        server.run("set-option", "-g", "default-shell", "/bin/bash")
        yield server
    finally:
        stop_server(socket, env)


@pytest.fixture
def test_env(tmp_path: Path) -> dict[str, str]:
    """An environment with its own HOME and XDG folders, outside any tmux."""
    return isolated_env(tmp_path, tmp_path / "home")


@pytest.fixture
def repo(tmp_path: Path, test_env: dict[str, str]) -> Repo:
    """A repository ``project`` with one commit on ``main``."""
    return init_repo(tmp_path / "project", test_env, {"README.md": "# project\n", "app.py": "print('hello')\n"})


@pytest.fixture
def tmux(test_env: dict[str, str], repo: Repo) -> Iterator[Tmux]:
    """A private tmux server (no user config) with one session in the repository."""
    with private_server(test_env, repo) as server:
        yield server


@pytest.fixture
def standin_agent(tmux: Tmux) -> Path:
    """Make the stand-in Claude the command of the default agent kind."""
    tmux.run("set-option", "-g", "@agents-command", str(STANDIN))
    return STANDIN


def read_standin_log(env: dict[str, str]) -> list[dict[str, Any]]:
    """Every line the stand-in agent logged (start, hooks, input)."""
    path = Path(env["STANDIN_LOG"])
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def first_pane(tmux: Tmux) -> str:
    return tmux.panes()[0]


def agent_start(env: dict[str, str], name: str | None = None, timeout: float = 10.0) -> dict:
    """The stand-in's start record (for the agent whose cwd ends with ``name``), waiting for it."""

    def find() -> dict | None:
        for entry in read_standin_log(env):
            if entry["event"] == "start" and (name is None or entry["cwd"].endswith("/" + name)):
                return entry
        return None

    return wait_for(find, timeout=timeout, message=f"the stand-in agent {name or ''} to start")


def pane_of(tmux: Tmux, name: str) -> str:
    """The pane of agent ``name``; fails when no pane carries it."""
    for line in tmux.run("list-panes", "-a", "-F", "#{pane_id}\t#{@agent_name}").splitlines():
        pane, _, agent = line.partition("\t")
        if agent == name:
            return pane
    raise AssertionError(f"no pane carries agent {name!r}")


def server_processes(tmux: Tmux, wanted: Callable[[list[bytes]], bool]) -> dict[int, list[str]]:
    """Processes of this test's tmux server (its socket in their environment) whose argv ``wanted`` accepts: pid → argv."""
    found: dict[int, list[str]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            words = (proc / "cmdline").read_bytes().split(b"\0")
            if not wanted(words) or tmux.socket.encode() not in (proc / "environ").read_bytes():
                continue
        except OSError:
            continue
        found[int(proc.name)] = [word.decode(errors="replace") for word in words]
    return found


def agent_panes(tmux: Tmux, check: bool = True) -> dict[str, str]:
    """Agent name -> pane, for every agent pane on the server (``check=False``: {} without a server)."""
    out = tmux.run("list-panes", "-a", "-F", "#{@agent_name}\t#{pane_id}", check=check)
    return {name: pane for name, _, pane in (line.partition("\t") for line in out.splitlines()) if name}


# -- a real client, attached in a pseudo-terminal -----------------------------

PREFIX = "\x02"  # C-b
#: Escape sequences and cursor moves a client draws.
ANSI = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|\(B|[()][0-9A-Za-z]|[=>]|\][^\x07]*\x07)")


def client_name(tmux: Tmux) -> str:
    """The name of the (only) attached client ('' when none is)."""
    return tmux.run("list-clients", "-F", "#{client_name}").strip()


def attach_client(
    tmux: Tmux, session: str = "main", timeout: float = 10, attach_timeout: float = 10.0, size: tuple[int, int] = (50, 200)
) -> pexpect.spawn:
    """A real tmux client attached to ``session`` in a pseudo-terminal of ``size`` (rows, columns), once the server lists it.

    ``timeout`` is the client's default ``expect`` timeout; ``attach_timeout`` how long to
    wait for it to attach. The caller terminates it (or use the :func:`attach` fixture).
    """
    child = pexpect.spawn(
        "tmux", ["-L", tmux.socket, "attach-session", "-t", session], env=tmux.env, dimensions=size, encoding="utf-8", timeout=timeout
    )
    try:
        wait_for(lambda: client_name(tmux), timeout=attach_timeout, message="the client to attach")
    except BaseException:
        child.terminate(force=True)
        raise
    return child


def expect_text(child: pexpect.spawn, *texts: str, timeout: float = 15) -> str:
    """Wait until one of ``texts`` has been drawn (escape sequences and cursor moves removed); return it.

    When several have been drawn, the first of ``texts`` is the answer (what a screen shows
    first is not known from one read). On a timeout the end of what was drawn is printed,
    for the failure report.
    """
    seen = ""

    def drawn() -> str:
        nonlocal seen
        try:
            seen += child.read_nonblocking(65536, timeout=0.2)
        except pexpect.TIMEOUT:
            pass
        except pexpect.EOF:
            return ""
        screen = ANSI.sub("", seen)
        return next((text for text in texts if text in screen), "")

    try:
        return str(wait_for(drawn, timeout=timeout, message=f"{' or '.join(map(repr, texts))} on the client's screen"))
    except BaseException:
        print("SCREEN:", ANSI.sub("", seen)[-3000:])
        raise


@pytest.fixture
def attach(tmux: Tmux) -> Iterator[Callable[..., pexpect.spawn]]:
    """:func:`attach_client` for this test's server; every client is terminated afterwards."""
    children: list[pexpect.spawn] = []

    def attach_(
        session: str = "main", timeout: float = 10, attach_timeout: float = 10.0, size: tuple[int, int] = (50, 200)
    ) -> pexpect.spawn:
        child = attach_client(tmux, session, timeout, attach_timeout, size)
        children.append(child)
        return child

    try:
        yield attach_
    finally:
        for child in children:
            child.terminate(force=True)


@pytest.fixture
def client(tmux: Tmux, standin_agent: Path, attach: Callable[..., pexpect.spawn]) -> pexpect.spawn:
    """A real client attached to the test server, with the plugin loaded."""
    tmux.load_plugin()
    return attach()


@pytest.fixture(scope="session", autouse=True)
def _tools_present() -> None:
    for tool in ("tmux", "git"):
        if shutil.which(tool) is None:
            pytest.exit(f"{tool} is not installed: scripts/test needs it (see .ci/run)", returncode=3)


def stop_server(socket: str, env: dict[str, str]) -> None:
    """Kill the private server on ``socket`` (only that one) and remove the socket file tmux leaves."""
    path = subprocess.run(["tmux", "-L", socket, "display-message", "-p", "#{socket_path}"],
                          env=env, capture_output=True, text=True, check=False).stdout.strip()
    subprocess.run(["tmux", "-L", socket, "kill-server"], env=env, capture_output=True, check=False)
    if path.endswith("/" + socket):
        Path(path).unlink(missing_ok=True)
