"""Export to Minari: a small log of either task round-trips through Minari's loader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

minari = pytest.importorskip(
    "minari", reason="needs the 'minari' extra: pip install 'access-review-env[minari]'"
)

from access_review_env import ENV_ID, TABLE_ENV_IDS  # noqa: E402
from agents.integrations.minari_export import export_minari  # noqa: E402
from agents.offline import (  # noqa: E402
    collect,
    join,
    monthly_drift,
    task_arrays,
    uniform_policy,
)


@pytest.mark.parametrize("env_id", TABLE_ENV_IDS)
def test_export_round_trips(
    env_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """States, actions, rewards, flags and propensities survive; the env recovers.

    Five months of 50 requests: the risk task's 100-day follow-up window
    leaves the first two months' requests in the complete cohort.
    """
    behaviour = uniform_policy(task_arrays(env_id))
    schedule = monthly_drift([0.1, 0.3, 0.3, 0.3, 0.3], 50, start="2025-01")
    log = collect(env_id, behaviour, schedule, seed=61)
    episodes = join(log)
    assert episodes.n_episodes > 0
    dataset_id = f"access-review/{env_id.lower()}-test-v0"
    with pytest.warns(UserWarning):
        dataset = export_minari(episodes, log.metadata, dataset_id, path=tmp_path)
    assert dataset.total_episodes == episodes.n_episodes
    assert dataset.total_steps == episodes.n_transitions
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    loaded = minari.load_dataset(dataset_id)
    for index, episode in enumerate(loaded.iterate_episodes()):
        rows = slice(int(episodes.starts[index]), int(episodes.starts[index + 1]))
        assert np.array_equal(episode.observations[:-1], episodes.state[rows])
        assert episode.observations[-1] == episodes.next_state[rows][-1]
        assert np.array_equal(episode.actions, episodes.action[rows])
        assert np.array_equal(episode.rewards, episodes.reward[rows])
        assert np.array_equal(episode.terminations, episodes.terminated[rows])
        assert np.array_equal(episode.truncations, episodes.truncated[rows])
        assert np.allclose(episode.infos["propensity"][:-1], episodes.propensity[rows])
    env = loaded.recover_environment()
    assert env.spec is not None and env.spec.id == env_id
    assert env.unwrapped.mdp.parameters["abandonment_prob"] == 0.1  # type: ignore[attr-defined]
    assert "2025-02" in loaded.storage.metadata["description"]


def test_an_existing_dataset_is_not_overwritten(tmp_path: Path) -> None:
    """Minari refuses a dataset id that exists; the first export is kept."""
    behaviour = uniform_policy(task_arrays(ENV_ID))
    log = collect(ENV_ID, behaviour, monthly_drift([0.2], 30), seed=62)
    episodes = join(log)
    with pytest.warns(UserWarning):
        export_minari(episodes, log.metadata, "access-review/twice-v0", path=tmp_path)
    with pytest.raises(ValueError, match="already"):
        export_minari(episodes, log.metadata, "access-review/twice-v0", path=tmp_path)
