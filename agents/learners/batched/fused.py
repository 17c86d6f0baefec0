"""The fused backend's loop: the learners step their sub-envs themselves.

:func:`run_fused` stands in for :func:`~agents.learners.batched.lockstep.run_lockstep`
when the env is the native vector env: instead of ``envs.reset`` and
``envs.step`` it hands the task's model (:class:`FusedEnv`) to a compiled loop
(:mod:`.kernels_fused`) that steps each sub-env as the vector env would, from
the stream of the learner's seed. The env object itself is never reset or
stepped. The learners' state is the lockstep path's (:class:`.Lockstep`), so
logs, checkpoints and results are built the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode
from numpy.typing import NDArray

from access_review_env.vector.layout import MODES, step_model, step_settings
from access_review_env.vector.streams import stream_keys
from agents.learners.batched.lockstep import (
    BUDGET,
    CLOCK,
    EPISODE_LENGTH,
    EPISODES,
    LENGTH_SUM,
    EpisodeObserver,
    Lockstep,
)

ENV_STATE, ENV_ELAPSED, ENV_PENDING, ENV_COUNTER = 0, 1, 2, 3
"""Columns of :attr:`FusedEnv.memory`: the sub-env's state, steps since its
reset, 1 where its next step is a reset (before the first one too), and the
words of its stream used so far."""
N_ENV_FIELDS = 4

FusedCall = Callable[[int], int]
"""``advance(episode_limit) -> running``: one call of the fused loop."""


@dataclass
class FusedEnv:
    """What the fused loop reads of a native vector env, and its sub-envs' state.

    Attributes:
        model: The env's :class:`~access_review_env.vector.layout.StepModel`
            as a tuple (no array of the model is copied).
        valid: ``(S, A)`` bool each state's ``info["action_mask"]``.
        settings: The env's ``settings`` array (events, time limit).
        memory: ``(K, 4)`` int64 each sub-env's state, steps since reset,
            pending reset and stream words used.
        keys: ``(K,)`` uint64 each sub-env's stream key, from its seed.
    """

    model: tuple[NDArray[Any], ...]
    valid: NDArray[np.bool_]
    settings: NDArray[np.int64]
    memory: NDArray[np.int64]
    keys: NDArray[np.uint64]

    @classmethod
    def of(cls, envs: Any, seeds: NDArray[np.uint64]) -> FusedEnv:
        """The sub-envs of ``envs`` seeded ``seeds``, before their first reset.

        Args:
            envs: A native vector env (see
                :func:`~agents.learners.batched.vector_envs.fused_unsupported`).
            seeds: ``(K,)`` sub-env ``k``'s seed, as ``envs.reset(seed=list)``.
        """
        sparse = envs.mdp.sparse
        if envs.exploring_starts:
            live = ~sparse.terminal
            start = live / live.sum()
        else:
            start = sparse.initial_distribution
        memory = np.zeros((seeds.size, N_ENV_FIELDS), dtype=np.int64)
        memory[:, ENV_PENDING] = 1
        return cls(
            model=tuple(step_model(sparse, start)),
            valid=np.ascontiguousarray(sparse.valid_action_mask, dtype=bool),
            settings=step_settings(
                sparse, envs.max_episode_steps, MODES[AutoresetMode.NEXT_STEP]
            ),
            memory=memory,
            keys=stream_keys(seeds),
        )


def run_fused(
    lockstep: Lockstep,
    advance: FusedCall,
    before_call: Callable[[int], None],
    observer: EpisodeObserver | None = None,
    tables: NDArray[np.float64] | None = None,
) -> int:
    """Call the fused loop until every learner has spent its budget.

    Args:
        lockstep: The learners' state.
        advance: The fused loop; takes how many episodes each learner may
            finish in the call, returns how many learners have budget left.
        before_call: Called before each call with the most updates a learner
            has made so far (to grow the step sizes: a call stops a learner
            whose next update would outrun them).
        observer: Told when episodes end (see
            :class:`~agents.learners.batched.lockstep.EpisodeObserver`); with
            one, every call lets each learner finish one episode at most.
        tables: ``(K, S, A)`` the learners' tables, shown to ``observer``.

    Returns:
        The batched steps the lockstep path takes for the same run: the last
        learner's step count.
    """
    counters = lockstep.counters
    if observer is not None and tables is not None:
        observer.start(tables)
    watching = observer is not None and tables is not None
    limit = 1 if watching else int(counters[:, BUDGET].max())
    episodes = counters[:, EPISODES]
    before = episodes.copy()
    while True:
        updates = counters[:, LENGTH_SUM] + counters[:, EPISODE_LENGTH]
        before_call(int(updates.max()))
        running = advance(limit)
        if observer is not None and tables is not None:
            ended = np.flatnonzero(episodes != before)
            if ended.size:
                observer.episodes_ended(ended, episodes[ended], tables)
                before[ended] = episodes[ended]
        if not running:
            return int(counters[:, CLOCK].max()) - 1
