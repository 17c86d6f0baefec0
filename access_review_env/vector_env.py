"""``AccessReviewVectorEnv``: many AccessReview-v0 instances stepped as NumPy arrays.

It reads the same :class:`~access_review_env.mdp.AccessReviewMDP` as the single
env and compiles its outcomes into flat lookup tables, so a batched step is a
handful of whole-array operations: one draw of 32-bit integers, a few small
integer operations, and four ``np.take`` gathers. Gymnasium's ``NEXT_STEP``
autoreset is one more row of the same tables: a sub-env whose episode ended is
parked (its stored state gets the ``RESET`` bit), and every action of a parked
state leads to the start state with reward 0.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from numpy.typing import NDArray

from access_review_env.actions import InvalidActionError, invalid_action_message
from access_review_env.env import check_reset_options
from access_review_env.mdp import AccessReviewMDP, InvalidActionRule, RewardSpec
from access_review_env.registration import MAX_EPISODE_STEPS
from access_review_env.table import (
    ACTIONS,
    NON_TERMINAL_STATES,
    OUTCOMES,
    START_STATE,
    STATES,
)

N_STATES, N_ACTIONS = len(STATES), len(ACTIONS)
_RESET_SHIFT = (N_STATES - 1).bit_length()
RESET = 1 << _RESET_SHIFT
"""Bit set on the stored state of a sub-env whose episode ended: states
``RESET | s`` are parked, and their next step is a reset whatever the action."""
N_CODES = 2 * RESET

# Layout of a transition's packed uint16: bits 0-2 next state, 3 terminated,
# 4 invalid action, 5-7 outcome index, 8 policy violation.
_STATE_BITS = 0b111
_BIT_TERMINATED = 3
_BIT_INVALID = 4
_BIT_OUTCOME = 5
_BIT_COST = 8
_THRESHOLD_SCALE = 2**32
_PARALLEL_MIN_ENVS = 2**18
"""Below this many sub-envs a step stays on the calling thread: handing work to
threads costs more than it saves."""

Words = NDArray[np.void]


@dataclass
class _Outputs:
    """The arrays one call returns (fresh per call unless ``copy=False``)."""

    observations: NDArray[np.int64]
    reward: NDArray[np.float32]
    terminated: NDArray[np.bool_]
    truncated: NDArray[np.bool_]
    action_mask: NDArray[np.int8]
    cost: NDArray[np.float32]
    outcome: NDArray[np.int8]
    invalid: NDArray[np.bool_]
    reported: NDArray[np.bool_]

    @classmethod
    def empty(cls, n: int) -> _Outputs:
        reported = np.ones(n, dtype=bool)
        reported.flags.writeable = False
        return cls(
            observations=np.empty(n, dtype=np.int64),
            reward=np.empty(n, dtype=np.float32),
            terminated=np.empty(n, dtype=bool),
            truncated=np.empty(n, dtype=bool),
            action_mask=np.empty((n, N_ACTIONS), dtype=np.int8),
            cost=np.empty(n, dtype=np.float32),
            outcome=np.empty(n, dtype=np.int8),
            invalid=np.empty(n, dtype=bool),
            reported=reported,
        )

    def part(self, chunk: slice) -> _Outputs:
        """Views of every array for the sub-envs in ``chunk``."""
        return _Outputs(**{f.name: getattr(self, f.name)[chunk] for f in fields(self)})

    @property
    def mask_words(self) -> Words:
        """``action_mask`` seen as one word per sub-env, to gather into."""
        return _as_words(self.action_mask)

    def info(self) -> dict[str, Any]:
        """The info dict in Gymnasium's vector convention: every sub-env reports."""
        info = {
            "action_mask": self.action_mask,
            "cost": self.cost,
            "outcome": self.outcome,
            "invalid_action": self.invalid,
        }
        return info | {f"_{key}": self.reported for key in info}


def _as_words(masks: NDArray[np.int8]) -> Words:
    """View ``(K, A)`` int8 masks as ``(K,)`` words, so gathering masks is one take.

    A view, never a copy: gathers write through it into output buffers.
    """
    if masks.dtype != np.int8 or not masks.flags.c_contiguous:
        raise ValueError("mask words need a C-contiguous int8 array")
    return masks.view(np.dtype((np.void, N_ACTIONS))).reshape(-1)


def _check_threads(threads: int | None) -> int:
    """Worker threads for large batches: ``threads``, or one per CPU when None."""
    if threads is None:
        return max(1, min(os.cpu_count() or 1, 8))
    if (
        isinstance(threads, bool)
        or not isinstance(threads, int | np.integer)
        or threads < 1
    ):
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
    return int(threads)


class AccessReviewVectorEnv(
    VectorEnv[NDArray[np.int64], NDArray[np.int64], NDArray[Any]]
):
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
      one per CPU, at most 8). Draws are made before the work is split, so
      results do not depend on the thread count.

    Semantics match ``SyncVectorEnv`` over ``gym.make("AccessReview-v0")`` in
    Gymnasium's default ``NEXT_STEP`` autoreset mode: the step after a sub-env
    terminates or is truncated resets it, ignores its action and returns its
    start observation with reward 0 and ``terminated = truncated = False``.

    Data types: observations are ``int64``; rewards are ``float32`` (exact for
    the presets); branch draws are 32-bit, so a transition probability is
    honoured to within ``2**-32``.

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
    """

    _executor: ThreadPoolExecutor | None = None
    """Worker threads, started by the first large step (a class default, so that
    ``close`` works even on an env whose construction failed)."""

    metadata = {  # noqa: RUF012
        "autoreset_mode": AutoresetMode.NEXT_STEP,
        "render_modes": [],
        "outcomes": OUTCOMES,
    }

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
        if isinstance(num_envs, bool) or not isinstance(num_envs, int | np.integer):
            raise TypeError(f"num_envs must be a positive integer, got {num_envs!r}")
        if num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs}")
        if max_episode_steps is not None and (
            isinstance(max_episode_steps, bool)
            or not isinstance(max_episode_steps, int | np.integer)
            or not 1 <= max_episode_steps <= np.iinfo(np.int16).max
        ):
            raise ValueError(
                "max_episode_steps must be an integer in [1, 32767] or None, "
                f"got {max_episode_steps!r}"
            )
        if render_mode is not None:
            raise ValueError(
                f"render_mode {render_mode!r} is not supported by the vector env; "
                "render a single AccessReviewEnv instead"
            )
        if not isinstance(exploring_starts, bool):
            raise TypeError(
                f"exploring_starts must be a bool, got {exploring_starts!r}"
            )
        self.mdp = AccessReviewMDP(
            abandonment_prob, rewards, invalid_action, invalid_action_reward
        )
        self.num_envs = int(num_envs)
        self.exploring_starts = exploring_starts
        self.max_episode_steps = max_episode_steps
        self.copy = bool(copy)
        self.render_mode = None
        self.single_observation_space = spaces.Discrete(N_STATES)
        self.single_action_space = spaces.Discrete(N_ACTIONS)
        self.observation_space = batch_space(
            self.single_observation_space, self.num_envs
        )
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._compile_tables()
        self._state = np.full(self.num_envs, RESET, dtype=np.uint8)
        self._elapsed = np.zeros(self.num_envs, dtype=np.int16)
        # Scratch space for values a step does not return.
        self._rows = np.empty(self.num_envs, dtype=np.uint8)
        self._thresholds = np.empty(self.num_envs, dtype=np.uint32)
        self._flag = np.empty(self.num_envs, dtype=bool)
        self._other_flag = np.empty(self.num_envs, dtype=bool)
        self._packed_buffer = np.empty(self.num_envs, dtype=np.uint16)
        self._scratch = np.empty(self.num_envs, dtype=np.uint16)
        self._reused = None if self.copy else _Outputs.empty(self.num_envs)
        self.threads = _check_threads(threads)
        n_chunks = self.threads if self.num_envs >= _PARALLEL_MIN_ENVS else 1
        bounds = np.linspace(0, self.num_envs, n_chunks + 1).astype(int)
        self._chunks = [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]

    def _compile_tables(self) -> None:
        """Flatten ``mdp.outcomes`` into tables indexed by ``2 * (s * A + a) + k``."""
        n_rows = N_CODES * N_ACTIONS
        valid = self.mdp.valid_action_mask
        threshold = np.zeros(n_rows, dtype=np.uint32)
        has_transition = np.ones(n_rows, dtype=bool)
        packed = np.full(2 * n_rows, START_STATE, dtype=np.uint16)
        reward = np.zeros(2 * n_rows, dtype=np.float32)
        masks = np.tile(valid[START_STATE], (2 * n_rows, 1))
        two_branch_thresholds: set[int] = set()
        for state in range(N_STATES):
            for action in range(N_ACTIONS):
                row = state * N_ACTIONS + action
                branches = self.mdp.outcomes[state][action]
                if not branches:
                    has_transition[row] = False
                    continue
                if len(branches) > 2:
                    raise ValueError("the vector env samples at most two branches")
                first = branches[0].probability if len(branches) == 2 else 1.0
                threshold[row] = min(
                    round(first * _THRESHOLD_SCALE), _THRESHOLD_SCALE - 1
                )
                if len(branches) == 2:
                    two_branch_thresholds.add(int(threshold[row]))
                # A single branch fills both slots, so the draw cannot matter.
                for slot, branch in enumerate((branches[0], branches[-1])):
                    j = 2 * row + slot
                    packed[j] = (
                        branch.next_state
                        | int(branch.terminated) << _BIT_TERMINATED
                        | int(branch.invalid_action) << _BIT_INVALID
                        | OUTCOMES.index(branch.outcome) << _BIT_OUTCOME
                        | int(branch.cost != 0.0) << _BIT_COST
                    )
                    reward[j] = branch.reward
                    masks[j] = valid[branch.next_state]
        self._threshold = threshold
        # A one-branch row fills both slots, so when every two-branch row has
        # the same threshold one scalar comparison decides every branch.
        self._single_threshold = (
            np.uint32(next(iter(two_branch_thresholds), 0))
            if len(two_branch_thresholds) <= 1
            else None
        )
        self._has_transition = has_transition
        self._packed = packed
        self._reward = reward
        self._transition_masks = _as_words(masks)
        parked = np.zeros((N_CODES - N_STATES, N_ACTIONS), np.int8)
        self._state_masks = _as_words(np.vstack([valid, parked]))

    def reset(
        self,
        *,
        seed: int | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[NDArray[np.int64], dict[str, Any]]:
        """Start every sub-env (see ``AccessReviewEnv.reset`` for the start states).

        Raises:
            TypeError: If ``seed`` is not an int or None.
            ValueError: For an unknown option or start state.
        """
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, int | np.integer)
        ):
            raise TypeError(
                "AccessReviewVectorEnv draws every sub-env from one generator: "
                f"pass one int seed (or None), got {seed!r}"
            )
        super().reset(seed=seed)
        start = check_reset_options(options)
        if start is not None:
            states = np.full(self.num_envs, start, dtype=np.uint8)
        elif self.exploring_starts:
            states = self._random_starts(self._draw())
        else:
            states = np.full(self.num_envs, START_STATE, dtype=np.uint8)
        self._state = states
        self._elapsed[:] = 0
        out = self._outputs()
        np.copyto(out.observations, states)
        np.take(self._state_masks, states, out=out.mask_words)
        out.cost[:] = 0.0
        out.outcome[:] = 0
        out.invalid[:] = False
        return out.observations, out.info()

    def _outputs(self) -> _Outputs:
        return (
            self._reused if self._reused is not None else _Outputs.empty(self.num_envs)
        )

    def step(
        self, actions: NDArray[Any]
    ) -> tuple[
        NDArray[np.int64],
        NDArray[np.float32],
        NDArray[np.bool_],
        NDArray[np.bool_],
        dict[str, Any],
    ]:
        """Step every sub-env with its action; see the class docstring."""
        actions = self._check_actions(actions)
        rows = np.multiply(self._state, np.uint8(N_ACTIONS), out=self._rows)
        rows += actions
        if self.mdp.invalid_action == "raise":
            self._check_transitions(rows)
        draws = self._draw()
        out = self._outputs()
        chunks = self._chunks
        if len(chunks) == 1:
            self._advance(chunks[0], draws, out)
        else:
            for future in [
                self._pool().submit(self._advance, c, draws, out) for c in chunks
            ]:
                future.result()
        return out.observations, out.reward, out.terminated, out.truncated, out.info()

    def _advance(
        self, chunk: slice, all_draws: NDArray[np.uint32], out_all: _Outputs
    ) -> None:
        """Finish the step for the sub-envs in ``chunk``: elementwise operations."""
        draws = all_draws[chunk]
        out = out_all.part(chunk)
        state = self._state[chunk]
        j = self._rows[chunk]
        flag = self._flag[chunk]
        scratch = self._scratch[chunk]
        thresholds: NDArray[np.uint32] | np.uint32
        if self._single_threshold is None:
            thresholds = np.take(
                self._threshold, j, mode="clip", out=self._thresholds[chunk]
            )
        else:
            thresholds = self._single_threshold
        j <<= np.uint8(1)
        j += np.greater_equal(draws, thresholds, out=flag)
        packed = np.take(self._packed, j, mode="clip", out=self._packed_buffer[chunk])
        np.take(self._reward, j, mode="clip", out=out.reward)
        np.take(self._transition_masks, j, mode="clip", out=out.mask_words)
        resetting = np.greater_equal(state, np.uint8(RESET), out=flag)
        np.copyto(
            state, np.bitwise_and(packed, _STATE_BITS, out=scratch), casting="unsafe"
        )
        if self.exploring_starts and resetting.any():
            starts = self._random_starts(draws[resetting])
            state[resetting] = starts
            out.mask_words[resetting] = np.take(self._state_masks, starts)
        np.copyto(out.observations, state)
        np.not_equal(
            np.bitwise_and(packed, 1 << _BIT_TERMINATED, out=scratch),
            0,
            out=out.terminated,
        )
        np.not_equal(
            np.bitwise_and(packed, 1 << _BIT_INVALID, out=scratch), 0, out=out.invalid
        )
        np.copyto(
            out.cost, np.right_shift(packed, _BIT_COST, out=scratch), casting="unsafe"
        )
        np.right_shift(packed, _BIT_OUTCOME, out=scratch)
        np.copyto(
            out.outcome, np.bitwise_and(scratch, 7, out=scratch), casting="unsafe"
        )
        elapsed = self._elapsed[chunk]
        elapsed += 1
        elapsed *= np.logical_not(resetting, out=self._other_flag[chunk])
        if self.max_episode_steps is None:
            out.truncated[:] = False
        else:
            np.greater_equal(elapsed, self.max_episode_steps, out=out.truncated)
        ended = np.logical_or(out.terminated, out.truncated, out=flag)
        state |= np.left_shift(ended.view(np.uint8), _RESET_SHIFT, out=j)

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
        """``num_envs`` uniform 32-bit draws from the env's generator."""
        raw = self.np_random.bit_generator.random_raw((self.num_envs + 1) // 2)
        return np.asarray(raw).view(np.uint32)[: self.num_envs]

    def _random_starts(self, draws: NDArray[np.uint32]) -> NDArray[np.uint8]:
        """Map draws uniformly onto the non-terminal states."""
        picks = (draws.astype(np.uint64) * len(NON_TERMINAL_STATES)) >> np.uint64(32)
        return np.asarray(NON_TERMINAL_STATES, dtype=np.uint8)[picks.astype(np.intp)]

    def _check_actions(self, actions: Any) -> NDArray[np.uint8]:
        """Return ``actions`` as uint8 if they are ``(num_envs,)`` integers in range.

        Raises:
            TypeError: For a non-integer dtype (booleans included).
            ValueError: For a wrong shape or an action out of range.
        """
        actions = np.asarray(actions)
        if actions.dtype.kind not in "iu":
            raise TypeError(
                f"actions must be integers in [0, {N_ACTIONS - 1}], "
                f"got dtype {actions.dtype}"
            )
        if actions.shape != (self.num_envs,):
            raise ValueError(
                f"actions must have shape ({self.num_envs},), got {actions.shape}"
            )
        low, high = actions.min(), actions.max()
        if low < 0 or high >= N_ACTIONS:
            bad = int(low if low < 0 else high)
            raise ValueError(
                f"action {bad} is out of range; allowed actions are integers in "
                f"[0, {N_ACTIONS - 1}]"
            )
        return np.asarray(actions, dtype=np.uint8)

    def _check_transitions(self, rows: NDArray[np.uint8]) -> None:
        """Under ``invalid_action="raise"``, refuse actions with no transition."""
        allowed = np.take(self._has_transition, rows, mode="clip")
        if not allowed.all():
            index = int(np.argmin(allowed))
            state, action = divmod(int(rows[index]), N_ACTIONS)
            raise InvalidActionError(
                f"sub-env {index}: "
                + invalid_action_message(
                    state, action, self.mdp.valid_action_mask[state]
                )
            )

    def action_masks(self) -> NDArray[np.int8]:
        """``(num_envs, 4)`` the current valid-action masks (none while resetting)."""
        words = np.take(self._state_masks, self._state, mode="clip")
        return words.view(np.int8).reshape(self.num_envs, N_ACTIONS)
