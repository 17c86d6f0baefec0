"""The single-instance Gymnasium environments, one class per task.

:class:`TaskEnv` is the mechanism every task shares: spaces, ``reset``, ``step``,
``render`` and ``action_masks``, all read from a task's model (a
:class:`~access_review_env.model.task_model.TaskModel`): ``step`` samples its
decision branch, then its event branch if the model has an event stage, from
the model's :class:`~access_review_env.model.sparse.SparseMDP`. A task's env
class only names its declaration and carries its manual.
"""

from __future__ import annotations

import weakref
from bisect import bisect_right
from typing import Any, ClassVar, SupportsFloat, TypeAlias

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from numpy.typing import NDArray

from access_review_env.actions import (
    InvalidActionError,
    check_action,
    invalid_action_message,
)
from access_review_env.model import GymTransition, TaskModel
from access_review_env.model.catalog import ACCESS_REVIEW_TASK
from access_review_env.model.declarations import (
    ENV_PARAMETERS,
    TaskDeclaration,
    arguments_section,
    bind,
    signature,
    split,
)
from access_review_env.model.sparse import SparseMDP, SparseStage
from access_review_env.reset_options import check_reset_options

_UNIFORM_BLOCK = 256
RENDER_MODES = ("ansi", "human", "rgb_array")
EAGER_ROWS = 2**12
"""Models with at most this many (state, action) rows have every row compiled
when the env is built; larger ones compile rows as ``step`` first meets them."""
LAZY_CACHE_ROWS = 2**20
"""The compiled rows a large model's env keeps; the cache starts over when full."""
FEATURE_TABLE_STATES = 2**22
"""Up to this many states the feature observation of every state is computed
once (at most 2**22 x d float32); above it, per step."""

_Branch: TypeAlias = "tuple[int, float, np.float64, int, bool, np.float64]"
"""A compiled branch: target, reward, cost, outcome, invalid action, probability."""
_Row: TypeAlias = "tuple[tuple[float, ...] | None, _Branch, tuple[_Branch, ...]] | None"
"""A compiled row: thresholds (None with one branch), the first branch, all
branches; None when the row has no branch."""


def _compile(stage: SparseStage, row: int) -> _Row:
    """Flatten one row's branches for ``step``'s hot path.

    With one branch, ``thresholds`` is None and it is taken without a draw;
    otherwise a uniform draw ``u`` takes the first branch whose threshold
    exceeds ``u`` (the cumulative probabilities of all but the last branch).
    """
    first, last = int(stage.indptr[row]), int(stage.indptr[row + 1])
    if first == last:
        return None
    branches = tuple(
        (
            int(stage.target[j]),
            float(stage.reward[j]),
            np.float64(stage.cost[j]),
            int(stage.outcome[j]),
            bool(stage.invalid[j]),
            np.float64(stage.probability[j]),
        )
        for j in range(first, last)
    )
    if len(branches) == 1:
        return None, branches[0], branches
    cumulative = np.cumsum(stage.probability[first : last - 1]).tolist()
    return tuple(cumulative), branches[0], branches


class _Rows:
    """A stage's compiled rows: all of them at once, or each on first use.

    One per stage, shared by every env of that model (see :func:`_rows_of`):
    compiling is a pure function of the read-only model.
    """

    def __init__(self, stage: SparseStage) -> None:
        self.stage = stage
        self.eager: list[_Row] | None = None
        self.cache: dict[int, _Row] = {}
        if stage.n_rows <= EAGER_ROWS:
            self.eager = [_compile(stage, row) for row in range(stage.n_rows)]

    def __getitem__(self, row: int) -> _Row:
        if self.eager is not None:
            return self.eager[row]
        compiled = self.cache.get(row, False)
        if compiled is False:
            if len(self.cache) >= LAZY_CACHE_ROWS:
                self.cache.clear()
            compiled = self.cache[row] = _compile(self.stage, row)
        return compiled  # type: ignore[return-value]


_COMPILED: weakref.WeakKeyDictionary[SparseStage, _Rows] = weakref.WeakKeyDictionary()


def _rows_of(stage: SparseStage) -> _Rows:
    """The compiled rows of ``stage``, compiled once however many envs read it."""
    rows = _COMPILED.get(stage)
    if rows is None:
        rows = _COMPILED[stage] = _Rows(stage)
    return rows


class TaskEnv(gym.Env[Any, int]):
    """The mechanism every task's env shares; see :class:`AccessReviewEnv`.

    A subclass names its task's :class:`TaskDeclaration` as ``declaration``
    and takes that task's keywords plus ``exploring_starts``, ``observation``
    and ``render_mode``; ``TaskEnv.from_model(model, ...)`` builds an env of a
    model made elsewhere. The model and the env's settings are read-only:
    ``step`` is compiled from them.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 4}  # noqa: RUF012
    declaration: ClassVar[TaskDeclaration | None] = None
    """The task a subclass builds (None for :class:`TaskEnv` itself)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give a task's env class its keyword signature and ``## Arguments`` text."""
        super().__init_subclass__(**kwargs)
        declaration = cls.__dict__.get("declaration")
        if declaration is None:
            return
        cls.__signature__ = signature(  # type: ignore[attr-defined]
            declaration.parameters, ENV_PARAMETERS
        )
        if cls.__doc__ and "## Arguments\n" in cls.__doc__:
            section = arguments_section(
                f"import gymnasium as gym\nimport access_review_env  # registers the "
                f'id\n\ngym.make(\n    "{declaration.env_id}",',
                declaration.parameters,
                ENV_PARAMETERS,
            )
            indented = "".join(
                f"    {line}\n" if line else "\n" for line in section.splitlines()
            )
            cls.__doc__ = cls.__doc__.replace(
                "## Arguments\n", "## Arguments\n" + indented, 1
            )

    def __init__(self, **arguments: Any) -> None:
        """Build the env of this class's task; see the class docstring."""
        declaration = type(self).declaration
        if declaration is None:
            raise TypeError(
                "TaskEnv needs a task: use a task's env class (such as "
                "AccessReviewEnv) or TaskEnv.from_model(model)"
            )
        task, env = split(arguments, declaration.parameters, ENV_PARAMETERS)
        self._setup(
            declaration.model(**task), **bind(type(self).__name__, ENV_PARAMETERS, env)
        )

    @classmethod
    def from_model(cls, model: TaskModel, **settings: Any) -> TaskEnv:
        """An env of ``model``; settings as for a task's env class.

        Raises:
            TypeError, ValueError: For a setting that is not allowed.
        """
        env = cls.__new__(cls)
        env._setup(model, **bind("TaskEnv.from_model", ENV_PARAMETERS, settings))
        return env

    def _setup(
        self,
        model: TaskModel,
        exploring_starts: bool,
        observation: str,
        render_mode: str | None,
    ) -> None:
        sparse = model.sparse
        self._mdp = model
        self._sparse = sparse
        self._exploring_starts = exploring_starts
        self._observation = observation
        self.render_mode = render_mode
        n_states, n_actions = sparse.n_states, sparse.n_actions
        self._n_actions = n_actions
        self.action_space = spaces.Discrete(n_actions)  # type: ignore[assignment]
        self._features: NDArray[np.float32] | None = None
        if observation == "index":
            # Discrete is typed Space[np.int64]; the env hands out plain ints.
            self.observation_space = spaces.Discrete(n_states)  # type: ignore[assignment]
        else:
            width = len(model.feature_names)
            self.observation_space = spaces.Box(  # type: ignore[assignment]
                0.0, 1.0, (width,), dtype=np.float32
            )
            if n_states <= FEATURE_TABLE_STATES:
                self._features = model.features(np.arange(n_states))
        self._masks = sparse.valid_action_mask
        self._decisions = _rows_of(sparse.decisions)
        self._events = None if sparse.events is None else _rows_of(sparse.events)
        self._terminal = sparse.terminal
        self._ready = True
        start = self.start_distribution
        self._starts = tuple(int(s) for s in np.flatnonzero(start))
        self._start_thresholds = tuple(
            np.cumsum(start[list(self._starts)])[:-1].tolist()
        )
        self._uniforms: list[float] = []
        self._state = self._starts[0]
        self._outcome = 0
        self._last_action: int | None = None
        self._last_reward = 0.0

    @property
    def mdp(self) -> TaskModel:
        """The task's model for this configuration; ``step`` samples from it."""
        return self._mdp

    @property
    def sparse(self) -> SparseMDP:
        """The sparse MDP ``step`` samples from (``mdp.sparse``)."""
        return self._sparse

    @property
    def exploring_starts(self) -> bool:
        """Whether every episode starts in a uniformly random non-terminal state."""
        return self._exploring_starts

    @property
    def observation_mode(self) -> str:
        """``"index"`` or ``"features"``: what the observations are."""
        return self._observation

    @property
    def start_distribution(self) -> NDArray[np.float64]:
        """``(S,)`` the distribution ``reset`` draws start states from.

        The task's start distribution, or uniform over the non-terminal states
        with ``exploring_starts``; a ``start_state`` reset option overrides it
        for that one episode. Planners read this to score the env as made.
        """
        if not self.exploring_starts:
            return self._sparse.initial_distribution
        live = ~self._sparse.terminal
        uniform: NDArray[np.float64] = live / live.sum()
        uniform.flags.writeable = False
        return uniform

    @property
    def P(self) -> dict[int, dict[int, list[GymTransition]]]:
        """Gymnasium's toy-text transition dict, where affordable (``SparseMDP.P``)."""
        return self._sparse.P()

    @property
    def state_names(self) -> tuple[str, ...]:
        """State names (empty for a task with too many states to name)."""
        return self._sparse.state_names

    @property
    def action_names(self) -> tuple[str, ...]:
        """Action names; an action's index is its integer action."""
        return self._sparse.action_names

    @property
    def outcomes(self) -> tuple[str, ...]:
        """Names of the outcome indices in ``info["outcome"]``."""
        return self._sparse.outcomes

    @property
    def state(self) -> int:
        """The current state's index, read-only, whatever wrappers show an agent."""
        return self._state

    def observe(self, state: int) -> Any:
        """The observation of ``state`` in this env's observation mode."""
        if self._observation == "index":
            return state
        if self._features is not None:
            return self._features[state].copy()
        return self._mdp.features(np.asarray(state))

    def _info(self, state: int) -> dict[str, Any]:
        info = {
            "state": state,
            "action_mask": self._masks[state].copy(),
            "cost": np.float64(0.0),
            "outcome": 0,
            "invalid_action": False,
            "prob": np.float64(1.0),
        }
        if self._events is not None:
            info["event_outcome"] = 0
        return info

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Start an episode; see the task's class docstring for the start states.

        The options and seed are checked before anything changes: a rejected
        call leaves the generator as it was and ends the episode in progress,
        so ``step`` raises ``ResetNeeded`` until a ``reset`` succeeds (the
        ``TimeLimit`` wrapper of ``gym.make`` has already restarted its count
        by then, so the old episode must not go on).

        Raises:
            TypeError: If ``options`` is neither None nor a dict.
            ValueError: For an unknown option or start state.
            gymnasium.error.Error: For a seed Gymnasium refuses.
        """
        try:
            start = (
                None if options is None else check_reset_options(self._sparse, options)
            )
            if seed is not None:
                # gym.Env.reset does nothing but seed np_random, and only once
                # the seed is accepted.
                super().reset(seed=seed)
                self._uniforms = []
        except Exception:
            self._ready = False
            raise
        self._ready = True
        if start is None:
            start = self._draw_start()
        self._state = start
        self._outcome = 0
        self._last_action = None
        if self.render_mode == "human":
            self.render()
        return self.observe(start), self._info(start)

    def _draw_start(self) -> int:
        if len(self._starts) == 1:
            return self._starts[0]
        draw = self._uniform()
        return self._starts[bisect_right(self._start_thresholds, draw)]

    def step(
        self, action: int
    ) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Take ``action`` in the current state, sampling from the model."""
        if type(action) is not int or not 0 <= action < self._n_actions:
            action = check_action(action, self._n_actions)
        state = self._state
        compiled = self._decisions[state * self._n_actions + action]
        if compiled is None or not self._ready:
            self._refuse(action)
        thresholds, taken, branches = compiled  # type: ignore[misc]
        if thresholds is not None:
            # self._uniform(), inlined: this is the hot path.
            draw = self._uniforms.pop() if self._uniforms else self._refill()
            taken = branches[bisect_right(thresholds, draw)]
        target, reward, cost, outcome, invalid, prob = taken
        info: dict[str, Any]
        if self._events is not None:
            event_row = self._events[target]
            assert event_row is not None
            thresholds, event, branches = event_row
            if thresholds is not None:
                draw = self._uniforms.pop() if self._uniforms else self._refill()
                event = branches[bisect_right(thresholds, draw)]
            target, event_reward, event_cost, event_outcome, _, event_prob = event
            reward += event_reward
            cost = cost + event_cost
            prob = prob * event_prob
        elif outcome == 0 and self._terminal[target]:
            # A closed request absorbs every action and keeps how it closed.
            outcome = self._outcome
        terminated = bool(self._terminal[target])
        self._state = target
        self._outcome = outcome
        self._last_action = action
        self._last_reward = reward
        if self.render_mode == "human":
            self.render()
        info = {
            "state": target,
            "action_mask": self._masks[target].copy(),
            "cost": cost,
            "outcome": outcome,
            "invalid_action": invalid,
            "prob": prob,
        }
        if self._events is not None:
            info["event_outcome"] = event_outcome
        # truncated is False: the time limit is the TimeLimit wrapper's job.
        return self.observe(target), reward, terminated, False, info

    def _refuse(self, action: int) -> None:
        if not self._ready:
            raise ResetNeeded(
                "call reset() before step(): the last reset was rejected, so "
                "no episode is in progress"
            )
        raise InvalidActionError(
            invalid_action_message(
                self._state,
                action,
                self._masks[self._state],
                self._mdp.state_label(self._state),
                self._sparse.action_names,
            )
        )

    @property
    def np_random(self) -> np.random.Generator:
        """The env's random generator (Gymnasium's, seeded by ``reset(seed=...)``)."""
        return gym.Env.np_random.fget(self)  # type: ignore[attr-defined,no-any-return]

    @np_random.setter
    def np_random(self, value: np.random.Generator) -> None:
        gym.Env.np_random.fset(self, value)  # type: ignore[attr-defined]
        self._uniforms = []

    def _uniform(self) -> float:
        return self._uniforms.pop() if self._uniforms else self._refill()

    def _refill(self) -> float:
        # One scalar Generator.random() costs more than the rest of a step, so
        # uniforms come from np_random in blocks; reseeding discards the block.
        self._uniforms = self.np_random.random(_UNIFORM_BLOCK).tolist()
        return self._uniforms.pop()

    def action_masks(self) -> NDArray[np.bool_]:
        """Return the current state's valid-action mask (MaskablePPO's convention)."""
        mask: NDArray[np.bool_] = self._masks[self._state].copy()
        return mask

    def render(self) -> str | NDArray[np.uint8] | None:
        """Render the task as text (``ansi``), printed (``human``) or an image."""
        if self.render_mode is None:
            gym.logger.warn(
                "render() was called without a render_mode; pass render_mode="
                '"ansi", "human" or "rgb_array" to gym.make(...)'
            )
            return None
        if self.render_mode == "rgb_array":
            return self._mdp.render_rgb(self._state, self._outcome)
        text = self._mdp.render_text(
            self._state, self._last_action, self._last_reward, self._outcome
        )
        if self.render_mode == "ansi":
            return text
        print(text)
        return None


class AccessReviewEnv(TaskEnv):
    """Route a stale access-review request: approve now, ask for evidence, or review.

    ## Description
    An access request is stale and policy P-7 requires a human review unless strong
    evidence arrives. The agent routes it through a small workflow: it may approve
    at once (a policy violation), ask the requester for evidence (who may abandon
    the request instead of answering), or send it to the reviewer queue, where it
    is approved after review. The task is the MDP of the lesson "Reinforcement
    Learning Basics"; its transition table is exact and public, so the optimum
    is known (see ``env.unwrapped.P`` and ``env.unwrapped.mdp.arrays``).

    ## Action Space
    `Discrete(4)`:

    - 0: `auto_approve`
    - 1: `request_evidence`
    - 2: `human_review`
    - 3: `approve_rotation` (approve after review)

    Not every action is valid in every state; `info["action_mask"]` and
    `env.action_masks()` say which are (see Information).

    ## Observation Space
    `Discrete(4)`, the index of the workflow state:

    - 0: `new_request` (start)
    - 1: `evidence_ready`: the requester supplied evidence
    - 2: `review_queue`: waiting for the reviewer
    - 3: `closed` (terminal)

    ## Starting State
    `new_request`. With `exploring_starts=True` every reset starts uniformly at
    random in one of the three non-terminal states; `reset(options={"start_state":
    s})`, with a state's name or index, starts in that non-terminal state.

    A `reset` rejected for its options or seed changes nothing (the generator
    included) but ends the episode in progress: `step` raises
    `gymnasium.error.ResetNeeded` until a `reset` succeeds.

    ## Rewards
    Default (`rewards="outcome_aware"`, the lesson's teaching scores; `p` is
    `abandonment_prob`):

    | state | action | probability | next state | reward |
    |---|---|---|---|---|
    | new_request | auto_approve | 1 | closed | -120 |
    | new_request | request_evidence | 1 - p | evidence_ready | -4 |
    | new_request | request_evidence | p | closed (abandoned) | -54 |
    | new_request | human_review | 1 | review_queue | -18 |
    | evidence_ready | auto_approve | 1 | closed | +70 |
    | evidence_ready | human_review | 1 | review_queue | -10 |
    | review_queue | approve_rotation | 1 | closed | +80 |

    `rewards="speed_only"` is the lesson's misspecified score (routes from
    `new_request` worth 100 / 45 / 15), under which the unsupported approval is
    optimal. A mapping such as `{"abandoned": -80.0}` overrides single
    transitions of the default; the names are `access_review_env.TRANSITION_NAMES`.

    Any other (state, action) is invalid: with `invalid_action="penalize"` the
    state stays and the reward is `invalid_action_reward`; with
    `invalid_action="raise"`, `step` raises `InvalidActionError`.

    ## Episode End
    - Termination: the request reaches `closed`.
    - Truncation (the `TimeLimit` wrapper `gym.make` adds): 20 steps. Any valid
      route closes within 3 steps; the limit only ends episodes that stall on
      invalid actions, with room to recover from a few.

    ## Information
    `reset` and every `step` return the same keys, with the same numeric types:

    - `state` (int): the state's index (its name: `env.unwrapped.state_names`).
    - `action_mask` (bool array of shape (4,)): True for each valid action (as
      TorchRL's `ActionMask` and MaskablePPO read it); also
      `env.unwrapped.action_masks()`.
    - `cost` (`np.float64`): 1.0 when the step was a policy violation (an
      unsupported approval), else 0.0 (the safety-gymnasium convention).
    - `outcome` (int): an index into `env.unwrapped.outcomes`: 0 (`pending`)
      until the request closes, then `unsupported_approval`,
      `evidence_approval`, `reviewed_approval` or `abandoned`.
    - `invalid_action` (bool): the action was invalid and penalized.
    - `prob` (`np.float64`): the probability of the transition taken (1.0 at
      reset).

    ## Arguments
    With `observation="features"` the observation is the state's one-hot
    vector (a `Box` of shape (4,)), for libraries that want vectors.

    The recommended discount is `env.unwrapped.mdp.gamma` (0.9). The model
    (`env.unwrapped.mdp`) and the settings are read-only: `P`, the dense arrays
    and `step` all derive from that one model.

    ## References
    - The lesson "Reinforcement Learning Basics" (its MDP and figures).
    - Sutton, R. S. and Barto, A. G. (2018). Reinforcement Learning: An
      Introduction, 2nd ed., chapters 3 and 4.

    ## Version History
    - v0: Initial version.
    """

    declaration = ACCESS_REVIEW_TASK
