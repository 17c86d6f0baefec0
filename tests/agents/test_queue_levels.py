"""``access-review queue-levels`` measures the ladder it documents."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import pytest

import access_review_env  # noqa: F401  (registers the ids)
from agents.jobs.queue_levels import main
from agents.planning import value_iteration
from agents.planning.bellman import as_sparse


def test_the_table_states_each_level_its_size_and_exact_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rows give the level's states and V* of the env as registered."""
    assert main(["--levels", "tiny", "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    env = gym.make("AccessReviewQueue-v0", level="tiny")
    mdp = as_sparse(env)
    optimal = float(mdp.initial_distribution @ value_iteration(env).V)
    (row,) = json.loads((tmp_path / "queue_levels.json").read_text())["levels"]
    assert row["level"] == "tiny"
    assert row["states"] == mdp.n_states == 90
    assert row["nonzeros"] == mdp.nnz
    assert row["horizon"] == env.spec.max_episode_steps  # type: ignore[union-attr]
    assert row["optimal_value"] == pytest.approx(optimal, abs=1e-9)
    assert f"| `tiny` | 90 | 1,440 | {mdp.nnz:,} |" in out
    assert f"| {optimal:.1f} |" in out


def test_an_unknown_level_is_refused_naming_the_levels(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A typo in --levels is a usage error that lists the levels there are."""
    with pytest.raises(SystemExit) as error:
        main(["--levels", "huge"])
    assert error.value.code == 2
    err = capsys.readouterr().err
    assert "'huge'" in err and "tiny" in err and "xlarge" in err
