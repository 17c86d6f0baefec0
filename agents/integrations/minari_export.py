"""Export a log to a Minari dataset, for offline-RL libraries that read Minari.

Parquet stays the store: measured here with Minari 0.5.4, its HDF5 backend
writes about 17 KB per episode (a Parquet log about 26 bytes per request), and
its Arrow backend's write time grows quadratically with the number of episodes
(7 s for 500 episodes, 25 s for 1,000, 98 s for 2,000), so this export is
meant for small samples. It
builds Minari's episode buffers directly (Minari's own collector needs jax) and
needs the ``minari`` extra (minari with h5py, and pillow, which Minari's
storage imports).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from access_review_env import TaskEnv
from access_review_env.model import OBSERVATION_MODES
from agents.common.optional import available, install_hint
from agents.offline.logs import Episodes, LogMetadata

_OBSERVATION_TEXT = {
    "index": "observations are state indices",
    "features": "observations are the env's feature vectors, float32",
}


def _minari() -> Any:
    if not available("minari"):
        raise ImportError(f"exporting to Minari needs minari: {install_hint('minari')}")
    import minari

    return minari


@contextmanager
def _datasets_path(path: str | os.PathLike[str] | None) -> Iterator[None]:
    """Point Minari at ``path`` (its ``MINARI_DATASETS_PATH``) for the block."""
    if path is None:
        yield
        return
    previous = os.environ.get("MINARI_DATASETS_PATH")
    # Absolute: Minari 0.5.4 joins a relative folder onto itself when it
    # measures the written dataset.
    os.environ["MINARI_DATASETS_PATH"] = str(Path(path).resolve())
    try:
        yield
    finally:
        if previous is None:
            del os.environ["MINARI_DATASETS_PATH"]
        else:
            os.environ["MINARI_DATASETS_PATH"] = previous


def export_minari(
    episodes: Episodes,
    metadata: LogMetadata,
    dataset_id: str,
    *,
    observation: str = "index",
    path: str | os.PathLike[str] | None = None,
    data_format: str = "hdf5",
    author: str | None = None,
    author_email: str | None = None,
    code_permalink: str | None = None,
) -> Any:
    """Write complete episodes as a Minari dataset and return it (``MinariDataset``).

    Observations are the states in the env's ``observation`` mode, ``n_steps +
    1`` per episode (the last is the final next state): with ``"index"`` each
    is the state's index, ``(n_steps + 1,)`` int64; with ``"features"`` its
    feature vector, ``(n_steps + 1, d)`` float32, what
    ``gym.make(env_id, observation="features")`` returns (a one-hot vector on
    the two table tasks), so libraries that want vectors, such as d3rlpy, read
    the dataset as it is. Actions, rewards, terminations and truncations are
    as logged. ``infos`` holds, per observation, ``propensity`` (the
    behaviour's probability of the action taken from it, NaN after the last,
    so importance weights survive the export), ``state`` (its index) and
    ``action_mask`` (bool ``(n_steps + 1, A)``, the env's
    ``info["action_mask"]``: the logged mask of each decision, the task's for
    the final state). The dataset's env spec is the task with the first
    period's kwargs and ``observation`` (so ``recover_environment()`` makes the
    env the observations came from); the whole schedule, and the observation
    mode, are in its description.

    Args:
        episodes: A joined log.
        metadata: Its metadata.
        dataset_id: Minari's id, e.g. ``"access-review/uniform-v0"``.
        observation: ``"index"`` or ``"features"``, as the env's keyword.
        path: Minari's datasets folder; Minari's default (``~/.minari``) when
            None.
        data_format: ``"hdf5"`` or ``"arrow"``.
        author: Recorded in the dataset (Minari warns when it is missing,
            as for ``author_email`` and ``code_permalink``).
        author_email: Contact recorded in the dataset.
        code_permalink: Link to the versioned code that made the log.

    Raises:
        ImportError: Without the ``minari`` extra.
        ValueError: For an unknown ``observation`` mode, or if the dataset
            exists already (Minari's error).
    """
    if observation not in OBSERVATION_MODES:
        raise ValueError(
            f"observation must be one of {', '.join(OBSERVATION_MODES)}, "
            f"got {observation!r}"
        )
    minari = _minari()
    from minari.data_collector.episode_buffer import EpisodeBuffer

    kwargs = {**metadata.schedule[0]["env_kwargs"], "observation": observation}
    spec = replace(gym.spec(metadata.env_id), kwargs=kwargs)
    env = gym.make(spec).unwrapped
    assert isinstance(env, TaskEnv)
    n_actions = env.sparse.n_actions
    final_masks = env.sparse.valid_action_mask
    bits = np.uint32(1) << np.arange(n_actions, dtype=np.uint32)
    buffers = []
    starts = episodes.starts
    for index in range(episodes.n_episodes):
        rows = slice(int(starts[index]), int(starts[index + 1]))
        states = np.append(episodes.state[rows], episodes.next_state[rows][-1])
        states = states.astype(np.int64)
        logged_masks = (episodes.valid_actions[rows, None] & bits) != 0
        action_mask = np.concatenate([logged_masks, final_masks[states[-1:]]])
        propensity = np.append(episodes.propensity[rows], np.nan)
        buffers.append(
            EpisodeBuffer(
                id=index,
                observations=(
                    states
                    if observation == "index"
                    else env.mdp.features(states).astype(np.float32)
                ),
                actions=episodes.action[rows].astype(np.int64),
                rewards=episodes.reward[rows].tolist(),
                terminations=episodes.terminated[rows].tolist(),
                truncations=episodes.truncated[rows].tolist(),
                infos={
                    "propensity": propensity,
                    "state": states,
                    "action_mask": action_mask,
                },
            )
        )
    env.close()
    description = (
        f"Logged by access-review-env {metadata.package_version} (log "
        f"{metadata.log_id}); observation={observation!r} "
        f"({_OBSERVATION_TEXT[observation]}); behaviour {metadata.behaviour['name']} "
        f"{metadata.behaviour['params']}; seed {metadata.seed}; periods "
        + "; ".join(f"{p['name']}: {p['env_kwargs']}" for p in metadata.schedule)
    )
    with _datasets_path(path):
        return minari.create_dataset_from_buffers(
            dataset_id=dataset_id,
            buffer=buffers,
            env=spec,
            eval_env=spec,
            algorithm_name=f"behaviour:{metadata.behaviour['name']}",
            code_permalink=code_permalink,
            author=author,
            author_email=author_email,
            description=description,
            data_format=data_format,
        )
