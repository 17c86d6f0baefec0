"""The offline figures: each is an 800x450 PNG written atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip(
    "matplotlib",
    reason="needs the 'plots' extra: pip install 'access-review-env[plots]'",
)

from access_review_env import ENV_ID
from agents.integrations.offline_plots import (
    plot_drift_monitor,
    plot_estimates,
    plot_optimum_curves,
)
from agents.offline import (
    collect,
    episodes_to_optimum,
    evaluate_off_policy,
    join,
    steady,
    tabulate_policy,
    task_arrays,
    time_ordered_lab,
    uniform_policy,
)
from tests.helpers import png_size


def test_every_figure_is_written(tmp_path: Path) -> None:
    """Drift monitor, estimates against the truth, and optimum curves."""
    lab = time_ordered_lab(seed=2, requests_per_month=2_000)
    drift = plot_drift_monitor(lab, tmp_path / "drift.png")
    mdp = task_arrays(ENV_ID)
    curve = episodes_to_optimum(ENV_ID, {}, uniform_policy(mdp), [10, 100], 3, seed=0)
    crossover = plot_optimum_curves([("p = 0.25", curve)], tmp_path / "curves.png")
    episodes = join(collect(ENV_ID, uniform_policy(mdp), steady(2_000), seed=1))
    target = tabulate_policy(mdp, np.array(lab.time.policy))
    estimates = evaluate_off_policy(episodes, target, np.random.default_rng(0))
    ope = plot_estimates(estimates, 54.0, tmp_path / "sub" / "ope.png")
    for path in (drift, crossover, ope):
        assert png_size(path) == (800, 450)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "curves.png",
        "drift.png",
        "sub",
    ]
