"""K learners stepping one vector env in lockstep: their running state and the loop.

Every batched step is: the env steps all K sub-envs, and one kernel call (numba
or NumPy) updates every learner and chooses its next action. Learner ``k`` owns
sub-env ``k``.

Random numbers (:mod:`.streams`): learner ``k`` has a seed ``s_k``; the env is
reset once with the list of seeds, so sub-env ``k`` is seeded ``s_k``, and
learner ``k`` draws its decisions from its own stream, word ``t`` after its
``t``-th step (one draw per decision, for epsilon-greedy and softmax sampling
alike, used or not). On an env whose sub-envs also draw from streams of their
own seeds (the native vector env, ``SyncVectorEnv``), a seed's results are
the same whatever batch it runs in, on either backend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol

import numpy as np
from numpy.typing import NDArray

from agents.learners.batched.vector_envs import action_masks

# Columns of Lockstep.counters, one row per learner (kernels index them by name).
BUDGET: Final = 0
EPISODES: Final = 1
STATE: Final = 2
ACTION: Final = 3
LEARNING: Final = 4
EPISODE_LENGTH: Final = 5
LENGTH_SUM: Final = 6
NEXT_CHECKPOINT: Final = 7
CLOCK: Final = 8
N_COUNTERS: Final = 9

# Columns of Lockstep.tallies.
EPISODE_RETURN: Final = 0
EPISODE_DISCOUNTED: Final = 1
EPISODE_WEIGHT: Final = 2
RETURN_SUM: Final = 3
DISCOUNTED_SUM: Final = 4
N_TALLIES: Final = 5

NO_CHECKPOINT: Final = -1
"""Sentinel after the last checkpoint, so kernels need no bounds check."""

KernelCall = Callable[
    [NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any]], int
]
"""``advance(observations, rewards, terminated, truncated, masks) -> running``:
one kernel call over all learners (their stream keys live in :class:`Lockstep`)."""


@dataclass
class Lockstep:
    """Per-learner running state and logs of K learners.

    A learner's scalars sit in one row of ``counters`` and of ``tallies``
    (array-of-structs), so a kernel touches a cache line or two per learner
    rather than one per field.

    Attributes:
        counters: ``(K, N_COUNTERS)`` int64: episode budget, episodes done, the
            state and action of the pending step, whether that step is a
            transition to learn from (0 on the first step and on ``NEXT_STEP``
            reset steps), the current episode's length, the summed length of
            finished episodes, the index of the next checkpoint, and the
            learner's clock: env steps it has taken (the word of its stream
            its next decision reads, see :mod:`.streams`).
        tallies: ``(K, N_TALLIES)`` float64: the current episode's return,
            discounted return and discount weight ``gamma ** t``, and the sums
            of finished episodes' returns and discounted returns.
        checkpoints: ``(C + 1,)`` episode counts at which to record statistics,
            then the ``NO_CHECKPOINT`` sentinel.
        checkpoint_return_sum: ``(C, K)`` the return sum at each checkpoint.
        checkpoint_discounted_sum: ``(C, K)`` the discounted return sum there.
        checkpoint_length_sum: ``(C, K)`` the steps taken until there.
        curve_returns: ``(K, n)`` every episode's return (``(K, 0)`` unless
            full curves were asked for).
        curve_discounted: ``(K, n)`` every episode's discounted return.
        curve_lengths: ``(K, n)`` every episode's length.
        actions: ``(K,)`` the actions handed to the next ``envs.step``.
        keys: ``(K,)`` uint64 each learner's stream key (:mod:`.streams`).
    """

    counters: NDArray[np.int64]
    tallies: NDArray[np.float64]
    checkpoints: NDArray[np.int64]
    checkpoint_return_sum: NDArray[np.float64]
    checkpoint_discounted_sum: NDArray[np.float64]
    checkpoint_length_sum: NDArray[np.int64]
    curve_returns: NDArray[np.float64]
    curve_discounted: NDArray[np.float64]
    curve_lengths: NDArray[np.int64]
    actions: NDArray[np.int64]
    keys: NDArray[np.uint64]

    @classmethod
    def create(
        cls,
        budget: NDArray[np.int64],
        checkpoints: NDArray[np.int64],
        record_curves: bool,
        keys: NDArray[np.uint64],
    ) -> Lockstep:
        """Fresh state for ``len(budget)`` learners, before their first reset."""
        n_envs = budget.shape[0]
        n_checkpoints = checkpoints.shape[0]
        curve_width = int(budget.max()) if record_curves else 0
        counters = np.zeros((n_envs, N_COUNTERS), dtype=np.int64)
        counters[:, BUDGET] = budget
        tallies = np.zeros((n_envs, N_TALLIES))
        tallies[:, EPISODE_WEIGHT] = 1.0
        return cls(
            counters=counters,
            tallies=tallies,
            checkpoints=np.append(checkpoints, NO_CHECKPOINT).astype(np.int64),
            checkpoint_return_sum=np.zeros((n_checkpoints, n_envs)),
            checkpoint_discounted_sum=np.zeros((n_checkpoints, n_envs)),
            checkpoint_length_sum=np.zeros((n_checkpoints, n_envs), dtype=np.int64),
            curve_returns=np.full((n_envs, curve_width), np.nan),
            curve_discounted=np.full((n_envs, curve_width), np.nan),
            curve_lengths=np.zeros((n_envs, curve_width), dtype=np.int64),
            actions=np.zeros(n_envs, dtype=np.int64),
            keys=np.asarray(keys, dtype=np.uint64),
        )

    def arrays(self) -> tuple[NDArray[Any], ...]:
        """The kernels' shared arguments, in this order."""
        return (
            self.counters,
            self.tallies,
            self.checkpoints,
            self.checkpoint_return_sum,
            self.checkpoint_discounted_sum,
            self.checkpoint_length_sum,
            self.curve_returns,
            self.curve_discounted,
            self.curve_lengths,
            self.actions,
            self.keys,
        )

    def record_initial_checkpoint(
        self, table: NDArray[np.float64], snapshots: NDArray[np.float64]
    ) -> None:
        """Snapshot ``table`` ``(K, ...)`` for a checkpoint at 0 episodes, if any."""
        if self.checkpoints[0] == 0:
            snapshots[0] = table
            self.counters[:, NEXT_CHECKPOINT] = 1


class EpisodeObserver(Protocol):
    """Watches K learners' tables as their episodes end (e.g. to score them).

    The learners call it, when one is given, with their tables ``(K, S, A)``
    (Q values or logits): once before the first episode, then whenever some
    learners have finished an episode (after a batched step of the lockstep
    path, or a call of the fused loop, which lets each learner finish one
    episode at most while it is watched). The tables are the learners' own
    arrays: read them, never write them.
    """

    def start(self, tables: NDArray[np.float64]) -> None:
        """The tables the first episodes are played with."""
        ...

    def episodes_ended(
        self,
        learners: NDArray[np.intp],
        episodes: NDArray[np.int64],
        tables: NDArray[np.float64],
    ) -> None:
        """Learners ``learners`` have now finished ``episodes`` episodes each.

        ``tables[learners]`` is what their next episodes start from.
        """
        ...


def run_lockstep(
    envs: Any,
    seeds: NDArray[np.uint64],
    lockstep: Lockstep,
    advance: KernelCall,
    before_step: Callable[[int], None] | None = None,
    observer: EpisodeObserver | None = None,
    tables: NDArray[np.float64] | None = None,
) -> int:
    """Reset ``envs`` once, then step it until every learner has spent its budget.

    Args:
        envs: The vector env (checked by
            :func:`~agents.learners.batched.vector_envs.check_vector_env`).
        seeds: ``(K,)`` the learners' seeds: sub-env ``k`` is reset with
            ``seeds[k]``.
        lockstep: The learners' state; ``lockstep.actions`` is what is stepped.
        advance: The kernel call; returns how many learners still have budget.
        before_step: Called with the number of steps taken so far before each
            ``envs.step`` (to grow buffers whose size depends on it).
        observer: Told when episodes end (see :class:`EpisodeObserver`).
        tables: ``(K, S, A)`` the learners' tables, shown to ``observer``.

    Returns:
        The number of batched steps taken.
    """
    n_envs, n_actions = lockstep.actions.shape[0], int(envs.single_action_space.n)
    observations, info = envs.reset(seed=[int(seed) for seed in seeds])
    not_ended = np.zeros(n_envs, dtype=bool)
    # float64 zeros: the native env's reward dtype, so numba compiles the
    # kernel once for the reset call and the steps.
    running = advance(
        observations,
        np.zeros(n_envs, dtype=np.float64),
        not_ended,
        not_ended,
        action_masks(info, n_envs, n_actions),
    )
    if observer is not None and tables is not None:
        observer.start(tables)
    episodes = lockstep.counters[:, EPISODES]
    before = episodes.copy()
    steps = 0
    while running:
        if before_step is not None:
            before_step(steps)
        observations, rewards, terminated, truncated, info = envs.step(lockstep.actions)
        running = advance(
            observations, rewards, terminated, truncated, info["action_mask"]
        )
        steps += 1
        if observer is not None and tables is not None:
            ended = np.flatnonzero(episodes != before)
            if ended.size:
                observer.episodes_ended(ended, episodes[ended], tables)
                before[ended] = episodes[ended]
    return steps
