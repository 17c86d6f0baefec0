"""Command-line arguments of the scripts: bad values named as the user wrote them."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from agents.jobs import arguments

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


@pytest.mark.parametrize("text", ["", " ", "\t"])
def test_an_empty_output_folder_is_refused(text: str) -> None:
    """An empty --output would write into the current folder: refused, '.' is not."""
    with pytest.raises(argparse.ArgumentTypeError, match="names no folder"):
        arguments.output_folder(text)
    assert arguments.output_folder(".") == Path(".")


@pytest.mark.parametrize(
    ("text", "value"), [("600", 600.0), ("0.5", 0.5), ("none", None), ("None", None)]
)
def test_a_time_limit_is_positive_seconds_or_none(text: str, value: object) -> None:
    """'none' turns the limit off; any other text is a positive finite number."""
    assert arguments.seconds_or_none(text) == value


@pytest.mark.parametrize("text", ["0", "-1", "inf", "nan", "soon", ""])
def test_a_time_limit_that_is_no_limit_is_refused(text: str) -> None:
    """Zero, negative, infinite, NaN and words are usage errors naming the text."""
    with pytest.raises(argparse.ArgumentTypeError, match=repr(text)):
        arguments.seconds_or_none(text)


@pytest.mark.parametrize(
    ("job", "args", "message"),
    [
        (
            "offline",
            ["--requests-per-month", str(10**12)],
            "--requests-per-month 1,000,000,000,000 and --risk-requests 200,000",
        ),
        (
            "lesson",
            ["--requests-per-month", str(10**12)],
            r"--requests-per-month 1,000,000,000,000 \(12,000,000,000,000 requests",
        ),
    ],
)
def test_huge_requests_are_refused_with_the_estimate_before_any_work(
    job: str,
    args: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Exit 2 naming the estimate and the memory available, not a MemoryError."""
    from agents.jobs import lesson, offline

    monkeypatch.chdir(tmp_path)
    main = {"offline": offline.main, "lesson": lesson.main}[job]
    with pytest.raises(SystemExit) as stopped:
        main([*args, "--output", str(tmp_path / "out")] if job == "offline" else args)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert re.search(r"needs about [\d,.]+ PiB of memory, more than the", err)
    assert list(tmp_path.iterdir()) == []
