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


@pytest.mark.parametrize("env_id", TABLE_ENV_IDS)
def test_feature_export_holds_the_envs_observations_and_masks(
    env_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """observation="features": the env's vectors, its masks, and the mode stated.

    Each observation is what ``gym.make(env_id, observation="features")``
    shows for the logged state; ``infos["action_mask"]`` is the env's bool
    mask of that state; the recovered env observes in the same mode.
    """
    behaviour = uniform_policy(task_arrays(env_id))
    log = collect(env_id, behaviour, monthly_drift([0.2], 40), seed=63)
    # One month of logs is within the risk task's follow-up window: drop
    # the requests still open at its end.
    episodes = join(log, open_requests="drop")
    dataset_id = f"access-review/{env_id.lower()}-features-v0"
    with pytest.warns(UserWarning):
        export_minari(
            episodes, log.metadata, dataset_id, observation="features", path=tmp_path
        )
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    loaded = minari.load_dataset(dataset_id)
    env = loaded.recover_environment()
    assert env.unwrapped.observation_mode == "features"  # type: ignore[attr-defined]
    assert loaded.observation_space == env.observation_space
    assert "observation='features'" in loaded.storage.metadata["description"]
    masks = env.unwrapped.sparse.valid_action_mask  # type: ignore[attr-defined]
    for index, episode in enumerate(loaded.iterate_episodes()):
        rows = slice(int(episodes.starts[index]), int(episodes.starts[index + 1]))
        states = np.append(episodes.state[rows], episodes.next_state[rows][-1])
        np.testing.assert_array_equal(episode.infos["state"], states)
        shown = np.stack([env.unwrapped.observe(s) for s in states])  # type: ignore[attr-defined]
        np.testing.assert_array_equal(episode.observations, shown)
        assert episode.observations.dtype == np.float32
        assert episode.infos["action_mask"].dtype == np.bool_
        np.testing.assert_array_equal(episode.infos["action_mask"], masks[states])


def test_an_unknown_observation_mode_is_refused(tmp_path: Path) -> None:
    """The mode is checked before anything is written, naming the allowed ones."""
    log = collect(
        ENV_ID, uniform_policy(task_arrays(ENV_ID)), monthly_drift([0.2], 5), 64
    )
    with pytest.raises(ValueError, match="observation must be one of index, features"):
        export_minari(
            join(log),
            log.metadata,
            "access-review/x-v0",
            observation="one_hot",
            path=tmp_path,
        )
    assert not any(tmp_path.iterdir())
