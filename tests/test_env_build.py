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
# A Python whose `-m venv DIR` fails (VENV_RC) or makes DIR/bin/python, whose pip fails with PIP_RC.
if [ "$1" = -m ] && [ "$2" = venv ]; then
    [ "${{VENV_RC:-0}}" = 0 ] || exit "$VENV_RC"
    mkdir -p "$3/bin" && printf 'made by the build\\n' > "$3/marker"
    cat > "$3/bin/python" <<'EOF'
#!/bin/sh
if [ "$1" = -m ] && [ "$2" = pip ]; then exit "${{PIP_RC:-0}}"; fi
exec {sys.executable} "$@"
EOF
    chmod +x "$3/bin/python"
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
