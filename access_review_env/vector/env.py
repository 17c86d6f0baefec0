"""Native vector envs: many episodes of a task stepped as NumPy arrays.

:class:`TaskVectorEnv` reads the same :class:`~access_review_env.model.TaskMDP`
as the single env and steps through its compiled
:class:`~access_review_env.vector.step_table.StepTable`, so a batched step is a
handful of whole-array operations: one draw of 32-bit integers, a few small
integer operations, and four ``np.take`` gathers. A task's vector env class
only fixes its table and keyword arguments.

When numba is installed (the ``fast`` extra), batches of up to
:data:`_COMPILED_MAX_ENVS` sub-envs run the same operations as one compiled
loop (:func:`_step_range`), which spares the fixed cost of a few dozen NumPy
calls per step; both paths read the same draws and tables and return the
same bits.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from numpy.typing import NDArray

from access_review_env.actions import InvalidActionError, invalid_action_message
from access_review_env.model import (
    AccessReviewMDP,
    AccessReviewRiskMDP,
    InvalidActionRule,
    RewardSpec,
    TaskMDP,
)
from access_review_env.registration import MAX_EPISODE_STEPS
from access_review_env.reset_options import check_reset_options
from access_review_env.validation import check_bool, check_integer
from access_review_env.vector.step_table import (
    THRESHOLD_SCALE,
    Words,
    as_words,
    compile_step_table,
)

_FULL_64_BIT_GENERATORS = (
    np.random.PCG64,
    np.random.PCG64DXSM,
    np.random.Philox,
    np.random.SFC64,
)
"""Bit generators whose ``random_raw`` fills all 64 bits of every word."""

_PARALLEL_MIN_ENVS = 2**18
"""Below this many sub-envs a step stays on the calling thread: handing work to
threads costs more than it saves."""

_COMPILED_MAX_ENVS = 2**12
"""Up to this many sub-envs a step runs the compiled loop (when numba is
installed): there the fixed cost of the NumPy calls dominates. Above it the
whole-array NumPy operations, vectorized, are as fast or faster (measured on
2 cores: 2**10 sub-envs, 20 against 44 microseconds a step; 2**13, 90 and 91)."""


@dataclass
class _Outputs:
    """The arrays one call returns (fresh per call unless ``copy=False``)."""

    observations: NDArray[np.int64]
    reward: NDArray[np.float64]
    terminated: NDArray[np.bool_]
    truncated: NDArray[np.bool_]
    action_mask: NDArray[np.int8]
    cost: NDArray[np.float32]
    outcome: NDArray[np.int8]
    invalid: NDArray[np.bool_]
    reported: NDArray[np.bool_]

    @classmethod
    def empty(cls, n: int, n_actions: int) -> _Outputs:
        reported = np.ones(n, dtype=bool)
        reported.flags.writeable = False
        return cls(
            observations=np.empty(n, dtype=np.int64),
            reward=np.empty(n, dtype=np.float64),
            terminated=np.empty(n, dtype=bool),
            truncated=np.empty(n, dtype=bool),
            action_mask=np.empty((n, n_actions), dtype=np.int8),
            cost=np.empty(n, dtype=np.float32),
            outcome=np.empty(n, dtype=np.int8),
            invalid=np.empty(n, dtype=bool),
            reported=reported,
        )

    @property
    def arrays(self) -> tuple[NDArray[Any], ...]:
        """The step's outputs in :func:`_step_range`'s order."""
        return (
            self.observations,
            self.reward,
            self.terminated,
            self.truncated,
            self.action_mask,
            self.cost,
            self.outcome,
            self.invalid,
        )

    def part(self, chunk: slice) -> _Outputs:
        """Views of every array for the sub-envs in ``chunk``."""
        return _Outputs(**{f.name: getattr(self, f.name)[chunk] for f in fields(self)})

    @property
    def mask_words(self) -> Words:
        """``action_mask`` seen as one word per sub-env, to gather into."""
        return as_words(self.action_mask)

    def info(self) -> dict[str, Any]:
        """The info dict in Gymnasium's vector convention: every sub-env reports."""
        reported = self.reported
        return {
            "action_mask": self.action_mask,
            "cost": self.cost,
            "outcome": self.outcome,
            "invalid_action": self.invalid,
            "_action_mask": reported,
            "_cost": reported,
            "_outcome": reported,
            "_invalid_action": reported,
        }


def _step_range(
    first: int,
    last: int,
    state: NDArray[np.uint8],
    actions: NDArray[np.uint8],
    draws: NDArray[np.uint32],
    elapsed: NDArray[np.int16],
    thresholds: NDArray[np.uint32],
    packed: NDArray[np.uint16],
    rewards: NDArray[np.float64],
    transition_masks: NDArray[np.int8],
    state_masks: NDArray[np.int8],
    starts: tuple[NDArray[np.uint8], NDArray[np.uint32], NDArray[np.uint8]],
    settings: NDArray[np.int64],
    out: tuple[NDArray[Any], ...],
    action_slots: tuple[int, ...],
    slot_bounds: tuple[int, ...],
) -> None:
    """Sub-envs ``first .. last - 1`` of a step, one at a time (numba compiles it).

    The arithmetic of :meth:`TaskVectorEnv._advance`, sub-env by sub-env: the
    row of (stored state, action), the branch its draw selects (rows with fewer
    branches repeat their last one, so comparing every threshold is exact),
    the packed transition's fields, a random start for a parked sub-env, the
    time limit, and the parked bit of an episode that ended.

    Args:
        first: The first sub-env.
        last: One past the last.
        state: ``(K,)`` stored state codes, updated.
        actions: ``(K,)`` the checked actions.
        draws: ``(K,)`` this step's 32-bit draws.
        elapsed: ``(K,)`` steps of each episode so far, updated.
        thresholds: ``(slots - 1, rows)`` the step table's thresholds.
        packed: ``(slots * rows,)`` packed transitions.
        rewards: ``(slots * rows,)`` rewards.
        transition_masks: ``(slots * rows, A)`` the next state's masks.
        state_masks: ``(codes, A)`` each stored state's mask.
        starts: ``(start_states, start_thresholds, non_terminal)``.
        settings: ``n_slots, exploring, random_start, max_steps (-1: none)``,
            then the layout's ``state_mask, reset_bit, state_bits,
            terminated_shift, invalid_shift, outcome_shift, outcome_mask,
            cost_shift``.
        out: ``(observations, reward, terminated, truncated, action_mask,
            cost, outcome, invalid)``, written.
        action_slots: ``A`` zeros, so that numba compiles ``A`` as a constant
            and unrolls the loops over actions.
        slot_bounds: ``slots - 1`` zeros, the same for the thresholds.
    """
    start_states, start_thresholds, non_terminal = starts
    n_actions = np.uint64(len(action_slots))
    exploring, random_start = settings[1], settings[2]
    max_steps, state_mask, reset_bit = settings[3], settings[4], settings[5]
    state_bits, terminated_shift, invalid_shift = settings[6], settings[7], settings[8]
    outcome_shift, outcome_mask, cost_shift = settings[9], settings[10], settings[11]
    observations, reward, terminated, truncated = out[0], out[1], out[2], out[3]
    action_mask, cost, outcome, invalid = out[4], out[5], out[6], out[7]
    for k in range(first, last):
        code = np.int64(state[k])
        draw = draws[k]
        # Unsigned indices spare numba's negative-index wraparound.
        row = np.uint64(code) * n_actions + np.uint64(actions[k])
        slot = 0
        for bound in range(len(slot_bounds)):
            slot += draw >= thresholds[bound, row]
        j = row * np.uint64(len(slot_bounds) + 1) + np.uint64(slot)
        transition = np.int64(packed[j])
        reward[k] = rewards[j]
        resetting = code >= reset_bit
        next_state = transition & state_mask
        if random_start and resetting:
            if exploring:
                pick = (np.uint64(draw) * np.uint64(len(non_terminal))) >> np.uint64(32)
                next_state = np.int64(non_terminal[pick])
            else:
                chosen = 0
                for threshold in start_thresholds:
                    chosen += draw >= threshold
                next_state = np.int64(start_states[chosen])
            for b in range(len(action_slots)):
                action_mask[k, b] = state_masks[next_state, b]
        else:
            for b in range(len(action_slots)):
                action_mask[k, b] = transition_masks[j, b]
        observations[k] = next_state
        ends = (transition >> terminated_shift) & 1
        terminated[k] = ends
        invalid[k] = (transition >> invalid_shift) & 1
        cost[k] = transition >> cost_shift
        outcome[k] = (transition >> outcome_shift) & outcome_mask
        steps = 0 if resetting else elapsed[k] + 1
        elapsed[k] = steps
        cut = (max_steps >= 0) & (steps >= max_steps)
        truncated[k] = cut
        state[k] = next_state | ((ends | cut) << state_bits)


def _refuses(
    state: NDArray[np.uint8],
    actions: NDArray[Any],
    has_transition: NDArray[np.bool_],
    n_actions: int,
    refuse_invalid: bool,
) -> bool:
    """Whether some action is out of range, or has no transition and must raise.

    The compiled loop's check before a step changes anything; the NumPy checks
    then say which action and why.
    """
    for k in range(len(actions)):
        action = np.int64(actions[k])
        if (action < 0) | (action >= n_actions):
            return True
        if refuse_invalid and not has_transition[state[k] * n_actions + action]:
            return True
    return False


class _Compiled(NamedTuple):
    """The step's loops compiled by numba."""

    step: Callable[..., None]
    refuses: Callable[..., bool]


@functools.cache
def _compiled_step() -> _Compiled | None:
    """:func:`_step_range` and :func:`_refuses` compiled by numba, or None.

    None when numba is not installed; the compiled code is cached on disk.
    """
    if importlib.util.find_spec("numba") is None:
        return None
    import numba

    jit = numba.njit(cache=True, nogil=True, error_model="numpy")
    return _Compiled(jit(_step_range), jit(_refuses))


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity masks here (macOS, Windows)
        return os.cpu_count() or 1


def _check_threads(threads: int | None) -> int:
    """Worker threads for large batches: ``threads``, or one per core when None.

    More threads than cores cannot run at once, and each thread gets its own
    slice of the batch, so the count is bounded by the cores available.

    Raises:
        TypeError: If ``threads`` is not an integer or None.
        ValueError: If it is below 1 or above the cores available.
    """
    cores = available_cores()
    if threads is None:
        return max(1, min(cores, 8))
    return check_integer(
        "threads (at most one per available CPU core)", threads, low=1, high=cores
    )


class TaskVectorEnv(VectorEnv[NDArray[np.int64], NDArray[np.int64], NDArray[Any]]):
    """The mechanism every task's vector env shares; see :class:`AccessReviewVectorEnv`.

    Args:
        num_envs: Number of sub-envs.
        mdp: The task's MDP for one configuration.
        exploring_starts: Start every episode in a uniformly random
            non-terminal state.
        max_episode_steps: Per-sub-env time limit; None for none.
        copy: Return fresh arrays from every call (else reused buffers).
        threads: Worker threads for batches of at least 2^18 sub-envs, at most
            one per CPU core available.

    The configuration (``mdp``, ``exploring_starts``, ``max_episode_steps``,
    ``copy``, ``threads``) is read-only: the step table is compiled from it once.
    """

    _executor: ThreadPoolExecutor | None = None
    """Worker threads, started by the first large step (a class default, so that
    ``close`` works even on an env whose construction failed)."""

    metadata = {  # noqa: RUF012
        "autoreset_mode": AutoresetMode.NEXT_STEP,
        "render_modes": [],
    }

    def __init__(
        self,
        num_envs: int,
        mdp: TaskMDP,
        exploring_starts: bool = False,
        max_episode_steps: int | None = MAX_EPISODE_STEPS,
        copy: bool = True,
        threads: int | None = None,
    ) -> None:
        """Build ``num_envs`` sub-envs of ``mdp``; see the task's class for details."""
        self.num_envs = check_integer("num_envs", num_envs, low=1)
        if max_episode_steps is not None:
            max_episode_steps = check_integer(
                "max_episode_steps",
                max_episode_steps,
                low=1,
                high=int(np.iinfo(np.int16).max),
            )
        self._mdp = mdp
        self._exploring_starts = check_bool("exploring_starts", exploring_starts)
        self._max_episode_steps = max_episode_steps
        self._copy = check_bool("copy", copy)
        self._threads = _check_threads(threads)
        self.render_mode = None
        self.metadata = {**self.metadata, "outcomes": mdp.table.outcomes}
        self.single_observation_space = spaces.Discrete(mdp.n_states)
        self.single_action_space = spaces.Discrete(mdp.n_actions)
        self.observation_space = batch_space(
            self.single_observation_space, self.num_envs
        )
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        start = mdp.start_distribution
        self._start_states = np.flatnonzero(start).astype(np.uint8)
        self._start_thresholds = np.minimum(
            np.round(np.cumsum(start[self._start_states])[:-1] * THRESHOLD_SCALE),
            THRESHOLD_SCALE - 1,
        ).astype(np.uint32)
        self._random_start = self._exploring_starts or len(self._start_states) > 1
        self._table = compile_step_table(mdp, int(self._start_states[0]))
        self._non_terminal = np.asarray(mdp.table.non_terminal_states, dtype=np.uint8)
        reset_bit = self._table.layout.reset_bit
        self._state = np.full(self.num_envs, reset_bit, dtype=np.uint8)
        self._elapsed = np.zeros(self.num_envs, dtype=np.int16)
        # Scratch space for values a step does not return.
        self._rows = np.empty(self.num_envs, dtype=self._table.index_dtype)
        self._slots = np.empty(self.num_envs, dtype=np.uint8)
        self._thresholds = np.empty(self.num_envs, dtype=np.uint32)
        self._flag = np.empty(self.num_envs, dtype=bool)
        self._other_flag = np.empty(self.num_envs, dtype=bool)
        self._packed_buffer = np.empty(self.num_envs, dtype=np.uint16)
        self._scratch = np.empty(self.num_envs, dtype=np.uint16)
        self._reused = (
            None if self.copy else _Outputs.empty(self.num_envs, mdp.n_actions)
        )
        self._actions: NDArray[Any] = np.zeros(self.num_envs, dtype=np.uint8)
        self._kernel_tables = self._compiled_tables()
        self._n_actions = mdp.n_actions
        self._refuse_invalid = mdp.invalid_action == "raise"
        self._action_slots = (0,) * mdp.n_actions
        self._slot_bounds = (0,) * (self._table.n_slots - 1)
        self._compiled_size = self.num_envs <= _COMPILED_MAX_ENVS
        # False until a reset succeeds, and again after a rejected one: step
        # then raises, as SyncVectorEnv's sub-envs do before their first reset.
        self._has_reset = False
        n_chunks = self.threads if self.num_envs >= _PARALLEL_MIN_ENVS else 1
        bounds = np.linspace(0, self.num_envs, n_chunks + 1).astype(int)
        self._chunks = [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]

    def _compiled_tables(self) -> tuple[Any, ...]:
        """The step table and settings as :func:`_step_range` takes them."""
        table, layout = self._table, self._table.layout
        n_actions = self._mdp.n_actions
        settings = [
            table.n_slots,
            int(self._exploring_starts),
            int(self._random_start),
            -1 if self._max_episode_steps is None else self._max_episode_steps,
            layout.state_mask,
            layout.reset_bit,
            layout.state_bits,
            layout.terminated_shift,
            layout.invalid_shift,
            layout.outcome_shift,
            layout.outcome_mask,
            layout.cost_shift,
        ]
        return (
            np.ascontiguousarray(table.thresholds),
            table.packed,
            table.reward,
            table.transition_masks.view(np.int8).reshape(-1, n_actions),
            table.state_masks.view(np.int8).reshape(-1, n_actions),
            (self._start_states, self._start_thresholds, self._non_terminal),
            np.array(settings, dtype=np.int64),
        )

    @property
    def mdp(self) -> TaskMDP:
        """The task's MDP for this configuration; the step table is compiled from it."""
        return self._mdp

    @property
    def exploring_starts(self) -> bool:
        """Whether episodes start in a uniformly random non-terminal state."""
        return self._exploring_starts

    @property
    def max_episode_steps(self) -> int | None:
        """The per-sub-env time limit, or None for none."""
        return self._max_episode_steps

    @property
    def copy(self) -> bool:
        """Whether every call returns fresh arrays (else reused buffers)."""
        return self._copy

    @property
    def threads(self) -> int:
        """Worker threads for batches of at least 2^18 sub-envs."""
        return self._threads

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the worker threads; the first large step restarts them."""
        state = self.__dict__.copy()
        state.pop("_executor", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a pickled env (its reused buffers keep their read-only parts)."""
        self.__dict__.update(state)
        if self._reused is not None:
            self._reused.reported.flags.writeable = False

    def reset(
        self,
        *,
        seed: int | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[NDArray[np.int64], dict[str, Any]]:
        """Start every sub-env (see the single env's ``reset`` for the start states).

        The seed and options are checked before anything changes: a rejected
        call leaves the generator as it was and ends the episodes in progress,
        so ``step`` raises ``ResetNeeded`` until a ``reset`` succeeds.

        Raises:
            TypeError: If ``seed`` is not an int or None, or ``options`` is not
                a dict or None.
            ValueError: For a negative seed, an unknown option or start state.
        """
        try:
            if seed is not None:
                if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
                    raise TypeError(
                        "the native vector env draws every sub-env from one "
                        f"generator: pass one int seed (or None), got {seed!r}"
                    )
                check_integer("seed", seed, low=0)
            start = check_reset_options(self.mdp.sparse, options)
            super().reset(seed=seed)
        except Exception:
            self._has_reset = False
            raise
        self._has_reset = True
        if start is not None:
            states = np.full(self.num_envs, start, dtype=np.uint8)
        elif self._random_start:
            states = self._random_starts(self._draw())
        else:
            states = np.full(self.num_envs, self._start_states[0], dtype=np.uint8)
        self._state = states
        self._elapsed[:] = 0
        out = self._outputs()
        np.copyto(out.observations, states)
        np.take(self._table.state_masks, states, out=out.mask_words)
        out.cost[:] = 0.0
        out.outcome[:] = 0
        out.invalid[:] = False
        return out.observations, out.info()

    def _outputs(self) -> _Outputs:
        if self._reused is not None:
            return self._reused
        return _Outputs.empty(self.num_envs, self.mdp.n_actions)

    def step(
        self, actions: NDArray[Any]
    ) -> tuple[
        NDArray[np.int64],
        NDArray[np.float64],
        NDArray[np.bool_],
        NDArray[np.bool_],
        dict[str, Any],
    ]:
        """Step every sub-env with its action; see the class docstring.

        Raises:
            ResetNeeded: Before the first ``reset``, or after a rejected one.
            TypeError, ValueError: For actions of the wrong dtype, shape or range.
            InvalidActionError: Under ``invalid_action="raise"``, for an action
                with no transition.
        """
        if not self._has_reset:
            raise ResetNeeded(
                "call reset() before step(): no episode is in progress (the env "
                "was never reset, or its last reset was rejected)"
            )
        compiled = _compiled_step() if self._compiled_size else None
        actions = self._check_type(actions)
        if compiled is None or compiled.refuses(
            self._state,
            actions,
            self._table.has_transition,
            self._n_actions,
            self._refuse_invalid,
        ):
            actions = self._check_actions(actions)
            rows = np.multiply(
                self._state,
                self._rows.dtype.type(self._n_actions),
                out=self._rows,
                casting="unsafe",
            )
            rows += actions
            if self._refuse_invalid:
                self._check_transitions(rows)
        self._actions = actions
        draws = self._draw()
        out = self._outputs()
        chunks = self._chunks
        if len(chunks) == 1:
            self._advance(chunks[0], draws, out, compiled)
        else:
            for future in [
                self._pool().submit(self._advance, c, draws, out, compiled)
                for c in chunks
            ]:
                future.result()
        return out.observations, out.reward, out.terminated, out.truncated, out.info()

    def _advance(
        self,
        chunk: slice,
        all_draws: NDArray[np.uint32],
        out_all: _Outputs,
        compiled: _Compiled | None,
    ) -> None:
        """Finish the step for the sub-envs in ``chunk``: elementwise operations.

        One compiled loop when ``step`` chose it, else whole-array NumPy
        operations on ``self._rows`` (the rows of stored state and action).
        """
        if compiled is not None:
            compiled.step(
                chunk.start,
                chunk.stop,
                self._state,
                self._actions,
                all_draws,
                self._elapsed,
                *self._kernel_tables,
                out_all.arrays,
                self._action_slots,
                self._slot_bounds,
            )
            return
        table, layout = self._table, self._table.layout
        draws = all_draws[chunk]
        out = out_all if len(self._chunks) == 1 else out_all.part(chunk)
        state = self._state[chunk]
        j = self._rows[chunk]
        flag = self._flag[chunk]
        scratch = self._scratch[chunk]
        if table.n_slots == 2:
            thresholds: NDArray[np.uint32] | np.uint32
            if table.single_threshold is None:
                thresholds = np.take(
                    table.thresholds[0], j, mode="clip", out=self._thresholds[chunk]
                )
            else:
                thresholds = table.single_threshold
            j <<= j.dtype.type(1)
            j += np.greater_equal(draws, thresholds, out=flag)
        else:
            slots = self._slots[chunk]
            slots[:] = 0
            for bound in table.thresholds:
                np.take(bound, j, mode="clip", out=self._thresholds[chunk])
                slots += np.greater_equal(draws, self._thresholds[chunk], out=flag)
            j *= j.dtype.type(table.n_slots)
            j += slots
        packed = np.take(table.packed, j, mode="clip", out=self._packed_buffer[chunk])
        np.take(table.reward, j, mode="clip", out=out.reward)
        np.take(table.transition_masks, j, mode="clip", out=out.mask_words)
        resetting = np.greater_equal(state, np.uint8(layout.reset_bit), out=flag)
        np.copyto(
            state,
            np.bitwise_and(packed, layout.state_mask, out=scratch),
            casting="unsafe",
        )
        if self._random_start and resetting.any():
            starts = self._random_starts(draws[resetting])
            state[resetting] = starts
            out.mask_words[resetting] = np.take(table.state_masks, starts)
        np.copyto(out.observations, state)
        np.not_equal(
            np.bitwise_and(packed, 1 << layout.terminated_shift, out=scratch),
            0,
            out=out.terminated,
        )
        np.not_equal(
            np.bitwise_and(packed, 1 << layout.invalid_shift, out=scratch),
            0,
            out=out.invalid,
        )
        np.copyto(
            out.cost,
            np.right_shift(packed, layout.cost_shift, out=scratch),
            casting="unsafe",
        )
        np.right_shift(packed, layout.outcome_shift, out=scratch)
        np.copyto(
            out.outcome,
            np.bitwise_and(scratch, layout.outcome_mask, out=scratch),
            casting="unsafe",
        )
        elapsed = self._elapsed[chunk]
        elapsed += 1
        elapsed *= np.logical_not(resetting, out=self._other_flag[chunk])
        if self.max_episode_steps is None:
            out.truncated[:] = False
        else:
            np.greater_equal(elapsed, self.max_episode_steps, out=out.truncated)
        ended = np.logical_or(out.terminated, out.truncated, out=flag)
        state |= np.left_shift(
            ended.view(np.uint8), layout.state_bits, out=self._slots[chunk]
        )

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=len(self._chunks))
        return self._executor

    def close_extras(self, **kwargs: Any) -> None:
        """Stop the worker threads, if any were started."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _draw(self) -> NDArray[np.uint32]:
        """``num_envs`` uniform 32-bit draws from the env's generator.

        A bit generator whose raw outputs are full 64-bit words gives two draws
        per word (the fast path, for NumPy's default PCG64); any other, such as
        MT19937 (32-bit words) set as ``np_random`` by a user, draws through
        ``integers``.
        """
        generator = self.np_random
        if isinstance(generator.bit_generator, _FULL_64_BIT_GENERATORS):
            raw = generator.bit_generator.random_raw((self.num_envs + 1) // 2)
            return np.asarray(raw).view(np.uint32)[: self.num_envs]
        return generator.integers(0, 2**32, self.num_envs, dtype=np.uint32)

    def _random_starts(self, draws: NDArray[np.uint32]) -> NDArray[np.uint8]:
        """Map draws onto start states.

        Uniformly onto the non-terminal states with exploring starts, else
        onto the task's start distribution.
        """
        if not self._exploring_starts:
            chosen = np.searchsorted(self._start_thresholds, draws, side="right")
            return self._start_states[chosen]
        states = self._non_terminal
        picks = (draws.astype(np.uint64) * len(states)) >> np.uint64(32)
        return states[picks.astype(np.intp)]

    def _check_type(self, actions: Any) -> NDArray[Any]:
        """Return ``actions`` as an array if they are ``(num_envs,)`` integers.

        Raises:
            TypeError: For a non-integer dtype (booleans included).
            ValueError: For a wrong shape.
        """
        n_actions = self._n_actions
        checked: NDArray[Any] = np.asarray(actions)
        if checked.dtype.kind not in "iu":
            raise TypeError(
                f"actions must be integers in [0, {n_actions - 1}], "
                f"got dtype {checked.dtype}"
            )
        if checked.shape != (self.num_envs,):
            raise ValueError(
                f"actions must have shape ({self.num_envs},), got {checked.shape}"
            )
        return checked

    def _check_actions(self, actions: Any) -> NDArray[np.uint8]:
        """Return ``actions`` as uint8 if they are ``(num_envs,)`` integers in range.

        Raises:
            TypeError: For a non-integer dtype (booleans included).
            ValueError: For a wrong shape or an action out of range.
        """
        n_actions = self._n_actions
        actions = self._check_type(actions)
        # One reduction: read as unsigned, a negative action is a huge one.
        unsigned = actions.view(actions.dtype.str.replace("i", "u"))
        if unsigned.max() >= n_actions:
            low, high = actions.min(), actions.max()
            bad = int(low if low < 0 else high)
            raise ValueError(
                f"action {bad} is out of range; allowed actions are integers in "
                f"[0, {n_actions - 1}]"
            )
        return np.asarray(actions, dtype=np.uint8)

    def _check_transitions(self, rows: NDArray[np.uint8]) -> None:
        """Under ``invalid_action="raise"``, refuse actions with no transition."""
        allowed = np.take(self._table.has_transition, rows, mode="clip")
        if not allowed.all():
            index = int(np.argmin(allowed))
            state, action = divmod(int(rows[index]), self.mdp.n_actions)
            table = self.mdp.table
            raise InvalidActionError(
                f"sub-env {index}: "
                + invalid_action_message(
                    state,
                    action,
                    self.mdp.valid_action_mask[state],
                    table.state_names[state],
                    table.action_names,
                )
            )

    def action_masks(self) -> NDArray[np.int8]:
        """``(num_envs, A)`` the current valid-action masks (none while resetting)."""
        words = np.take(self._table.state_masks, self._state, mode="clip")
        return words.view(np.int8).reshape(self.num_envs, self.mdp.n_actions)


class AccessReviewVectorEnv(TaskVectorEnv):
    """``num_envs`` independent AccessReview-v0 episodes, stepped together.

    Made by ``gym.make_vec("AccessReview-v0", num_envs=N,
    vectorization_mode="vector_entry_point")``, with the single env's keyword
    arguments (see ``AccessReviewEnv``) plus:

    - ``max_episode_steps``: per-sub-env time limit (default 20, the registered
      one; None for no limit);
    - ``copy``: as in ``SyncVectorEnv``; ``True`` (default) returns fresh arrays
      from every call, ``False`` returns buffers the next call overwrites
      (faster for large batches: no page faults on new memory);
    - ``threads``: worker threads for batches of at least 2^18 sub-envs (default
      one per CPU core available, at most 8; more than one per core is refused).
      Draws are made before the work is split, so results do not depend on the
      thread count.

    These settings and the MDP are read-only after construction.

    Semantics match ``SyncVectorEnv`` over ``gym.make("AccessReview-v0")`` in
    Gymnasium's default ``NEXT_STEP`` autoreset mode: the step after a sub-env
    terminates or is truncated resets it, ignores its action and returns its
    start observation with reward 0 and ``terminated = truncated = False``.
    As there, ``step`` raises ``gymnasium.error.ResetNeeded`` before the first
    ``reset``; a ``reset`` rejected for its seed or options changes nothing
    (the generator included) but ends the episodes in progress, so ``step``
    raises ``ResetNeeded`` until a ``reset`` succeeds.

    Data types: observations are ``int64``; rewards are ``float64``, like the
    single env's Python floats and ``SyncVectorEnv``'s rewards, so every reward
    the single env can return (``1e39`` included) comes back unchanged; branch
    draws are 32-bit, so a transition probability is honoured to within
    ``2**-32``.

    ``info`` holds, in Gymnasium's vector convention (each key ``k`` beside a
    boolean ``_k`` saying which sub-envs report it; here all do):

    - ``action_mask`` ``(N, 4)`` int8;
    - ``cost`` ``(N,)`` float32, 1.0 for a policy violation;
    - ``outcome`` ``(N,)`` int8, an index into ``access_review_env.OUTCOMES``
      (``0``, ``"pending"``, until a request closes);
    - ``invalid_action`` ``(N,)`` bool.

    Seeding: ``reset(seed=s)`` seeds one generator that draws for every sub-env,
    so the same seed and actions give the same batch of trajectories. A list of
    per-env seeds is not supported.

    Pickling and ``copy.deepcopy`` work at any point (the worker threads are
    left out and restarted by the next large step).
    """

    def __init__(
        self,
        num_envs: int,
        abandonment_prob: float = 0.25,
        rewards: RewardSpec = "outcome_aware",
        invalid_action: InvalidActionRule = "penalize",
        invalid_action_reward: float = -10.0,
        exploring_starts: bool = False,
        render_mode: str | None = None,
        max_episode_steps: int | None = MAX_EPISODE_STEPS,
        copy: bool = True,
        threads: int | None = None,
    ) -> None:
        """Build ``num_envs`` sub-envs; see the class docstring for the arguments."""
        if render_mode is not None:
            raise ValueError(
                f"render_mode {render_mode!r} is not supported by the vector env; "
                "render a single AccessReviewEnv instead"
            )
        check_integer("num_envs", num_envs, low=1)
        super().__init__(
            num_envs,
            AccessReviewMDP(
                abandonment_prob=abandonment_prob,
                rewards=rewards,
                invalid_action=invalid_action,
                invalid_action_reward=invalid_action_reward,
            ),
            exploring_starts,
            max_episode_steps,
            copy,
            threads,
        )


class AccessReviewRiskVectorEnv(TaskVectorEnv):
    """``num_envs`` independent AccessReviewRisk-v0 episodes, stepped together.

    Made by ``gym.make_vec("AccessReviewRisk-v0", num_envs=N,
    vectorization_mode="vector_entry_point")``, with the single env's keyword
    arguments (see ``AccessReviewRiskEnv``) plus ``max_episode_steps``,
    ``copy`` and ``threads`` as in :class:`AccessReviewVectorEnv`, whose
    semantics, data types, ``info`` keys and seeding it shares. Every reset,
    autoresets included, draws the request's kind from the start distribution.
    """

    def __init__(
        self,
        num_envs: int,
        abandonment_prob: float = 0.25,
        clear_evidence_share: float = 0.5,
        unjustified_share: float = 0.2,
        rewards: RewardSpec = "outcome_aware",
        invalid_action: InvalidActionRule = "penalize",
        invalid_action_reward: float = -10.0,
        exploring_starts: bool = False,
        render_mode: str | None = None,
        max_episode_steps: int | None = MAX_EPISODE_STEPS,
        copy: bool = True,
        threads: int | None = None,
    ) -> None:
        """Build ``num_envs`` sub-envs; see the class docstring for the arguments."""
        if render_mode is not None:
            raise ValueError(
                f"render_mode {render_mode!r} is not supported by the vector env; "
                "render a single AccessReviewRiskEnv instead"
            )
        check_integer("num_envs", num_envs, low=1)
        super().__init__(
            num_envs,
            AccessReviewRiskMDP(
                abandonment_prob=abandonment_prob,
                clear_evidence_share=clear_evidence_share,
                unjustified_share=unjustified_share,
                rewards=rewards,
                invalid_action=invalid_action,
                invalid_action_reward=invalid_action_reward,
            ),
            exploring_starts,
            max_episode_steps,
            copy,
            threads,
        )
