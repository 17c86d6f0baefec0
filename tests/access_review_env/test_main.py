"""``python -m access_review_env``: the registered envs, without the agents package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import pytest

from access_review_env import ENV_IDS
from tests.helpers import ROOT

pytestmark = [pytest.mark.env, pytest.mark.processes]


def test_python_dash_m_lists_every_id_with_its_spaces_and_never_imports_agents(
    tmp_path: Path,
) -> None:
    """Each registered id with its spaces, then the jobs' command; no ``agents``."""
    code = (
        "import runpy, sys\n"
        "sys.argv = ['access_review_env']\n"
        "try:\n"
        "    runpy.run_module('access_review_env', run_name='__main__')\n"
        "except SystemExit as exit_:\n"
        "    assert exit_.code == 0, exit_.code\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'agents']\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(ENV_IDS) + 1
    for env_id, line in zip(ENV_IDS, lines, strict=False):
        env = gym.make(env_id)
        assert line.startswith(f"{env_id}: "), line
        assert f"observation space {env.observation_space}" in line
        assert f"action space {env.action_space}" in line
    assert "`access-review COMMAND`" in lines[-1]
    assert "`python -m agents COMMAND`" in lines[-1]
