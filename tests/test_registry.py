"""The per-repository registry: atomic, safe under concurrent writers, never overwritten when damaged."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, Repo, Tmux, read_standin_log, wait_for


def registry_file(env: dict[str, str]) -> Path:
    found = list((Path(env["XDG_STATE_HOME"]) / "agents-tmux" / "repos").glob("*/registry.json"))
    assert len(found) == 1, found
    return found[0]


def registry_path_for(env: dict[str, str], repo: Path) -> Path:
    code = "import sys; from pathlib import Path; from agents_tmux import registry; print(registry.registry_path(Path(sys.argv[1])))"
    out = subprocess.run([sys.executable, "-c", code, str(repo)], env=env, capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


@pytest.mark.parametrize("damage", ['{"version": 1, "agents": {"half": {"name": "ha', "", "[1, 2]", '{"agents": 5}'])
def test_damaged_registry_is_reported_and_left_alone(tmux: Tmux, repo: Repo, standin_agent: Path, damage: str) -> None:
    path = registry_path_for(tmux.env, repo.path)
    path.parent.mkdir(parents=True)
    path.write_text(damage)
    for command in (["spawn", "blocked by registry", "-d"], ["restore"], ["rm", "whoever"], ["prune"]):
        proc = tmux.agents(*command, check=False)
        assert proc.returncode == 1, (command, proc.stdout)
        assert proc.stderr.count("\n") == 1, proc.stderr
        assert "registry" in proc.stderr and str(path) in proc.stderr, proc.stderr
        assert path.read_text() == damage
    # Nothing half made by the refused spawn.
    assert repo.branches() == ["main"] and repo.worktrees() == [repo.path]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".registry.json.")]


WRITER = """
import sys
from pathlib import Path
from agents_tmux import registry
repo, who, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
for i in range(count):
    registry.record(repo, {"name": f"{who}-{i}", "status": "active"})
    registry.update(repo, f"{who}-{i}", touched=who)
"""


def test_ten_concurrent_writers_lose_no_entry(test_env: dict[str, str], repo: Repo) -> None:
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(repo.path), f"w{n}", "15"], env=test_env, stderr=subprocess.PIPE)
        for n in range(10)
    ]
    for proc in writers:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    data = json.loads(registry_file(test_env).read_text())
    names = set(data["agents"])
    assert names == {f"w{n}-{i}" for n in range(10) for i in range(15)}
    assert all(entry["touched"] == entry["name"].split("-")[0] for entry in data["agents"].values())
    assert data["repo"] == str(repo.path)


def test_known_repos_lists_every_registry(test_env: dict[str, str], repo: Repo, tmp_path: Path) -> None:
    other = tmp_path / "other"
    code = (
        "import sys; from pathlib import Path; from agents_tmux import registry\n"
        "for r in sys.argv[1:]: registry.record(Path(r), {'name': 'x'})\n"
        "print('\\n'.join(map(str, registry.known_repos())))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(repo.path), str(other)], env=test_env, capture_output=True, text=True, check=True)
    assert sorted(out.stdout.split()) == sorted([str(repo.path), str(other)])


def test_hook_records_a_new_session_id_after_clear(tmux: Tmux, repo: Repo, standin_agent: Path) -> None:
    name = tmux.agents("spawn", "clear me", "-d").stdout.strip()
    entry = lambda: json.loads(registry_file(tmux.env).read_text())["agents"][name]
    first = entry()["session_id"]
    pane = tmux.run("list-panes", "-a", "-F", "#{pane_id}\t#{@agent_name}").split("\n")
    pane = next(line.split("\t")[0] for line in pane if line.endswith("\t" + name))
    # The first SessionStart records the transcript (the id is the one chosen at spawn).
    wait_for(lambda: entry().get("transcript", "").endswith(f"{first}.jsonl"), timeout=20, message="the transcript recorded")
    wait_for(lambda: tmux.option(pane, "@agent_state") == "working", timeout=20, message="working")
    tmux.run("send-keys", "-t", pane, "/done", "Enter")
    wait_for(lambda: tmux.option(pane, "@agent_state") == "idle", timeout=20, message="idle")
    tmux.run("send-keys", "-t", pane, "/clear", "Enter")
    wait_for(lambda: entry()["session_id"] != first, timeout=20, message="the new session id in the registry")
    new = entry()["session_id"]
    assert new == tmux.option(pane, "@agent_session_id")
    starts = [e for e in read_standin_log(tmux.env) if e["event"] == "SessionStart"]
    assert starts[-1]["payload"]["session_id"] == new and starts[-1]["payload"]["source"] == "clear"
    assert entry()["transcript"].endswith(f"{new}.jsonl")


def test_hook_imports_stay_in_the_standard_library(test_env: dict[str, str], repo: Repo) -> None:
    # The SessionStart step imports the registry: it must work with -I -S
    # (no site-packages) and pull in nothing outside the standard library.
    package = ROOT / "python" / "src"
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from agents_tmux import registry; "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('agents_tmux') or m in ('libtmux', 'tomllib'))))"
    )
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code, str(package)], env=test_env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["agents_tmux", "agents_tmux.atomic", "agents_tmux.errors", "agents_tmux.paths", "agents_tmux.registry"]
    assert time.monotonic() - started < 5
