"""Benchmarks of agents.tmux, each measured against its baseline in the same run.

Run through ``scripts/bench [--quick] [--only status,hook,spawn,key,propagation,scale]``;
it prints Markdown tables (medians and ratios) plus the machine's CPU count and
the tmux, git and Python versions. Not part of the test suite: importing this
module does nothing; ``main()`` does the work.

Everything runs for real: private tmux servers (``tmux -L agents-bench-<hex>``,
killed afterwards) with the plugin loaded by ``run-shell agents.tmux``, temporary
git repositories, the ``agents`` command line as a user runs it, the hook handler
exactly as Claude runs it (the command in the generated settings file), and the
stand-in Claude (``tests/standin/claude``). HOME and the XDG folders point into a
temporary folder. Timing uses only ``time.perf_counter``/``time.time`` and the
kernel's own accounting (``/proc/<pid>/schedstat``, ``/proc/<pid>/stat``,
``wait4`` resource usage); processes are counted with ``strace -f`` when it is
installed.

Sections (see issue 7):

1. status: CPU and processes per status-bar refresh with 0, 1, 10, 50 agents,
   against plain tmux, a ``#(script)`` segment and a capture-pane poller;
2. hook: whole-process time of the hook handler per event, against Python's
   start-up and a bare ``tmux set-option -p``;
3. spawn: ``agents spawn`` until the agent runs in its worktree, against the
   same work done by hand, on a small repository and on one with 10,000 files;
   key: the spawn key (prefix + A, a task, Enter) through an attached client
   until the pane exists and the agent runs, against the same floor;
4. propagation: hook fired until the status line shows it, against a bare
   ``tmux set-option -p`` seen by the same poll loop;
5. scale: 50 spawns one after another and 10 at once.
6. usage: reading a transcript at the end of a turn.
7. resident: memory and CPU of the screen watcher(s) at 10 and 50 idle and
   working agents, one per server against one per agent.
8. claude: the real Claude Code (pinned and newest), event on screen until the
   status line shows its state, against a 1 s polling detector (claude_latency.py).
9. programs: the same for the real Codex, Gemini CLI and Aider (program_latency.py).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import math
import os
import platform
import re
import shlex
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "agents.tmux"
AGENTS = ROOT / "scripts" / "agents"
STANDIN = ROOT / "tests" / "standin" / "claude"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
CLK_TCK = os.sysconf("SC_CLK_TCK")
STATES = ("starting", "working", "waiting", "idle", "exited")
SECTIONS = ("status", "hook", "spawn", "key", "propagation", "scale", "usage", "resident", "claude", "programs")


def note(text: str) -> None:
    """Progress on stderr, so stdout stays the Markdown report."""
    print(f"bench: {text}", file=sys.stderr, flush=True)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ms(seconds: float) -> str:
    if math.isnan(seconds):
        return "n/a"
    return f"{seconds * 1000:.1f} ms"


def us(seconds: float) -> str:
    if math.isnan(seconds):
        return "n/a"
    if seconds >= 0.01:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def ratio(value: float, base: float) -> str:
    if math.isnan(base) or math.isnan(value) or base <= 0:
        return "n/a"
    return f"{value / base:.2f}×"


def version_of(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=10)
    except OSError:
        return "not found"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else "?"


def strip_styles(text: str) -> str:
    return re.sub(r"#\[[^\]]*\]", "", text)


# ---------------------------------------------------------------------------
# the sandbox: isolated HOME/XDG, tmux servers, repositories


class Sandbox:
    """A temporary folder with HOME/XDG dirs, and everything started in it."""

    def __init__(self, keep: bool = False) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="agents-bench-"))
        self.keep = keep
        home = self.dir / "home"
        run = self.dir / "run"
        home.mkdir()
        run.mkdir(mode=0o700)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TMUX", "AGENTS_TMUX", "XDG_", "GIT_", "CLAUDE", "ANTHROPIC", "STANDIN"))}
        env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_STATE_HOME=str(home / ".local" / "state"),
            XDG_RUNTIME_DIR=str(run),
            GIT_AUTHOR_NAME="Bench",
            GIT_AUTHOR_EMAIL="bench@example.com",
            GIT_COMMITTER_NAME="Bench",
            GIT_COMMITTER_EMAIL="bench@example.com",
            GIT_CONFIG_NOSYSTEM="1",
            SHELL="/bin/sh",
            TERM="xterm-256color",
            LANG="C.UTF-8",
            LC_ALL="C.UTF-8",
        )
        self.env = env
        self.servers: list[Server] = []
        self.children: list[subprocess.Popen[Any]] = []

    def repo(self, name: str, files: int = 0) -> Path:
        """A git repository with one commit: two files, plus ``files`` more in 100-file folders."""
        path = self.dir / name / "project"
        path.mkdir(parents=True)
        self.git(path, "init", "-q", "-b", "main")
        (path / "README.md").write_text("# project\n")
        (path / "app.py").write_text("print('hello')\n")
        for i in range(files):
            folder = path / "src" / f"d{i // 100:03d}"
            if i % 100 == 0:
                folder.mkdir(parents=True)
            (folder / f"f{i:05d}.py").write_text(f"VALUE = {i}\n")
        self.git(path, "add", "-A")
        self.git(path, "commit", "-q", "-m", "first commit")
        return path

    def git(self, cwd: Path, *args: str, check: bool = True) -> str:
        proc = subprocess.run(["git", "-C", str(cwd), *args], env=self.env, capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout

    def server(self, cwd: Path, standin_log: Path | None = None) -> Server:
        server = Server(self, cwd, standin_log)
        self.servers.append(server)
        return server

    def close(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.kill()
                child.wait()
        for server in self.servers:
            server.kill()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            note(f"kept {self.dir}")


class Server:
    """A private tmux server (no user config) with a session ``main`` in ``cwd``."""

    def __init__(self, sandbox: Sandbox, cwd: Path, standin_log: Path | None) -> None:
        self.sandbox = sandbox
        self.socket = f"agents-bench-{uuid.uuid4().hex[:10]}"
        self.env = dict(sandbox.env)
        self.standin_log = standin_log or sandbox.dir / f"standin-{self.socket}.jsonl"
        self.env["STANDIN_LOG"] = str(self.standin_log)
        self.cwd = cwd
        self.clients: list[Client] = []
        self.run("-f", "/dev/null", "new-session", "-d", "-s", "main", "-x", "200", "-y", "50", "-c", str(cwd))
        self.run("set-option", "-g", "default-shell", "/bin/sh")
        self.pid = int(self.display("#{pid}"))
        self.socket_path = self.display("#{socket_path}")
        self.origin = self.run("list-panes", "-t", "main", "-F", "#{pane_id}").split()[0]

    def run(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(["tmux", "-L", self.socket, *args], env=self.env, capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout

    def display(self, fmt: str, target: str | None = None) -> str:
        return self.run("display-message", "-p", *(["-t", target] if target else []), fmt).rstrip("\n")

    def option(self, name: str, pane: str | None = None) -> str:
        if pane:
            return self.run("show-options", "-pqv", "-t", pane, name).rstrip("\n")
        return self.run("show-options", "-gqv", name).rstrip("\n")

    def load_plugin(self, **options: str) -> None:
        for name, value in options.items():
            self.run("set-option", "-g", name, value)
        self.run("run-shell", str(PLUGIN))

    def agents(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """The real ``agents`` command line, as a user runs it from the repository."""
        proc = subprocess.run(
            [str(AGENTS), "-L", self.socket, *args], env=self.env, cwd=self.cwd, capture_output=True, text=True, check=False, timeout=timeout
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"agents {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}")
        return proc

    def cpu(self) -> float:
        """CPU seconds of the server so far: its own (ns precision) plus its reaped children's."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # after "pid (comm)": state is fields[0]; utime=11 stime=12 cutime=13 cstime=14
        children = (int(fields[13]) + int(fields[14])) / CLK_TCK
        try:
            with open(f"/proc/{self.pid}/schedstat") as f:
                own = int(f.read().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            own = (int(fields[11]) + int(fields[12])) / CLK_TCK
        return own + children

    def attach(self) -> Client:
        client = Client(self)
        self.clients.append(client)
        return client

    def standin_records(self) -> list[dict[str, Any]]:
        try:
            text = self.standin_log.read_text()
        except OSError:
            return []
        out = []
        for line in text.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def kill(self) -> None:
        for client in self.clients:
            client.close()
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], env=self.env, capture_output=True, check=False)
        if self.socket_path.endswith("/" + self.socket):
            Path(self.socket_path).unlink(missing_ok=True)


class Client:
    """A tmux client attached in a pseudo-terminal of a fixed size; its output is drained."""

    def __init__(self, server: Server, cols: int = 200, rows: int = 50) -> None:
        before = set(server.run("list-clients", "-F", "#{client_name}").split())
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

        self.proc = subprocess.Popen(
            ["tmux", "-L", server.socket, "attach-session", "-t", "main"],
            stdin=slave, stdout=slave, stderr=slave, env=server.env, start_new_session=True,
        )
        os.close(slave)
        #: The newest output the client drew (its tail only), to see a prompt appear.
        self.output = b""
        self.output_lock = threading.Lock()
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()
        self.name = wait_for(
            lambda: next(iter(set(server.run("list-clients", "-F", "#{client_name}").split()) - before), None),
            10, "the client to attach",
        )

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            with self.output_lock:
                self.output = (self.output + data)[-65536:]

    def forget_output(self) -> None:
        with self.output_lock:
            self.output = b""

    def has_drawn(self, text: str) -> bool:
        with self.output_lock:
            return text.encode() in self.output

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        try:
            os.close(self.master)
        except OSError:
            pass


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def run_timed(argv: Sequence[str], env: dict[str, str], stdin_path: str = "/dev/null") -> float:
    """Wall time of one whole process (posix_spawn to exit), output discarded."""
    fd = os.open(stdin_path, os.O_RDONLY)
    try:
        actions = [
            (os.POSIX_SPAWN_DUP2, fd, 0),
            (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0),
        ]
        start = time.perf_counter()
        pid = os.posix_spawn(argv[0], list(argv), env, file_actions=actions)
        _, status = os.waitpid(pid, 0)
        elapsed = time.perf_counter() - start
    finally:
        os.close(fd)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv)} failed (status {status})")
    return elapsed


# ---------------------------------------------------------------------------
# counting processes with strace


class ForkCounter:
    """Counts the processes a running process and its descendants start (strace -f)."""

    def __init__(self, pid: int, out: Path) -> None:
        self.out = out
        self.proc = subprocess.Popen(
            ["strace", "-f", "-qq", "-e", "trace=fork,vfork,clone,clone3", "-o", str(out), "-p", str(pid)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

        def traced() -> bool:
            try:
                with open(f"/proc/{pid}/status") as f:
                    return any(line.startswith("TracerPid:") and line.split()[1] != "0" for line in f)
            except OSError:
                return False

        wait_for(traced, 10, "strace to attach")

    def stop(self) -> int:
        self.proc.send_signal(2)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return count_forks(self.out)


def count_forks(path: Path) -> int:
    """New processes (not threads) in an ``strace -f -e trace=process`` log."""
    count = 0
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        if "CLONE_THREAD" in line or "<unfinished" in line:
            continue
        if re.search(r"(\b(?:fork|vfork|clone3?)\(|<\.\.\. (?:fork|vfork|clone3?) resumed>).*= [1-9]\d*$", line):
            count += 1
    return count


def have_strace() -> bool:
    if shutil.which("strace") is None:
        return False
    probe = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "true"], capture_output=True, check=False)
    return probe.returncode == 0


# ---------------------------------------------------------------------------
# the report


@dataclass
class Report:
    sections: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)

    def table(self, title: str, header: Sequence[str], rows: Iterable[Sequence[str]], notes: str = "") -> None:
        lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        if notes:
            lines += ["", notes]
        self.sections.append("\n".join(lines))
        print(self.sections[-1] + "\n", flush=True)


def machine_header(quick: bool) -> str:
    python = version_of([str(VENV_PYTHON), "--version"])
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return "\n".join(
        [
            "## Benchmarks" + (" (--quick)" if quick else ""),
            "",
            (
                f"Machine: {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, load average {load} at start; "
                f"{version_of(['tmux', '-V'])}, {version_of(['git', '--version'])}, {python} (the plugin's venv). "
                "Medians; every ratio is against a baseline measured in the same run."
            ),
        ]
    )


# ---------------------------------------------------------------------------
# 1. status bar cost

COUNT_SCRIPT = """#!/bin/sh
# A typical status plugin: one tmux call per refresh, counted in the shell.
n=$(tmux list-panes -a -F '#{@agent_state}' | grep -c working)
printf '%s working' "$n"
echo x >> "$BENCH_JOB_LOG"
"""

POLL_SCRIPT = """#!/bin/sh
# A polling detector: every cycle, read every agent's screen.
# usage: poll.sh SOCKET CYCLES
i=0
while [ "$i" -lt "$2" ]; do
    for pane in $(tmux -L "$1" list-panes -a -F '#{?@agent_name,#{pane_id},}'); do
        tmux -L "$1" capture-pane -p -t "$pane" | grep -q 'esc to interrupt'
    done
    i=$((i + 1))
done
"""


def add_agent_windows(server: Server, count: int) -> list[str]:
    """``count`` stand-in agents: windows running sleep, with agent pane options set."""
    panes = []
    for i in range(count):
        pane = server.run("new-window", "-d", "-n", f"agent{i}", "-P", "-F", "#{pane_id}", "--", "sleep", "1000000").strip()
        panes.append(pane)
        state = STATES[i % len(STATES)] if i else "working"
        server.run(
            "set-option", "-p", "-t", pane, "@agent_name", f"agent{i}", ";",
            "set-option", "-p", "-t", pane, "@agent_state", state, ";",
            "set-option", "-p", "-t", pane, "@agent_state_since", str(int(time.time())),
        )
    return panes


class StatusRig:
    """One server with an attached client, switched between status-line variants."""

    def __init__(self, server: Server, client: Client, variants: dict[str, dict[str, str]], job_log: Path) -> None:
        self.server = server
        self.client = client
        self.variants = variants
        self.job_log = job_log

    def jobs_done(self) -> int:
        try:
            return len(self.job_log.read_text().splitlines())
        except OSError:
            return 0

    def refresh(self, variant: str, times: int) -> None:
        """``times`` forced status refreshes, one tmux client call each."""
        for _ in range(times):
            before = self.jobs_done()
            self.server.run("refresh-client", "-S", "-t", self.client.name)
            if variant == "script":
                # One job per refresh: wait for it, or the next forced refresh kills it.
                wait_for(lambda: self.jobs_done() > before, 10, "the #() job")  # noqa: B023 - used at once
        time.sleep(0.02)

    def use(self, variant: str) -> None:
        for option, value in self.variants[variant].items():
            self.server.run("set-option", "-g", option, value)
        self.refresh(variant, 2)  # warm-up


def bench_status(sandbox: Sandbox, report: Report, quick: bool, strace: bool) -> None:
    counts = (0, 1, 10, 50)
    rounds, refreshes, cycles = (3, 15, 2) if quick else (5, 40, 4)
    job_log = sandbox.dir / "status-jobs.log"
    count_script = sandbox.dir / "count-agents.sh"
    count_script.write_text(COUNT_SCRIPT)
    count_script.chmod(0o755)
    poll_script = sandbox.dir / "poll.sh"
    poll_script.write_text(POLL_SCRIPT)
    poll_script.chmod(0o755)
    repo = sandbox.repo("status")
    rows = []
    ours_by_n: dict[int, float] = {}
    for n in counts:
        note(f"status bar: {n} agents")
        server = sandbox.server(repo)
        server.env["BENCH_JOB_LOG"] = str(job_log)
        server.run("set-environment", "-g", "BENCH_JOB_LOG", str(job_log))
        default_formats = {o: server.option(o) for o in ("status-right", "window-status-format", "window-status-current-format")}
        server.load_plugin()
        plugin_formats = {o: server.option(o) for o in default_formats}
        if "@agent_state" not in plugin_formats["status-right"]:
            raise RuntimeError("the plugin did not put its segment into status-right")
        server.run("set-option", "-g", "status-interval", "0")
        agent_panes = add_agent_windows(server, n)
        client = server.attach()
        variants: dict[str, dict[str, str]] = {
            "tmux": {**default_formats, "status-right": "%H:%M"},
            "ours": dict(plugin_formats),
            # The segment alone, without the per-window icons in the window list.
            "segment": {**default_formats, "status-right": plugin_formats["status-right"]},
            "script": {**default_formats, "status-right": f"#({count_script}) %H:%M"},
        }

        rig = StatusRig(server, client, variants, job_log)
        cpu: dict[str, list[float]] = {v: [] for v in variants}
        for _ in range(rounds):
            for variant in variants:
                rig.use(variant)
                start = server.cpu()
                rig.refresh(variant, refreshes)
                cpu[variant].append((server.cpu() - start) / refreshes)
        procs: dict[str, float] = {}
        if strace:
            for variant in ("ours", "script"):
                rig.use(variant)
                counter = ForkCounter(server.pid, sandbox.dir / f"strace-status-{n}-{variant}.log")
                rig.refresh(variant, 10)
                time.sleep(0.1)
                procs[variant] = counter.stop() / 10
        rendered = strip_styles(server.display(plugin_formats["status-right"]))
        # The polling detector: `cycles` back-to-back cycles (one cycle = one second of 1 Hz polling).
        poll_cpu, poll_procs = [], float("nan")
        for _ in range(max(1, rounds - 2)):
            start = server.cpu()
            proc = subprocess.Popen([str(poll_script), server.socket, str(cycles)], env=server.env)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            poll_cpu.append((server.cpu() - start + usage.ru_utime + usage.ru_stime) / cycles)
        if strace:
            out = sandbox.dir / f"strace-poll-{n}.log"
            subprocess.run(
                ["strace", "-f", "-qq", "-e", "trace=fork,vfork,clone,clone3", "-o", str(out), str(poll_script), server.socket, str(cycles)],
                env=server.env, capture_output=True, check=False,
            )
            # The server's side is none (capture-pane forks nothing); the poller's are all counted.
            poll_procs = count_forks(out) / cycles
        ours = median(cpu["ours"])
        ours_by_n[n] = ours
        rows.append([
            str(n),
            us(median(cpu["tmux"])),
            us(ours),
            us(median(cpu["segment"])),
            f"{procs.get('ours', float('nan')):.0f}",
            us(median(cpu["script"])),
            f"{procs.get('script', float('nan')):.0f}",
            ratio(ours, median(cpu["script"])),
            us(median(poll_cpu)),
            f"{poll_procs:.0f}",
        ])
        note(f"  rendered segment with {n} agents: {rendered.strip()!r} ({len(agent_panes)} agent panes)")
        server.kill()
    flat = ratio(ours_by_n[50], ours_by_n[0])
    report.table(
        "1. Status bar: cost per refresh",
        ["Agents", "tmux alone (floor)", "agents.tmux", "(segment only)", "processes", "`#(script)`", "processes", "agents.tmux ÷ `#(script)`",
         "capture-pane poller, per 1 s cycle", "processes"],
        rows,
        "CPU time of the tmux server per forced status refresh (`refresh-client -S`, one attached 200×50 client, "
        "`/proc/<pid>/schedstat` of the server plus its reaped children), including the refresh itself; "
        "\"tmux alone\" is the same refresh with `status-right` = `%H:%M` and the default window formats; "
        "\"segment only\": the plugin's `status-right` without its window-list icons. "
        "`#(script)`: a segment that runs `tmux list-panes -a ... | grep -c` per refresh. "
        "Poller: `capture-pane` of every agent once per cycle (CPU of the poller and of the server). "
        f"Processes counted with `strace -f` on the server (poller: on the poller). "
        f"agents.tmux with 50 agents ÷ with 0: {flat}.",
    )


# ---------------------------------------------------------------------------
# 2. hook latency


def settings_file(sandbox: Sandbox) -> Path:
    """The generated Claude settings file (written the way a spawn writes it)."""
    path = Path(sandbox.env["XDG_STATE_HOME"]) / "agents-tmux" / "claude-settings.json"
    if not path.exists():
        subprocess.run(
            [str(VENV_PYTHON), "-I", "-c", "from agents_tmux.programs.claude import write_settings as w; w()"],
            env=sandbox.env, check=True,
        )
    return path


def hook_argv(sandbox: Sandbox, event: str) -> list[str]:
    settings = json.loads(settings_file(sandbox).read_text())
    command = settings["hooks"][event][0]["hooks"][0]["command"]
    argv = shlex.split(command)
    argv[0] = shutil.which(argv[0]) or argv[0]
    return argv


def hook_payload(event: str, cwd: Path, session_id: str) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "session_id": session_id,
        "transcript_path": f"/tmp/bench/{session_id}.jsonl",
        "cwd": str(cwd),
        "permission_mode": "default",
        "hook_event_name": event,
    }
    if event in ("PreToolUse", "PermissionRequest"):
        payload.update(tool_name="Bash", tool_input={"command": "echo standin", "description": "Print a marker"})
    return payload


def bench_hook(sandbox: Sandbox, report: Report, quick: bool) -> None:
    runs, warmup = (20, 3) if quick else (50, 5)
    note("hook latency")
    repo = sandbox.repo("hook")
    server = sandbox.server(repo)
    server.load_plugin()
    pane = server.run("new-window", "-d", "-P", "-F", "#{pane_id}", "--", "sleep", "1000000").strip()
    server.run("set-option", "-p", "-t", pane, "@agent_name", "bench-hook", ";", "set-option", "-p", "-t", pane, "@agent_state", "idle")
    server.attach()  # so the notifying path has a client to tell
    env = {**server.env, "TMUX": f"{server.socket_path},{server.pid},0", "TMUX_PANE": pane, "CLAUDE_PROJECT_DIR": str(repo)}
    session_id = str(uuid.uuid4())
    payloads = {}
    for event in ("PreToolUse", "PermissionRequest", "Stop"):
        path = sandbox.dir / f"payload-{event}.json"
        payload = hook_payload(event, repo, session_id)
        if event == "Stop":
            # A real transcript for the usage reading the Stop handler starts (detached).
            transcript = sandbox.dir / f"{session_id}.jsonl"
            transcript.write_text(transcript_turn(0, __import__("random").Random(1)))
            payload["transcript_path"] = str(transcript)
        path.write_text(json.dumps(payload))
        payloads[event] = str(path)
    hook_stop = hook_argv(sandbox, "Stop")
    hook_pre = hook_argv(sandbox, "PreToolUse")
    hook_perm = hook_argv(sandbox, "PermissionRequest")
    python = hook_pre[0]
    tmux = shutil.which("tmux") or "tmux"
    path_python3 = shutil.which("python3", path=env.get("PATH"))
    variants: list[tuple[str, list[str], str]] = [
        # The floor also resets the state to working, so PermissionRequest is a real change (it notifies).
        ("floor", [tmux, "set-option", "-p", "-t", pane, "@agent_state", "working"], "/dev/null"),
        ("hook_perm", hook_perm, payloads["PermissionRequest"]),
        # waiting -> idle: no notification; it starts the usage reading and does not wait for it.
        ("hook_stop", hook_stop, payloads["Stop"]),
        ("hook_pre", hook_pre, payloads["PreToolUse"]),
        ("py_IS", [python, "-I", "-S", "-c", "pass"], "/dev/null"),
        ("py", [python, "-c", "pass"], "/dev/null"),
    ]
    if path_python3:
        variants.append(("python3", [path_python3, "-c", "pass"], "/dev/null"))
    times: dict[str, list[float]] = {name: [] for name, _, _ in variants}
    for i in range(warmup + runs):
        for name, argv, stdin in variants:
            elapsed = run_timed(argv, env, stdin)
            if i >= warmup:
                times[name].append(elapsed)
    state = server.option("@agent_state", pane)
    if state != "working" or server.option("@agent_session_id", pane) != session_id:
        raise RuntimeError(f"the hook handler did not update the pane (state {state!r})")
    base = median(times["py_IS"])
    rows = [
        ["hook handler, PreToolUse (→ working, 1 tmux call)", ms(median(times["hook_pre"])), ratio(median(times["hook_pre"]), base), ratio(median(times["hook_pre"]), median(times["floor"])), "≤ 1.5×"],
        ["hook handler, PermissionRequest (→ waiting, notifies: 2 tmux calls)", ms(median(times["hook_perm"])), ratio(median(times["hook_perm"]), base), ratio(median(times["hook_perm"]), median(times["floor"])), "≤ 1.5×"],
        ["hook handler, Stop (→ idle, 1 tmux call, starts the usage reading detached)", ms(median(times["hook_stop"])), ratio(median(times["hook_stop"]), base), ratio(median(times["hook_stop"]), median(times["floor"])), "≤ 1.5×"],
        [f"`{Path(python).name} -I -S -c pass` (same interpreter and flags)", ms(base), "1.00×", ratio(base, median(times["floor"])), ""],
        [f"`{Path(python).name} -c pass` (same interpreter, no flags)", ms(median(times["py"])), ratio(median(times["py"]), base), ratio(median(times["py"]), median(times["floor"])), ""],
    ]
    if path_python3:
        rows.append([f"`python3 -c pass` (PATH: {path_python3})", ms(median(times["python3"])), ratio(median(times["python3"]), base), ratio(median(times["python3"]), median(times["floor"])), ""])
    rows.append(["`tmux set-option -p` (floor)", ms(median(times["floor"])), ratio(median(times["floor"]), base), "1.00×", ""])
    report.table(
        "2. Hook latency: whole process per event",
        ["Process", "Median wall time", "÷ Python start-up (`-I -S`)", "÷ bare tmux call", "Goal"],
        rows,
        f"{runs} runs each after {warmup} warm-ups, interleaved; the handler runs as Claude runs it (the command in "
        "`claude-settings.json`: `<venv python> -I -S .../run_hook.py`, payload on stdin, `TMUX`/`TMUX_PANE` of a real pane, "
        "one client attached); Claude's own `/bin/sh -c` around it is left out of every row alike.",
    )


# ---------------------------------------------------------------------------
# 3. spawn latency


def standin_command() -> str:
    """The stand-in Claude, run by the venv's Python directly (no pyenv/env shim in every row)."""
    return f"{shlex.quote(str(VENV_PYTHON))} {shlex.quote(str(STANDIN))}"


class StartWatcher:
    """Finds the stand-in's start record for a given working folder."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def wait(self, cwd: Path, timeout: float = 60) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            for record in self.server.standin_records():
                if record.get("event") == "start" and record.get("cwd") == str(cwd):
                    return record
            return None

        return wait_for(find, timeout, f"the stand-in agent to start in {cwd}", interval=0.005)


def spawn_ours(server: Server, task: str, repo: Path) -> tuple[float, float, Path, str]:
    """``agents spawn`` as a user runs it: (seconds to the agent running, seconds to the CLI's exit, worktree, pane)."""
    t0 = time.time()
    p0 = time.perf_counter()
    out = server.agents("spawn", task, "--pane", server.origin, "-d")
    cli = time.perf_counter() - p0
    name = out.stdout.strip()
    worktree = repo.parent / f"{repo.name}.agents" / name
    record = StartWatcher(server).wait(worktree)
    return record["time"] - t0, cli, worktree, record.get("tmux_pane") or ""


def spawn_floor(server: Server, sandbox: Sandbox, task: str, repo: Path, branch: str) -> tuple[float, Path, str]:
    """The same work by hand: git worktree add -b, tmux split-window -c, the same agent command."""
    _to_pane, to_running, worktree, pane = floor_to_pane(server, sandbox, task, repo, branch)
    return to_running, worktree, pane


def clean_spawn(server: Server, sandbox: Sandbox, repo: Path, worktree: Path, pane: str, branch: str) -> None:
    server.run("kill-pane", "-t", pane, check=False)
    sandbox.git(repo, "worktree", "remove", "--force", str(worktree), check=False)
    sandbox.git(repo, "branch", "-D", branch, check=False)
    time.sleep(0.3)  # let the killed agent's SessionEnd hook and watcher finish


def bench_spawn(sandbox: Sandbox, report: Report, quick: bool, strace: bool) -> None:
    rows = []
    breakdown_server = None
    # (label, files, runs, warm-ups): checking out 10,000 files dominates, so fewer runs there.
    for label, files, runs, warmups in (("small (2 files)", 0, 3 if quick else 7, 1), ("10,000 files", 10_000, 2 if quick else 4, 0)):
        note(f"spawn latency: {label} repository")
        repo = sandbox.repo(f"spawn-{files}", files)
        server = sandbox.server(repo)
        server.load_plugin(**{"@agents-command": standin_command(), "@agents-max": "1000", "@agents-spawn-target": "split-h"})
        ours, cli, floor = [], [], []
        for i in range(runs + warmups):
            task = f"bench spawn {i}"
            took, cli_took, worktree, pane = spawn_ours(server, task, repo)
            if i >= warmups:
                ours.append(took)
                cli.append(cli_took)
            clean_spawn(server, sandbox, repo, worktree, pane, f"agent/{worktree.name}")
            branch = f"floor/run-{i}"
            took, worktree, pane = spawn_floor(server, sandbox, task, repo, branch)
            if i >= warmups:
                floor.append(took)
            clean_spawn(server, sandbox, repo, worktree, pane, branch)
        if files == 0:
            breakdown_server = server
        else:
            server.kill()
        rows.append([label, ms(median(ours)), ms(median(cli)), ms(median(floor)), ratio(median(ours), median(floor)),
                     ms(median(ours) - median(floor)), "≤ 1.3×"])
    report.table(
        "3. Spawn latency: command to agent running in its worktree",
        ["Repository", "`agents spawn`", "(CLI exits after)", "by hand (floor)", "Ratio", "Difference", "Goal"],
        rows,
        "Medians (small: 7 runs after a warm-up; 10,000 files: 4 runs; --quick: 3 and 2), ours and by hand interleaved. "
        "Start: the command is launched; end: the stand-in agent's start record (it logs the time once it has parsed its "
        "flags, in its worktree). By hand: `git worktree add -b` + `tmux split-window -c <worktree>` + the same agent argv. "
        "Both run the stand-in with the venv's Python.",
    )
    assert breakdown_server is not None
    spawn_breakdown(sandbox, report, breakdown_server, quick, strace)
    breakdown_server.kill()


def key_spawn(server: Server, client: Client, task: str, repo: Path, typing: float = 0.0) -> tuple[float, float, Path, str]:
    """prefix + A, the task, Enter, as a user types them: (seconds from Enter to the pane, to the agent running, worktree, pane).

    ``typing``: Enter comes that many seconds after the prompt is drawn (0: as soon as the task is on it).
    """
    before = set(server.run("list-panes", "-t", "main", "-F", "#{pane_id}").split())
    client.forget_output()
    client.type(b"\x02A")
    wait_for(lambda: client.has_drawn("task:"), 30, "the spawn key's prompt")
    drawn = time.time()
    client.type(task.encode())
    wait_for(lambda: client.has_drawn(task[-6:]), 30, "the typed task on the prompt")
    time.sleep(max(0.0, drawn + typing - time.time()))
    t0 = time.time()
    client.type(b"\r")
    new = wait_for(lambda: set(server.run("list-panes", "-t", "main", "-F", "#{pane_id}").split()) - before, 60, "the agent's pane",
                   interval=0.002)
    to_pane = time.time() - t0
    worktree = repo.parent / f"{repo.name}.agents" / task.lower().replace(" ", "-")
    record = StartWatcher(server).wait(worktree)
    return to_pane, record["time"] - t0, worktree, next(iter(new))


def floor_to_pane(server: Server, sandbox: Sandbox, task: str, repo: Path, branch: str) -> tuple[float, float, Path, str]:
    """:func:`spawn_floor`, also timing the pane: (seconds to the pane, to the agent running, worktree, pane)."""
    worktree = repo.parent / f"{repo.name}.agents" / branch.replace("/", "-")
    argv = [*shlex.split(standin_command()), "--settings", str(settings_file(sandbox)), "--session-id", str(uuid.uuid4()), task]
    t0 = time.time()
    subprocess.run(["git", "-C", str(repo), "worktree", "add", "--quiet", "-b", branch, str(worktree), "HEAD"],
                   env=server.env, check=True, capture_output=True)
    pane = server.run("split-window", "-h", "-d", "-t", server.origin, "-c", str(worktree), "-P", "-F", "#{pane_id}", "--", *argv).strip()
    to_pane = time.time() - t0
    record = StartWatcher(server).wait(worktree)
    return to_pane, record["time"] - t0, worktree, pane


def bench_key_spawn(sandbox: Sandbox, report: Report, quick: bool) -> None:
    """The spawn key on a small repository, through an attached client, against the floor in the same run.

    Twice: Enter one second after the prompt opens (a task typed by hand takes
    longer), and Enter as soon as the task is on the prompt (pasted), which
    leaves the spawn no time to get ready while the task is typed.
    """
    note("spawn latency: the key path (prefix + A, task, Enter)")
    repo = sandbox.repo("spawn-key", 0)
    server = sandbox.server(repo)
    server.load_plugin(**{"@agents-command": standin_command(), "@agents-max": "1000", "@agents-spawn-target": "split-h",
                          "@agents-focus": "off"})
    client = server.attach()
    runs, warmups = (3, 1) if quick else (9, 1)
    ways = (("typed (Enter 1 s after the prompt opens)", 1.0), ("pasted (Enter as soon as the task is shown)", 0.0))
    ours_pane: dict[str, list[float]] = {way: [] for way, _ in ways}
    ours_agent: dict[str, list[float]] = {way: [] for way, _ in ways}
    floor_pane, floor_agent = [], []
    try:
        for i in range(runs + warmups):
            for way, typing in ways:
                to_pane, to_agent, worktree, pane = key_spawn(server, client, f"bench key {i} {typing:.0f}", repo, typing)
                if i >= warmups:
                    ours_pane[way].append(to_pane)
                    ours_agent[way].append(to_agent)
                clean_spawn(server, sandbox, repo, worktree, pane, f"agent/{worktree.name}")
            branch = f"floor/key-{i}"
            to_pane, to_agent, worktree, pane = floor_to_pane(server, sandbox, f"bench key {i}", repo, branch)
            if i >= warmups:
                floor_pane.append(to_pane)
                floor_agent.append(to_agent)
            clean_spawn(server, sandbox, repo, worktree, pane, branch)
    finally:
        server.kill()
    rows = []
    for way, _ in ways:
        rows.append([f"Enter → the agent's pane exists, {way}", ms(median(ours_pane[way])), ms(median(floor_pane)),
                     ratio(median(ours_pane[way]), median(floor_pane)), ms(median(ours_pane[way]) - median(floor_pane)), "≤ 150 ms"])
        rows.append([f"Enter → the agent runs in it, {way}", ms(median(ours_agent[way])), ms(median(floor_agent)),
                     ratio(median(ours_agent[way]), median(floor_agent)), ms(median(ours_agent[way]) - median(floor_agent)), ""])
    report.table(
        "3c. The spawn key: Enter at the prompt → pane (small repository)",
        ["Step", "`prefix + A`", "by hand (floor)", "Ratio", "Difference", "Goal"],
        rows,
        f"Medians of {runs} runs after {warmups} warm-up, ours (both ways) and by hand interleaved. A client attached in a "
        "200x50 pseudo-terminal presses prefix + A, types the task once the prompt is drawn, and presses Enter either one "
        "second after the prompt was drawn (typed) or as soon as the task is drawn on it (pasted); the clock starts at "
        "Enter. The pane is seen by polling `list-panes` every 2 ms, the agent by its start record. By hand: `git worktree "
        "add -b` + `tmux split-window -c <worktree>` + the same agent argv, timed to split-window's return and to the "
        "start record.",
    )


def spawn_breakdown(sandbox: Sandbox, report: Report, server: Server, quick: bool, strace: bool) -> None:
    """Where a spawn's time goes: the pieces of the CLI's path, timed alone, and the processes it starts."""
    note("spawn latency: where the time goes")
    runs = 5 if quick else 15
    env = server.env
    python = str(VENV_PYTHON)
    tmux = shutil.which("tmux") or "tmux"
    git = shutil.which("git") or "git"
    pieces = [
        ("`python -I -c pass` (interpreter start-up)", [python, "-I", "-c", "pass"]),
        ("`python -I -m agents_tmux --version` (CLI start-up)", [python, "-I", "-m", "agents_tmux", "--version"]),
        ("`scripts/agents --version` (+ the bash shim)", [str(AGENTS), "--version"]),
        ("`python -I -c 'import libtmux'`", [python, "-I", "-c", "import libtmux"]),
        ("`python -I -c 'import agents_tmux.spawn, agents_tmux.commands.spawn'`", [python, "-I", "-c", "import agents_tmux.spawn, agents_tmux.commands.spawn"]),
        ("one `git rev-parse HEAD`", [git, "-C", str(server.cwd), "rev-parse", "HEAD"]),
        ("one `tmux display-message -p`", [tmux, "-L", server.socket, "display-message", "-p", "#{pid}"]),
    ]
    times: dict[str, list[float]] = {label: [] for label, _ in pieces}
    for i in range(runs + 2):
        for label, argv in pieces:
            elapsed = run_timed(argv, env)
            if i >= 2:
                times[label].append(elapsed)
    rows = [[label, ms(median(times[label]))] for label, _ in pieces]
    if strace:
        out = sandbox.dir / "strace-spawn.log"
        proc = subprocess.run(
            ["strace", "-f", "-qq", "-e", "trace=execve", "-o", str(out), str(AGENTS), "-L", server.socket, "spawn",
             "count my processes", "--pane", server.origin, "-d"],
            env=env, cwd=server.cwd, capture_output=True, text=True, check=False,
        )
        programs: dict[str, int] = {}
        for line in out.read_text().splitlines():
            found = re.search(r'execve\("([^"]+)".*= 0$', line)
            if found:
                programs[Path(found.group(1)).name] = programs.get(Path(found.group(1)).name, 0) + 1
        if proc.returncode == 0:
            detail = ", ".join(f"{count} {name}" for name, count in sorted(programs.items(), key=lambda kv: -kv[1]))
            rows.append(["processes `agents spawn` itself starts (strace -f: execve)", f"{sum(programs.values())}: {detail}"])
    report.table(
        "3b. Where a spawn's time goes (pieces timed alone)",
        ["Piece", "Median"],
        rows,
        f"Median of {runs} runs each, interleaved, same machine and moment as table 3.",
    )


# ---------------------------------------------------------------------------
# 4. state propagation


def bench_propagation(sandbox: Sandbox, report: Report, quick: bool) -> None:
    cycles = 4 if quick else 10
    note("state propagation")
    repo = sandbox.repo("propagation")
    server = sandbox.server(repo)
    server.load_plugin(**{"@agents-command": standin_command(), "@agents-max": "1000", "@agents-spawn-target": "window"})
    server.attach()
    status_format = server.option("status-right")
    waiting_icon = server.option("@agents-icon-waiting") or "⏳"
    idle_icon = server.option("@agents-icon-idle") or "✓"
    name = server.agents("spawn", "bench propagation", "--pane", server.origin, "-d").stdout.strip()
    pane = wait_for(lambda: next((line.split()[0] for line in server.run("list-panes", "-a", "-F", "#{pane_id} #{@agent_name}").splitlines()
                                  if line.endswith(" " + name)), None), 10, "the agent's pane")
    # The task is submitted at start (working); finish that turn.
    wait_for(lambda: server.option("@agent_state", pane) == "working", 30, "the first turn")
    server.run("send-keys", "-t", pane, "-l", "/done")
    server.run("send-keys", "-t", pane, "Enter")
    wait_for(lambda: server.option("@agent_state", pane) == "idle", 30, "idle")

    def status() -> str:
        return strip_styles(server.display(status_format))

    def watch(condition: Callable[[str], bool]) -> float:
        """Poll the rendered status line as fast as tmux answers; the time.time() it first matched."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if condition(status()):
                return time.time()
        raise RuntimeError("the status line never showed the change")

    def fired(event: str, offset: int) -> float:
        record = wait_for(lambda: next((r for r in server.standin_records()[offset:] if r.get("event") == event), None), 10, event)
        return float(record["time"])

    def type_line(text: str) -> None:
        server.run("send-keys", "-t", pane, "-l", text)
        server.run("send-keys", "-t", pane, "Enter")

    hook_waiting, hook_idle, keys_waiting, floor = [], [], [], []
    for i in range(cycles):
        type_line(f"turn {i}")
        wait_for(lambda: server.option("@agent_state", pane) == "working", 30, "working")
        offset = len(server.standin_records())
        sent = time.time()
        type_line("/tool")
        seen = watch(lambda s: f"{waiting_icon} 1" in s)
        hook_waiting.append(seen - fired("PermissionRequest", offset))
        keys_waiting.append(seen - sent)
        type_line("1")
        wait_for(lambda: server.option("@agent_state", pane) == "working", 30, "working after approval")
        offset = len(server.standin_records())
        type_line("/done")
        seen = watch(lambda s: f"{idle_icon} 1" in s and f"{waiting_icon}" not in s)
        hook_idle.append(seen - fired("Stop", offset))
        wait_for(lambda: server.option("@agent_state", pane) == "idle", 30, "idle")
        # The floor: the same option set by a bare tmux call, seen by the same poll loop.
        for _ in range(2):
            start = time.time()
            server.run("set-option", "-p", "-t", pane, "@agent_state", "waiting")
            floor.append(watch(lambda s: f"{waiting_icon} 1" in s) - start)
            server.run("set-option", "-p", "-t", pane, "@agent_state", "idle")
            watch(lambda s: f"{waiting_icon}" not in s)
    server.kill()
    base = median(floor)
    rows = [
        ["PermissionRequest fired → status shows ⏳ 1", ms(median(hook_waiting)), ratio(median(hook_waiting), base), ms(max(hook_waiting))],
        ["Stop fired → status shows ✓ 1", ms(median(hook_idle)), ratio(median(hook_idle), base), ms(max(hook_idle))],
        ["`/tool` typed → status shows ⏳ 1 (includes the agent)", ms(median(keys_waiting)), ratio(median(keys_waiting), base), ms(max(keys_waiting))],
        ["bare `tmux set-option -p` → status shows it (floor)", ms(base), "1.00×", ms(max(floor))],
    ]
    report.table(
        "4. State propagation: hook to status line",
        ["Path", "Median", "÷ floor", "Worst"],
        rows,
        f"{cycles} turns of the stand-in Claude (its log records when it fires each hook); the status line is "
        "`status-right` rendered with `display-message -p` in a tight loop (one tmux round trip, a few ms, is the resolution). "
        "For comparison, a 1 s polling detector takes 500 ms on average by construction, and a `#()` segment waits for "
        "`status-interval` (15 s by default).",
    )


# ---------------------------------------------------------------------------
# 5. scale


def bench_scale(sandbox: Sandbox, report: Report, quick: bool) -> None:
    sequential, concurrent = (20, 5) if quick else (50, 10)
    note(f"scale: {sequential} spawns one after another, then {concurrent} at once")
    repo = sandbox.repo("scale")
    server = sandbox.server(repo)
    server.load_plugin(**{"@agents-command": standin_command(), "@agents-max": "1000", "@agents-spawn-target": "window"})
    times, floor, names, errors = [], [], [], []
    for i in range(sequential):
        start = time.perf_counter()
        proc = server.agents("spawn", f"scale task {i}", "--pane", server.origin, "-d", check=False)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            errors.append(proc.stderr.strip())
        names.append(proc.stdout.strip())
        # The floor at this N, in the same repository and server: a worktree and a window by hand, then removed.
        branch = f"floor/scale-{i}"
        worktree = repo.parent / f"{repo.name}.agents" / f"floor-scale-{i}"
        start = time.perf_counter()
        subprocess.run(["git", "-C", str(repo), "worktree", "add", "--quiet", "-b", branch, str(worktree), "HEAD"],
                       env=server.env, check=True, capture_output=True)
        pane = server.run("new-window", "-d", "-c", str(worktree), "-P", "-F", "#{pane_id}", "--", "sleep", "1000000").strip()
        floor.append(time.perf_counter() - start)
        clean_spawn(server, sandbox, repo, worktree, pane, branch)
    argv = [str(AGENTS), "-L", server.socket, "spawn", "the same task at once", "--pane", server.origin, "-d"]
    start = time.perf_counter()
    procs = [subprocess.Popen(argv, env=server.env, cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(concurrent)]
    batch = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        if proc.returncode != 0:
            errors.append(err.strip())
        batch.append(out.strip())
    batch_wall = time.perf_counter() - start
    names += batch
    listed = json.loads(server.agents("list", "--json").stdout)
    listed_names = [a["name"] for a in listed]
    expected = set(names) - {""}
    def every_start() -> set[str] | None:
        cwds = {r["cwd"] for r in server.standin_records() if r.get("event") == "start"}
        return cwds if len(cwds) >= len(expected) else None

    started = wait_for(every_start, 120, "every agent to start") if not errors else set()
    server.kill()
    ok = (not errors and len(expected) == len(names) and sorted(listed_names) == sorted(names) and len(started) == len(names))
    first, last = times[:10], times[-10:]
    floor_first, floor_last = floor[:10], floor[-10:]
    rows = [
        [f"spawns 1–10 of {sequential}, one after another", ms(median(first)), "1.00×", ms(median(floor_first)), ratio(median(first), median(floor_first))],
        [f"spawns {sequential - 9}–{sequential}", ms(median(last)), ratio(median(last), median(first)), ms(median(floor_last)), ratio(median(last), median(floor_last))],
        [f"{concurrent} at once (same task): wall time of the batch", ms(batch_wall), "", "", ""],
        [f"{concurrent} at once: wall time per spawn", ms(batch_wall / concurrent), ratio(batch_wall / concurrent, median(first)), "", ""],
    ]
    report.table(
        "5. Scale",
        ["Case", "Median wall time of `agents spawn`", "÷ spawns 1–10", "by hand at the same N", "÷ by hand"],
        rows,
        "By hand: `git worktree add -b` + `tmux new-window -c` (a `sleep` instead of the agent), timed right after each "
        "spawn and removed again, so it sees the same number of worktrees and panes. "
        f"{len(names)} spawns, {len(set(names))} distinct names, {len(listed_names)} listed by `agents list --json`, "
        f"{len(started)} agents started, {len(errors)} errors: {'all good' if ok else 'PROBLEM'}."
        + (f" First error: {errors[0]}" if errors else ""),
    )
    if not ok:
        report.findings.append("scale check failed")


# ---------------------------------------------------------------------------
# 6. usage: reading a transcript at the end of a turn


def transcript_turn(n: int, rng: Any) -> str:
    """One turn of a Claude Code transcript, shaped like 2.1.197's: a prompt, a reply written
    as two lines (text, then tool_use, same message id), a large tool result, a closing reply."""
    def line(entry: dict[str, Any]) -> str:
        return json.dumps(entry, separators=(",", ":")) + "\n"

    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 3600 + n % 3600))
    common = {"parentUuid": str(uuid.uuid4()), "isSidechain": False, "userType": "external", "cwd": "/w/project",
              "sessionId": "bench", "version": "2.1.197", "gitBranch": "agent/bench", "timestamp": stamp}
    usage = {"input_tokens": 3 + n % 7, "cache_creation_input_tokens": 500 + n % 300, "cache_read_input_tokens": 40000 + n,
             "output_tokens": 200 + n % 90, "service_tier": "standard"}
    words = " ".join(rng.choice(("the", "parser", "returns", "None", "when", "a", "token", "is", "missing", "fix"))
                     for _ in range(150))
    out = line({**common, "type": "user", "message": {"role": "user", "content": f"Turn {n}: {words[:300]}"}, "uuid": str(uuid.uuid4())})
    for block in ({"type": "text", "text": words}, {"type": "tool_use", "id": f"toolu_{n}", "name": "Read", "input": {"file_path": "/w/project/src/parser.py"}}):
        out += line({**common, "type": "assistant", "requestId": f"req_{n}", "uuid": str(uuid.uuid4()), "message": {
            "id": f"msg_{n}", "type": "message", "role": "assistant", "model": "claude-opus-4-8", "content": [block],
            "stop_reason": "tool_use", "stop_sequence": None, "usage": usage}})
    source = "\n".join(f"{i:5}\tdef parse_{i}(tokens): return tokens[{i}] if len(tokens) > {i} else None" for i in range(160))
    out += line({**common, "type": "user", "uuid": str(uuid.uuid4()), "message": {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": f"toolu_{n}", "content": source}]},
        "toolUseResult": {"type": "text", "file": {"filePath": "/w/project/src/parser.py", "content": source}}})
    out += line({**common, "type": "assistant", "requestId": f"req_{n}b", "uuid": str(uuid.uuid4()), "message": {
        "id": f"msg_{n}b", "type": "message", "role": "assistant", "model": "claude-opus-4-8",
        "content": [{"type": "text", "text": words[:400]}], "stop_reason": "end_turn", "stop_sequence": None, "usage": usage}})
    return out


def bench_usage(sandbox: Sandbox, report: Report, quick: bool) -> None:
    """The Stop hook's background reading (agents_tmux.usage): a 50 MB transcript first, then one turn more."""
    import random

    runs = 3 if quick else 7
    note("usage reading")
    rng = random.Random(14)
    transcript = sandbox.dir / "transcript.jsonl"
    turns = 0
    with transcript.open("w", encoding="utf-8") as handle:
        while handle.tell() < 50 * 1024 * 1024:
            handle.write(transcript_turn(turns, rng))
            turns += 1
    size = transcript.stat().st_size
    state = sandbox.dir / "usage-state"
    src = ROOT / "python" / "src"
    read = (f"import sys; sys.path.insert(0, {str(src)!r}); from agents_tmux.usage import Tally; "
            f"t = Tally.load({str(transcript)!r}, {str(state)!r}); t.update(); t.save({str(state)!r})")
    argv = [str(VENV_PYTHON), "-I", "-S", "-c", read]
    base = [str(VENV_PYTHON), "-I", "-S", "-c", "pass"]
    first, more, start = [], [], []
    one_turn = transcript_turn(turns, rng)
    for _ in range(runs):
        shutil.rmtree(state, ignore_errors=True)
        first.append(run_timed(argv, sandbox.env))
        with transcript.open("a", encoding="utf-8") as handle:
            handle.write(one_turn.replace("msg_", f"msg_r{len(more)}_"))
        more.append(run_timed(argv, sandbox.env))
        start.append(run_timed(base, sandbox.env))
    sys.path.insert(0, str(src))
    from agents_tmux.usage import Tally

    tally = Tally.load(str(transcript), str(state))
    expected = (turns + runs) * 2  # two replies a turn, each counted once
    if tally.replies != expected:
        report.findings.append(f"usage: {tally.replies} replies counted, expected {expected}")
    rows = [
        [f"first reading of a {size / 1e6:.0f} MB transcript ({turns} turns)", ms(median(first)), ratio(median(first), median(start))],
        [f"one turn more ({len(one_turn) / 1e3:.0f} kB added)", ms(median(more)), ratio(median(more), median(start))],
        ["`python -I -S -c pass` (floor)", ms(median(start)), "1.00×"],
    ]
    report.table(
        "6. Usage: reading a transcript at the end of a turn (whole process, state file saved)",
        ["Reading", "Median wall time", "÷ Python start-up"],
        rows,
        f"{runs} runs each. The Stop hook starts this reading detached (Claude is not held up) and it "
        "reads only the bytes added since the last one; the first reading of a long resumed conversation is "
        "the worst case. Checked: every reply counted once.",
    )


# ---------------------------------------------------------------------------
# 7. resident cost: the screen watcher(s) while agents run


CLAUDE_SCREENS = {
    "working": "✶ Flambéing… (3s · ↓ 22 tokens)\n" + "─" * 80 + "\n❯ \n" + "─" * 80 + "\n  esc to interrupt\n",
    "idle": "● Done.\n" + "─" * 80 + "\n❯ \n" + "─" * 80 + "\n  ? for shortcuts\n",
}


def process_cost(pid: int) -> tuple[float, int, int]:
    """(CPU seconds incl. reaped children, RSS bytes, PSS bytes) of one process; zeros once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = sum(int(fields[i]) for i in (11, 12, 13, 14)) / CLK_TCK
        rss = pss = 0
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1]) * 1024
        return cpu, rss, pss
    except (OSError, ValueError, IndexError):
        return 0.0, 0, 0


def resident_round(sandbox: Sandbox, count: int, state: str, hooks: str, shared: bool, seconds: float) -> dict[str, float]:
    """``count`` agents showing ``state``, watched by one shared watcher or one watcher each; their cost over ``seconds``."""
    sys.path.insert(0, str(ROOT / "python" / "src"))
    from agents_tmux import config

    patterns = json.dumps({k: list(v) for k, v in config.load(None, builtin_only=True).agents["claude"].screen.items()})
    repo = sandbox.dir / "resident"
    repo.mkdir(exist_ok=True)
    server = sandbox.server(repo)
    screen = sandbox.dir / f"screen-{state}.txt"
    screen.write_text(CLAUDE_SCREENS[state])
    tmux_env = f"{server.socket_path},{server.pid},0"
    watch_py = ROOT / "python" / "src" / "agents_tmux" / "watch.py"
    run_dir = Path(sandbox.env["XDG_RUNTIME_DIR"])
    env = {**sandbox.env, "TMUX": tmux_env, "AGENTS_TMUX_SCREEN": patterns, "AGENTS_TMUX_HOOKS": hooks}
    procs: list[subprocess.Popen[bytes]] = []
    for i in range(count):
        pane = server.run("new-window", "-d", "-P", "-F", "#{pane_id}", "--", "sh", "-c", f'cat "{screen}"; exec sleep 1000000').strip()
        # Marked watched either way: a watcher of either kind writes a state only to a marked pane.
        server.run("set-option", "-p", "-t", pane, "@agent_name", f"agent{i}", ";",
                   "set-option", "-p", "-t", pane, "@agent_state", state, ";",
                   "set-option", "-p", "-t", pane, "@agent_screen", patterns, ";", "set-option", "-p", "-t", pane, "@agent_watch", hooks)
        if not shared:
            fifo = run_dir / f"bench-wake.{server.pid}.{i}"
            os.mkfifo(fifo, 0o600)
            procs.append(subprocess.Popen([str(VENV_PYTHON), "-I", "-S", str(watch_py), pane, str(fifo)], env=env,
                                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    if shared:
        procs.append(subprocess.Popen([str(VENV_PYTHON), "-I", "-S", str(watch_py), "--server", str(run_dir)], env=env,
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(6.0)  # start-up and the first reads are not resident cost (a loaded machine needs a while)
    before = [process_cost(p.pid) for p in procs]
    server_before = server.cpu()
    time.sleep(seconds)
    after = [process_cost(p.pid) for p in procs]
    server_after = server.cpu()
    alive = sum(1 for p in procs if p.poll() is None)
    changed = sum(1 for pane in server.run("list-panes", "-a", "-F", "#{@agent_state}").split() if pane not in (state, ""))
    server.kill()
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return {
        "processes": alive,
        "cpu": sum(a[0] - b[0] for a, b in zip(after, before)) / seconds,
        "rss": sum(a[1] for a in after),
        "pss": sum(a[2] for a in after),
        "server_cpu": (server_after - server_before) / seconds,
        "changed": changed,
    }


def bench_resident(sandbox: Sandbox, report: Report, quick: bool) -> None:
    """Memory and CPU of the plugin's own resident processes (the screen watchers) at 10 and 50 agents."""
    seconds = 4.0 if quick else 10.0
    note(f"resident cost: screen watchers at 10 and 50 agents, {seconds:.0f} s each")
    rows = []
    goal_met = True
    cases = [(10, "idle", "claude"), (10, "working", "claude"), (50, "idle", "claude"), (50, "working", "claude"),
             (50, "working", "none")]
    for count, state, hooks in cases:
        ours = resident_round(sandbox, count, state, hooks, True, seconds)
        base = resident_round(sandbox, count, state, hooks, False, seconds)
        kind = "Claude (hooks)" if hooks != "none" else "no hooks (screen only)"
        rows.append([
            f"{count} {state}, {kind}",
            f"{ours['processes']:.0f} / {base['processes']:.0f}",
            f"{ours['rss'] / 1e6:.1f} MB / {base['rss'] / 1e6:.1f} MB",
            f"{ours['pss'] / 1e6:.1f} MB / {base['pss'] / 1e6:.1f} MB",
            f"{ours['cpu'] * 100:.2f} % / {base['cpu'] * 100:.2f} %",
            f"{ours['server_cpu'] * 100:.2f} % / {base['server_cpu'] * 100:.2f} %",
        ])
        if ours["changed"] or base["changed"]:
            report.findings.append(f"resident: a watcher changed a steady agent's state ({count} {state} {hooks})")
        if count == 50 and (ours["rss"] >= 20e6 or ours["cpu"] >= 0.01):
            goal_met = False
    report.table(
        "7. Resident cost: the screen watcher(s), one per tmux server (ours) / one per agent (before)",
        ["Agents", "Processes", "RSS total", "PSS total", "CPU (share of one core, incl. its tmux calls)", "tmux server CPU"],
        rows,
        f"Each agent is a window whose screen stays a Claude Code {'/'.join(CLAUDE_SCREENS)} screen, in that state, with "
        "the built-in Claude patterns; the watchers are started as run-agent starts them, measured over "
        f"{seconds:.0f} s after 6 s of start-up (CPU: /proc/<pid>/stat user+system, with the tmux clients they "
        "ran; memory: /proc/<pid>/smaps_rollup). Goal at 50 agents: under 20 MB and under 1 % of a core in total: "
        + ("met." if goal_met else "NOT met."),
    )
    if not goal_met:
        report.findings.append("resident: the goal (under 20 MB, under 1 % of a core at 50 agents) is not met")


# ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description="Benchmarks of agents.tmux against same-run baselines.")
    parser.add_argument("--quick", action="store_true", help="fewer runs (about a minute); the numbers are rougher")
    parser.add_argument("--only", metavar="LIST", help=f"comma-separated sections: {','.join(SECTIONS)}")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, strace output)")
    args = parser.parse_args(argv)
    wanted = args.only.split(",") if args.only else list(SECTIONS)
    unknown = set(wanted) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    for tool in ("tmux", "git"):
        if shutil.which(tool) is None:
            print(f"scripts/bench: {tool} is not installed", file=sys.stderr)
            return 1
    if not VENV_PYTHON.exists():
        print("scripts/bench: run scripts/agents --prepare first", file=sys.stderr)
        return 1
    strace = have_strace()
    if not strace:
        note("strace is not available: process counts are left out (apt-get install strace)")
    report = Report()
    print(machine_header(args.quick) + "\n", flush=True)
    sandbox = Sandbox(keep=args.keep)
    started = time.monotonic()
    try:
        if "status" in wanted:
            bench_status(sandbox, report, args.quick, strace)
        if "hook" in wanted:
            bench_hook(sandbox, report, args.quick)
        if "spawn" in wanted:
            bench_spawn(sandbox, report, args.quick, strace)
        if "key" in wanted:
            bench_key_spawn(sandbox, report, args.quick)
        if "propagation" in wanted:
            bench_propagation(sandbox, report, args.quick)
        if "scale" in wanted:
            bench_scale(sandbox, report, args.quick)
        if "usage" in wanted:
            bench_usage(sandbox, report, args.quick)
        if "resident" in wanted:
            bench_resident(sandbox, report, args.quick)
        if "claude" in wanted:
            sys.path.insert(0, str(Path(__file__).parent))
            from claude_latency import bench_claude  # the real Claude Code (tests/bench/claude_latency.py)

            bench_claude(sandbox, report, args.quick)
        if "programs" in wanted:
            sys.path.insert(0, str(Path(__file__).parent))
            from program_latency import bench_programs  # the real Codex, Gemini CLI, Aider (tests/bench/program_latency.py)

            bench_programs(sandbox, report, args.quick)
    finally:
        sandbox.close()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"Total {time.monotonic() - started:.0f} s; load average {load} at the end.")
    return 1 if report.findings else 0


if __name__ == "__main__":
    sys.exit(main())
