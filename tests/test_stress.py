"""A randomised stress test: 4 workers, 200 commands, one repository; nothing is lost (issue 10).

Each worker spawns agents, writes random work into their worktrees (new,
changed, staged files), commits some of it, and runs spawn / send / rm /
rm --force / merge / prune / restore and pane crashes, all at once with the
others. Every command either works or refuses in one clear line. At the end:

- every commit a worker made is reachable from a branch;
- every byte of work a worker wrote (and did not overwrite itself) is in a
  commit reachable from a branch, or still in a live worktree;
- every agent on record as active is listed, every listed agent is on
  record, no record is left ``starting``.

The figure (commands run, bytes checked, bytes lost) is printed, for the README.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from conftest import AGENTS, Repo, Tmux, use_quiet_agents

WORKERS = 4
COMMANDS = int(os.environ.get("STRESS_COMMANDS", "200"))
SEED = 20261201


def blob_id(data: bytes) -> str:
    """The git blob id of ``data`` (what `git hash-object` prints)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Agent:
    name: str
    worktree: Path
    #: Work on disk not yet known to be in a commit: path -> bytes.
    pending: dict[str, bytes] = field(default_factory=dict)
    crashed: bool = False
    #: Retired by another worker's prune (its pane had crashed and nothing was left to save).
    gone: bool = False


@dataclass
class Ledger:
    """What every worker did, shared (under a lock) for the final check."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    commands: int = 0
    by_command: dict[str, int] = field(default_factory=dict)
    refusals: int = 0
    #: Bytes that must be reachable from a branch: blob id -> size.
    must_be_committed: dict[str, int] = field(default_factory=dict)
    commits: set[str] = field(default_factory=set)
    #: Agents a worker still holds (live or crashed), for the final check.
    held: list[Agent] = field(default_factory=list)
    removed: set[str] = field(default_factory=set)
    bad: list[str] = field(default_factory=list)
    #: Why commands refused (the start of each one-line message), for the report.
    reasons: dict[str, int] = field(default_factory=dict)
    #: Seconds spent per command (waiting for the lock included).
    seconds: dict[str, float] = field(default_factory=dict)


def test_randomised_commands_from_four_workers_lose_nothing(tmux: Tmux, repo: Repo) -> None:
    use_quiet_agents(tmux, repo, cap=8)
    tmux.run("set-option", "-g", "@agents-lock-timeout", "120")
    ledger = Ledger()
    started = time.monotonic()

    def agents(*args: str) -> subprocess.CompletedProcess[str]:
        began = time.monotonic()
        proc = subprocess.run([str(AGENTS), "-L", tmux.socket, *args], env=tmux.env, cwd=repo.path,
                              capture_output=True, text=True, check=False, timeout=180)
        lines = proc.stderr.strip().splitlines()
        with ledger.lock:
            ledger.seconds[args[0]] = ledger.seconds.get(args[0], 0.0) + time.monotonic() - began
            ledger.commands += 1
            ledger.by_command[args[0]] = ledger.by_command.get(args[0], 0) + 1
            if proc.returncode != 0:
                ledger.refusals += 1
                last = lines[-1] if lines else ""
                reason = " ".join(last.split()[:6]) if args[0] not in ("restore", "merge") else last[:200]
                ledger.reasons[reason] = ledger.reasons.get(reason, 0) + 1
                if proc.returncode != 1 or not last.startswith(f"agents {args[0]}: ") or "unexpected" in last \
                        or "Traceback" in proc.stderr:
                    ledger.bad.append(f"{' '.join(args)} -> {proc.returncode}: {proc.stderr.strip()}")
        return proc

    def git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=cwd, env=repo.env, capture_output=True, text=True, check=False)

    def worker(index: int, budget: int) -> None:
        rng = random.Random(SEED + index)
        mine: list[Agent] = []
        used = 0
        serial = 0
        while used < budget:
            live = [a for a in mine if not a.crashed and not a.gone]
            present = [a for a in mine if not a.gone]
            op = rng.choices(
                ["spawn", "write", "commit", "send", "rm", "rm-force", "merge", "prune", "restore", "crash"],
                weights=[5 if len(present) < 3 else 1, 8, 4, 2, 2, 2, 2, 1, 1, 1],
            )[0]
            if op == "spawn":
                serial += 1
                base = ["--base", f"agent/{rng.choice(live).name}"] if live and rng.random() < 0.3 else []
                proc = agents("spawn", f"w{index} task {serial}", "-d", "--target", "window", *base)
                used += 1
                if proc.returncode == 0:
                    name = proc.stdout.strip()
                    mine.append(Agent(name, repo.path.parent / "project.agents" / name))
            elif op == "write" and live:
                agent = rng.choice(live)
                rel = rng.choice(["app.py", "README.md", f"{agent.name}-a.txt", f"{agent.name}-b.txt", f"deep/{index}/{serial}.bin"])
                data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
                path = agent.worktree / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                if rng.random() < 0.3:
                    git(agent.worktree, "add", "--", rel)
                agent.pending[rel] = data
            elif op == "commit" and live:
                agent = rng.choice(live)
                git(agent.worktree, "add", "-A")
                if git(agent.worktree, "commit", "-q", "-m", f"work of {agent.name}").returncode == 0:
                    sha = git(agent.worktree, "rev-parse", "HEAD").stdout.strip()
                    with ledger.lock:
                        ledger.commits.add(sha)
                        ledger.must_be_committed.update({blob_id(d): len(d) for d in agent.pending.values()})
                    agent.pending.clear()
            elif op == "send" and live:
                agents("send", rng.choice(live).name, f"hello {rng.random()}")
                used += 1
            elif op in ("rm", "rm-force") and present:
                agent = rng.choice(present)
                proc = agents("rm", agent.name, *(["--force"] if op == "rm-force" else []))
                used += 1
                if "was removed already" in proc.stderr:
                    agent.gone = True
                if proc.returncode == 0:
                    mine.remove(agent)
                    with ledger.lock:
                        ledger.removed.add(agent.name)
                        ledger.must_be_committed.update({blob_id(d): len(d) for d in agent.pending.values()})
            elif op == "merge" and live:
                agents("merge", rng.choice(live).name)
                used += 1
            elif op == "prune":
                agents("prune", "--yes")
                used += 1
            elif op == "restore":
                proc = agents("restore")
                used += 1
                for agent in mine:
                    if agent.crashed and f"restored {agent.name}:" in proc.stdout:
                        agent.crashed = False
            elif op == "crash" and live:
                agent = rng.choice(live)
                # The agent's pane dies (as in a tmux crash): restore brings it back, prune may tidy it.
                tmux.run("kill-pane", "-t", _pane(tmux, agent.name), check=False)
                agent.crashed = True
        with ledger.lock:
            ledger.held.extend(mine)

    with ThreadPoolExecutor(WORKERS) as pool:
        for future in [pool.submit(worker, i, COMMANDS // WORKERS) for i in range(WORKERS)]:
            future.result()
    elapsed = time.monotonic() - started

    assert not ledger.bad, "\n".join(ledger.bad)
    # Every commit a worker made is reachable from a branch.
    reachable_commits = set(repo.git("rev-list", "--branches").split())
    assert ledger.commits <= reachable_commits, ledger.commits - reachable_commits
    # Every byte: in a commit of some branch, or still on disk in a worktree that exists.
    reachable = {line.split()[0] for line in repo.git("rev-list", "--objects", "--branches").splitlines()}
    checked = dict(ledger.must_be_committed)
    on_disk: dict[str, int] = {}
    for agent in ledger.held:
        for rel, data in agent.pending.items():
            checked[blob_id(data)] = len(data)
            path = agent.worktree / rel
            if path.is_file() and path.read_bytes() == data:
                on_disk[blob_id(data)] = len(data)
    lost = {blob: size for blob, size in checked.items() if blob not in reachable and blob not in on_disk}
    # Every live agent listed, every listed agent on record, nothing left half-started:
    # after one restore (crashed panes come back, past the cap), the active records are exactly the listed agents.
    subprocess.run([str(AGENTS), "-L", tmux.socket, "restore", "--quiet", "--force"], env=tmux.env, cwd=repo.path, capture_output=True,
                   check=False, timeout=120)
    records = {}
    for path in (Path(tmux.env["XDG_STATE_HOME"]) / "agents-tmux" / "repos").glob("*/registry.json"):
        records.update(json.loads(path.read_text())["agents"])
    listed = {a["name"] for a in json.loads(subprocess.run(
        [str(AGENTS), "-L", tmux.socket, "list", "--json"], env=tmux.env, cwd=repo.path, capture_output=True, text=True,
        check=True).stdout)}
    active = {name for name, entry in records.items() if entry["status"] == "active"}
    figure = (f"stress: {ledger.commands} commands ({', '.join(f'{k} {v}' for k, v in sorted(ledger.by_command.items()))}; "
              f"{ledger.refusals} refused in one line), {len(ledger.commits)} commits, {sum(checked.values())} bytes checked, "
              f"{sum(lost.values())} bytes lost, {elapsed:.0f} s")
    print(figure)
    print("mean seconds:", {k: round(v / ledger.by_command[k], 2) for k, v in ledger.seconds.items()})
    print("refusals:", sorted(ledger.reasons.items(), key=lambda item: -item[1])[:12])
    assert not lost, (figure, lost)
    assert not [n for n, e in records.items() if e["status"] == "starting"], records
    assert listed == active, (listed, active)
    held = {a.name for a in ledger.held}
    assert held - ledger.removed <= listed | {n for n, e in records.items() if e.get("pruned")}, (held, listed)


def _pane(tmux: Tmux, name: str) -> str:
    for line in tmux.run("list-panes", "-a", "-F", "#{pane_id}\t#{@agent_name}").splitlines():
        pane, _, agent = line.partition("\t")
        if agent == name:
            return pane
    return "%999999"
