"""d3rlpy's DiscreteCQL on a Minari dataset exported from a log (``interop`` extra).

The recipe, from a log to a checked policy:

1. export a joined log with
   :func:`~agents.integrations.minari_export.export_minari` and
   ``observation="features"`` (or ``access-review offline --minari PATH
   --minari-observation features``), so the observations are the env's
   feature vectors (one-hot on the table tasks);
2. :func:`mdp_dataset` reads the Minari dataset into d3rlpy's ``MDPDataset``;
3. :func:`train_discrete_cql` fits DiscreteCQL on it;
4. :func:`q_table` reads ``Q`` of every state back in the task's units, and
   :func:`~agents.evaluation.policy_check.check_against_optimum` compares the
   greedy policy with value iteration's.

Two choices make it work, both measured on AccessReview-v0 with d3rlpy 2.8.1:

* not ``d3rlpy.datasets.get_minari``: it concatenates each episode's
  ``n + 1`` observations (Minari keeps the final one) against its ``n``
  actions, so every episode after the first is read one observation late (the
  second episode starts in the first one's final state). :func:`mdp_dataset`
  drops each episode's final observation instead;
* rewards scaled by 0.01 with d3rlpy's own ``MultiplyRewardScaler``: d3rlpy's
  Q loss is a Huber loss with threshold 1, which on targets of order 100 fits
  their median, not their mean (unscaled, ``Q(new_request,
  request_evidence)`` came out 58.4, near the return of the routes not
  abandoned, -4 + 0.9 x 70 = 59, where the exact value is 30.75).

d3rlpy pins ``gymnasium==1.0.0``, older than this package allows: install it
with ``pip install --no-deps d3rlpy`` after the ``interop`` extra (which holds
its other requirements); see ``docs/frameworks.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

try:
    import d3rlpy
    import torch
except ImportError as error:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "agents.integrations.d3rlpy_cql needs d3rlpy: pip install torch==2.13.0 "
        "'access-review-env[interop]' && pip install --no-deps d3rlpy==2.8.1 "
        "(see docs/frameworks.md, 'Using it from other frameworks')"
    ) from error

from access_review_env import TaskEnv


@dataclass(frozen=True)
class CQLSettings:
    """DiscreteCQL's hyperparameters for the recipe (d3rlpy's names).

    The defaults recovered the optimum of AccessReview-v0 from about 300
    episodes of a uniform behaviour (the interop tests).
    """

    alpha: float = 0.1
    """Weight of the conservative term."""
    n_steps: int = 1_000
    """Gradient steps."""
    learning_rate: float = 1e-3
    batch_size: int = 64
    target_update_interval: int = 100
    """Gradient steps between copies of the online network to the target."""
    reward_scale: float = 0.01
    """d3rlpy's ``MultiplyRewardScaler``; :func:`q_table` divides it back out."""


def mdp_dataset(dataset: Any) -> Any:
    """d3rlpy's ``MDPDataset`` of a Minari dataset, each step's observation aligned.

    Args:
        dataset: A ``MinariDataset`` (``minari.load_dataset(...)``) whose
            observations are arrays (``observation="features"`` for a vector
            per step).

    Returns:
        ``d3rlpy.dataset.MDPDataset`` with one row per step: the observation the
        action was taken in, ``(n, d)``; the action, reward, termination and
        truncation of that step, ``(n,)``.

    Raises:
        ValueError: If the dataset has no episode.
    """
    columns: dict[str, list[NDArray[Any]]] = {
        "observations": [],
        "actions": [],
        "rewards": [],
        "terminals": [],
        "timeouts": [],
    }
    for episode in dataset.iterate_episodes():
        columns["observations"].append(np.asarray(episode.observations)[:-1])
        columns["actions"].append(np.asarray(episode.actions))
        columns["rewards"].append(np.asarray(episode.rewards))
        columns["terminals"].append(np.asarray(episode.terminations))
        columns["timeouts"].append(np.asarray(episode.truncations))
    if not columns["actions"]:
        raise ValueError("the Minari dataset has no episode")
    return d3rlpy.dataset.MDPDataset(
        **{name: np.concatenate(parts) for name, parts in columns.items()}
    )


def train_discrete_cql(
    dataset: Any, gamma: float, settings: CQLSettings = CQLSettings(), seed: int = 0
) -> Any:
    """Fit d3rlpy's DiscreteCQL on ``dataset`` (CPU, no log files, no progress bar).

    Args:
        dataset: d3rlpy's ``MDPDataset`` (:func:`mdp_dataset`).
        gamma: The discount (``env.unwrapped.mdp.gamma``).
        settings: Hyperparameters.
        seed: Seeds d3rlpy (NumPy and torch) before the networks are built.

    Returns:
        The fitted ``d3rlpy.algos.DiscreteCQL``.
    """
    d3rlpy.seed(seed)
    cql = d3rlpy.algos.DiscreteCQLConfig(
        alpha=settings.alpha,
        gamma=gamma,
        learning_rate=settings.learning_rate,
        batch_size=settings.batch_size,
        target_update_interval=settings.target_update_interval,
        reward_scaler=d3rlpy.preprocessing.MultiplyRewardScaler(settings.reward_scale),
    ).create(device="cpu")
    cql.fit(
        dataset,
        n_steps=settings.n_steps,
        n_steps_per_epoch=settings.n_steps,
        show_progress=False,
        save_interval=settings.n_steps + 1,
        logger_adapter=d3rlpy.logging.NoopAdapterFactory(),
    )
    return cql


def q_table(
    cql: Any, env: gym.Env[Any, Any], reward_scale: float = CQLSettings.reward_scale
) -> NDArray[np.float64]:
    """``(S, A)`` the fitted ``Q`` of every state, in the task's units.

    Args:
        cql: A fitted d3rlpy Q-learning algorithm.
        env: The task's env in the observation mode the dataset was exported
            in (``dataset.recover_environment()``); each state is shown to
            ``cql`` as this env observes it.
        reward_scale: The scale the rewards were fitted at.
    """
    task = env.unwrapped
    if not isinstance(task, TaskEnv):
        raise TypeError(f"expected an env of this package's tasks, got {task!r}")
    n_states, n_actions = task.sparse.n_states, task.sparse.n_actions
    observations = np.stack([task.observe(s) for s in range(n_states)])
    observations = observations.astype(np.float32).reshape(n_states, -1)
    with torch.no_grad():
        values = [
            cql.predict_value(observations, np.full(n_states, action))
            for action in range(n_actions)
        ]
    return np.stack(values, axis=1).astype(np.float64) / reward_scale
