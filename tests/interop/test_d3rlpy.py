"""agents.integrations.d3rlpy_cql: a Minari export read by d3rlpy step by step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from access_review_env import TABLE_ENV_IDS
from agents.integrations.minari_export import export_minari
from agents.offline import collect, join, steady, task_arrays, uniform_policy

pytestmark = pytest.mark.interop


@pytest.mark.parametrize("env_id", TABLE_ENV_IDS)
@pytest.mark.filterwarnings("ignore:`(author|author_email|code_permalink)` is set")
def test_mdp_dataset_keeps_every_logged_step_in_its_place(
    env_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each d3rlpy transition is the logged step: state, action, reward, successor.

    A transition is terminal where the logged step was; 60 requests of a
    uniform behaviour, whose every episode closes (none is truncated).
    """
    import minari
    from d3rlpy.dataset import BasicTransitionPicker

    from agents.integrations.d3rlpy_cql import mdp_dataset

    log = collect(env_id, uniform_policy(task_arrays(env_id)), steady(60), seed=65)
    episodes = join(log)
    export_minari(
        episodes,
        log.metadata,
        "access-review/steps-v0",
        observation="features",
        path=tmp_path,
    )
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    loaded = minari.load_dataset("access-review/steps-v0")
    env = loaded.recover_environment().unwrapped
    dataset = mdp_dataset(loaded)
    assert len(dataset.episodes) == episodes.n_episodes
    assert dataset.transition_count == episodes.n_transitions
    picker = BasicTransitionPicker()
    features = np.stack([env.observe(s) for s in range(env.sparse.n_states)])
    rows = iter(range(episodes.n_transitions))
    for episode in dataset.episodes:
        for index in range(episode.transition_count):
            row = next(rows)
            step = picker(episode, index)
            np.testing.assert_array_equal(
                step.observation, features[episodes.state[row]]
            )
            assert int(step.action[0]) == episodes.action[row]
            assert float(step.reward[0]) == episodes.reward[row]
            assert bool(step.terminal) == episodes.terminated[row]
            if not episodes.terminated[row]:
                np.testing.assert_array_equal(
                    step.next_observation, features[episodes.next_state[row]]
                )
