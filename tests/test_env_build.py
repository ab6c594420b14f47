"""scripts/agents builds its Python environment beside the one in use and swaps it in whole.

A failed build must leave the environment in use exactly as it was (issue 10
item 16: it used to `rm -rf .venv`, whoever had made it). The Python that
builds is a stand-in (AGENTS_TMUX_PYTHON), so no package is downloaded: its
``-m venv`` makes an environment whose ``pip install`` fails or succeeds on
demand; everything else runs the real Python.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

FAKE_PYTHON = f"""#!/bin/sh
# A Python whose `-m venv DIR` fails (VENV_RC) or makes a real environment (no pip, so
# nothing is downloaded) whose `-m pip` is a stand-in that exits with PIP_RC.
if [ "$1" = -m ] && [ "$2" = venv ]; then
    [ "${{VENV_RC:-0}}" = 0 ] || exit "$VENV_RC"
    {sys.executable} -m venv --without-pip "$3" || exit 1
    printf 'made by the build\\n' > "$3/marker"
    site="$("$3/bin/python" -I -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" || exit 1
    mkdir -p "$site/pip" && : > "$site/pip/__init__.py"
    printf 'import os, sys\\nsys.exit(int(os.environ.get("PIP_RC", "0")))\\n' > "$site/pip/__main__.py"
    printf 'LAZY = True\\n' > "$site/probe.py"  # for a process to import late
    exit 0
fi
exec {sys.executable} "$@"
"""


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    """A copy of the plugin's scripts and package metadata, with a user's environment in .venv."""
    root = tmp_path / "plugin"
    shutil.copytree(ROOT / "scripts", root / "scripts")
    (root / "python").mkdir(parents=True)
    shutil.copy2(ROOT / "python" / "pyproject.toml", root / "python" / "pyproject.toml")
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    # An environment this call did not make (no working bin/python: it is not current).
    (root / ".venv" / "lib").mkdir(parents=True)
    (root / ".venv" / "lib" / "precious.txt").write_text("not yours to delete\n")
    return root


def prepare(plugin: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TMUX", "AGENTS_TMUX"))}
    environ.update(AGENTS_TMUX_PYTHON=str(plugin.parent / "fake-python"), **env)
    return subprocess.run([str(plugin / "scripts" / "agents"), "--prepare"], env=environ, capture_output=True, text=True,
                          timeout=60, check=False)


def leftovers(plugin: Path) -> list[str]:
    return sorted(p.name for p in plugin.iterdir() if p.name.startswith(".venv-") and p.is_dir())


@pytest.mark.parametrize("failing", [{"VENV_RC": "1"}, {"PIP_RC": "1"}])
def test_a_failed_build_leaves_the_environment_in_use_as_it_was(plugin: Path, failing: dict[str, str]) -> None:
    proc = prepare(plugin, **failing)
    assert proc.returncode == 1, proc.stderr
    assert (plugin / ".venv" / "lib" / "precious.txt").read_text() == "not yours to delete\n"
    assert not (plugin / ".venv").is_symlink()
    assert leftovers(plugin) == []  # what the failed call made is gone, and only that


def test_a_successful_build_is_swapped_in_and_the_old_one_kept(plugin: Path) -> None:
    proc = prepare(plugin)
    assert proc.returncode == 0, proc.stderr
    venv = plugin / ".venv"
    assert venv.is_symlink() and (venv / "marker").is_file() and (venv / ".agents-tmux-stamp").is_file()
    (previous,) = [p for p in plugin.iterdir() if p.name.startswith(".venv-previous-")]
    assert (previous / "lib" / "precious.txt").read_text() == "not yours to delete\n"
    first = os.readlink(venv)
    # Current now: nothing is rebuilt.
    assert prepare(plugin).returncode == 0 and os.readlink(venv) == first
    # A later rebuild that fails keeps the working one in place.
    os.utime(plugin / "python" / "pyproject.toml")
    (venv / ".agents-tmux-stamp").touch()
    os.utime(venv / ".agents-tmux-stamp", (0, 0))
    assert prepare(plugin, PIP_RC="1").returncode == 1
    assert os.readlink(venv) == first and (venv / "marker").is_file()


def make_stale(plugin: Path) -> None:
    """Make the environment in use out of date (python/pyproject.toml newer than its stamp): the next call rebuilds."""
    os.utime(plugin / ".venv" / ".agents-tmux-stamp", (0, 0))
    os.utime(plugin / "python" / "pyproject.toml")


def test_rebuilds_delete_the_environments_before_the_previous_one(plugin: Path, tmp_path: Path) -> None:
    # What a build killed midway left (a Python environment), and a folder of the user's that only looks like one of ours.
    (plugin / ".venv-Killed").mkdir()
    (plugin / ".venv-Killed" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (plugin / ".venv-mine01").mkdir()
    (plugin / ".venv-mine01" / "notes.txt").write_text("mine\n")
    assert prepare(plugin).returncode == 0
    first = os.readlink(plugin / ".venv")
    assert leftovers(plugin) == sorted([first, ".venv-mine01", *(p.name for p in plugin.glob(".venv-previous-*"))])
    assert (plugin / ".venv-mine01" / "notes.txt").read_text() == "mine\n"

    # A process started from the first environment, as ours are (through .venv), that imports only later.
    env = {"PATH": os.environ["PATH"], "LC_ALL": "C.UTF-8"}
    late = subprocess.Popen([str(plugin / ".venv" / "bin" / "python"), "-c",
                             "import sys; sys.stdin.readline(); import probe; print(probe.__file__)"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        make_stale(plugin)
        assert prepare(plugin).returncode == 0
        second = os.readlink(plugin / ".venv")
        assert second != first and (plugin / first).is_dir()  # the previous one stays
        make_stale(plugin)
        proc = prepare(plugin)
        assert proc.returncode == 0, proc.stderr
        third = os.readlink(plugin / ".venv")
        assert not (plugin / first).exists()
        assert {second, third, ".venv-mine01"} <= set(leftovers(plugin))
        assert len(leftovers(plugin)) == 4  # and the .venv-previous-* moved aside: nothing else
        assert (plugin / ".venv" / "marker").is_file()
        out, _ = late.communicate("go\n", timeout=30)
    finally:
        late.kill()
        late.wait()
    # Its folder is gone, yet it imports, from the environment .venv is now.
    assert late.returncode == 0 and out.strip() == str(next((plugin / ".venv" / "lib").glob("python*")) / "site-packages" / "probe.py")


def test_without_flock_no_environment_is_deleted(plugin: Path, tmp_path: Path) -> None:
    # No flock (macOS): builds are not serialised, so another may be filling any of the folders.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for folder in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            if name != "flock" and not os.path.lexists(bin_dir / name):
                (bin_dir / name).symlink_to(Path(folder) / name)
    built = []
    for _ in range(3):
        proc = prepare(plugin, PATH=str(bin_dir))
        assert proc.returncode == 0, proc.stderr
        built.append(os.readlink(plugin / ".venv"))
        make_stale(plugin)
    assert set(built) <= set(leftovers(plugin)) and len(set(built)) == 3
