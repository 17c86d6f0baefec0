"""The offline job (agents.jobs.offline, scripts/offline.py) on small budgets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import png_size

ROOT = Path(__file__).resolve().parents[3]
OFFLINE = "needs the 'offline' extra: pip install 'access-review-env[offline]'"
PLOTS = "needs the 'plots' extra: pip install 'access-review-env[plots]'"
MINARI = "needs the 'minari' extra: pip install 'access-review-env[minari]'"
SMALL = [
    "--requests-per-month",
    "2000",
    "--risk-requests",
    "10000",
    "--repeats",
    "2",
    "--max-budget",
    "300",
]


def run_job(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that imports this checkout."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.mark.slow
@pytest.mark.processes
def test_the_script_prints_its_table_and_writes_everything(tmp_path: Path) -> None:
    """One table of five estimators per task; JSON, both logs, three figures."""
    pytest.importorskip("pyarrow", reason=OFFLINE)
    pytest.importorskip("matplotlib", reason=PLOTS)
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "offline.py"), *SMALL],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    table = [line for line in lines if line.startswith("| ")]
    assert table[0].startswith("| task | estimator |")
    cells = [[cell.strip() for cell in row.split("|")[1:3]] for row in table[1:]]
    estimators = ["is", "wis", "pdis", "dr", "model"]
    assert cells == [["AccessReview-v0", name] for name in estimators] + [
        ["AccessReviewRisk-v0", name] for name in estimators
    ]
    assert any(line.startswith("time split: held-out DR") for line in lines)
    assert any("leakage: random split" in line for line in lines)
    output = tmp_path / "runs" / "offline"
    record = json.loads((output / "offline.json").read_text())
    assert len(record["estimates"]) == 10
    assert set(record["logs"]) == {"AccessReview-v0", "AccessReviewRisk-v0"}
    assert record["versions"]["access_review_env"]
    assert set(record["crossover"]) == {"p = 0.25", "p = 0.04"}
    for name in ("drift", "ope", "crossover"):
        assert png_size(output / f"{name}.png") == (800, 450)
    for folder in ("log", "log_risk"):
        names = sorted(p.name for p in (output / folder).iterdir())
        assert names == ["decisions.parquet", "outcomes.parquet"]
    assert not list(output.glob(".*"))
    assert "crossover: p = 0.04" in result.stderr  # progress lines


@pytest.mark.processes
def test_without_pyarrow_the_job_stops_at_once(tmp_path: Path) -> None:
    """Exit 2 with one line naming the offline extra; nothing is written."""
    result = run_job(
        "import sys; sys.modules['pyarrow'] = None\n"
        "from agents.jobs.offline import main\n"
        "sys.exit(main(['--output', 'out']))",
        tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "the offline job needs pyarrow: pip install 'access-review-env[offline]'"
    ]
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.processes
def test_without_matplotlib_the_job_writes_its_table_and_record(
    tmp_path: Path,
) -> None:
    """With matplotlib unimportable the job says so in one line and loses nothing."""
    pytest.importorskip("pyarrow", reason=OFFLINE)
    result = run_job(
        "import sys; sys.modules['matplotlib'] = None\n"
        "from agents.jobs.offline import main\n"
        f"sys.exit(main({[*SMALL, '--no-progress', '--output', 'out']!r}))",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (
        "matplotlib is not installed: the plots were skipped "
        "(pip install 'access-review-env[plots]')"
    ) in result.stdout
    assert "| AccessReviewRisk-v0 | model |" in result.stdout
    assert json.loads((tmp_path / "out" / "offline.json").read_text())["estimates"]
    assert not list((tmp_path / "out").glob("*.png"))
    assert result.stderr == ""


def test_an_output_that_is_a_file_is_refused_before_any_work(tmp_path: Path) -> None:
    """--output naming a file: exit 2 at once, the file untouched."""
    pytest.importorskip("pyarrow", reason=OFFLINE)
    from agents.jobs.offline import main

    blocker = tmp_path / "taken"
    blocker.write_text("mine")
    with pytest.raises(SystemExit) as stop:
        main(["--output", str(blocker)])
    assert stop.value.code == 2
    assert blocker.read_text() == "mine"


@pytest.mark.slow
def test_minari_exports_each_logs_earliest_episodes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--minari: both logs' first episodes, in the mode asked for, with their masks."""
    pytest.importorskip("pyarrow", reason=OFFLINE)
    minari = pytest.importorskip("minari", reason=MINARI)
    from agents.jobs.offline import MINARI_DATASETS, main

    folder = tmp_path / "datasets"
    options = ["--minari", str(folder), "--minari-episodes", "50"]
    options += ["--minari-observation", "features", "--no-progress"]
    assert main([*SMALL, *options, "--output", str(tmp_path / "out")]) == 0
    record = json.loads((tmp_path / "out" / "offline.json").read_text())
    assert record["minari"] == {
        env_id: {"dataset_id": dataset_id, "episodes": 50, "observation": "features"}
        for env_id, dataset_id in MINARI_DATASETS.items()
    }
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(folder))
    for env_id, dataset_id in MINARI_DATASETS.items():
        dataset = minari.load_dataset(dataset_id)
        assert dataset.total_episodes == 50
        assert dataset.env_spec.id == env_id
        assert dataset.env_spec.kwargs["observation"] == "features"
        episode = dataset[0]
        assert episode.observations.shape[1:] == dataset.observation_space.shape
        assert episode.infos["action_mask"].shape == (
            len(episode.observations),
            dataset.action_space.n,
        )


def test_minari_folder_holding_the_datasets_is_refused_before_any_work(
    tmp_path: Path,
) -> None:
    """A --minari folder with a dataset of the same id: exit 2, nothing run."""
    pytest.importorskip("pyarrow", reason=OFFLINE)
    pytest.importorskip("minari", reason=MINARI)
    from agents.jobs.offline import MINARI_DATASETS, main

    existing = tmp_path / "datasets" / MINARI_DATASETS["AccessReview-v0"]
    existing.mkdir(parents=True)
    with pytest.raises(SystemExit) as stop:
        main(["--minari", str(tmp_path / "datasets"), "--output", str(tmp_path / "o")])
    assert stop.value.code == 2
    assert not (tmp_path / "o" / "offline.json").exists()


@pytest.mark.processes
def test_minari_without_minari_stops_at_once(tmp_path: Path) -> None:
    """--minari without the minari extra: exit 2, one line naming it."""
    pytest.importorskip("pyarrow", reason=OFFLINE)
    result = run_job(
        "import sys; sys.modules['minari'] = None\n"
        "from agents.jobs.offline import main\n"
        "sys.exit(main(['--output', 'out', '--minari', 'datasets']))",
        tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "--minari needs minari: pip install 'access-review-env[minari]'"
    ]
    assert not (tmp_path / "out").exists()
