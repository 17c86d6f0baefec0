"""Command-line arguments of the scripts: bad values named as the user wrote them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_script(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``scripts/<script>`` in a fresh interpreter on this checkout's code."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.processes
@pytest.mark.parametrize("script", ["main.py", "lesson.py"])
@pytest.mark.parametrize(
    ("seed", "reason"), [("-1", "too small"), ("1.5", "not an integer")]
)
def test_a_bad_seed_is_a_usage_error_naming_it(
    script: str, seed: str, reason: str, tmp_path: Path
) -> None:
    """--seed -1 exits with argparse's code 2 and names -1, not a NumPy traceback."""
    result = run_script(script, "--seed", seed, cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"argument --seed: '{seed}' is {reason}" in result.stderr
    assert "allowed: integers >= 0" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []
