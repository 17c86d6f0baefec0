"""The ``access-review`` console command: one subcommand per job."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agents.cli import JOBS, main


@pytest.mark.parametrize("command", list(JOBS))
def test_every_subcommand_has_help_that_names_it(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`access-review COMMAND --help` exits 0 with a usage line naming the command."""
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert f"usage: access-review {command}" in capsys.readouterr().out


def test_the_top_level_help_lists_every_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`access-review --help` lists each subcommand with its summary."""
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(f"  {name}" in out for name in JOBS)


def test_an_unknown_command_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A typo exits 2 and lists the commands."""
    with pytest.raises(SystemExit) as exit_:
        main(["lessons"])
    assert exit_.value.code == 2
    assert "invalid choice: 'lessons'" in capsys.readouterr().err


@pytest.mark.processes
def test_python_dash_m_runs_the_same_jobs(tmp_path: Path) -> None:
    """`python -m agents lesson --lab value_iteration` prints the lab."""
    result = subprocess.run(
        [sys.executable, "-m", "agents", "lesson", "--lab", "value_iteration"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "sweep 2       59.000" in result.stdout


@pytest.mark.processes
def test_a_missing_extra_is_named_before_the_job_starts(tmp_path: Path) -> None:
    """Without stable-baselines3, sb3-crosscheck exits 2 naming the sb3 extra."""
    code = (
        "import sys; sys.modules['stable_baselines3'] = None\n"
        "from agents.cli import main\n"
        "sys.exit(main(['sb3-crosscheck', '--seeds', '1']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "access-review-env[sb3]" in result.stderr
