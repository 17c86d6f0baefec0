"""The single-instance Gymnasium environments, one class per task.

:class:`TaskEnv` is the mechanism every task shares: spaces, ``reset``, ``step``,
``render`` and ``action_masks``, all read from a :class:`TaskMDP`. A task's
env class only fixes its table, its keyword arguments and its manual.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any, SupportsFloat, TypeAlias

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
from access_review_env.model import (
    AccessReviewMDP,
    Branch,
    GymTransition,
    InvalidActionRule,
    RewardSpec,
    TaskMDP,
)
from access_review_env.rendering import render_rgb, render_text
from access_review_env.reset_options import check_reset_options
from access_review_env.validation import check_bool, check_choice

_UNIFORM_BLOCK = 256
RENDER_MODES = ("ansi", "human", "rgb_array")
_Step: TypeAlias = tuple[
    int, float, bool, str, NDArray[np.int8], float, "str | None", bool, float
]
_Compiled: TypeAlias = (
    "tuple[tuple[float, ...] | None, _Step, tuple[_Step, ...]] | None"
)


def _compile(
    branches: tuple[Branch, ...],
    masks: tuple[NDArray[np.int8], ...],
    state_names: tuple[str, ...],
) -> _Compiled:
    """Flatten one (state, action)'s branches for ``step``'s hot path.

    Returns ``None`` when there is no transition (an invalid action under
    ``"raise"``), else ``(thresholds, first, steps)``. With one branch,
    ``thresholds`` is None and ``first`` is taken without a draw; otherwise a
    uniform draw ``u`` takes the first step whose threshold exceeds ``u`` (the
    cumulative probabilities of all but the last branch). A step's outcome is
    None when it keeps the episode's outcome.
    """
    if not branches:
        return None
    steps = tuple(
        (
            b.next_state,
            b.reward,
            b.terminated,
            state_names[b.next_state],
            masks[b.next_state],
            b.cost,
            None if b.outcome == "pending" and b.terminated else b.outcome,
            b.invalid_action,
            b.probability,
        )
        for b in branches
    )
    if len(steps) == 1:
        return None, steps[0], steps
    thresholds = tuple(np.cumsum([b.probability for b in branches[:-1]]).tolist())
    return thresholds, steps[0], steps


class TaskEnv(gym.Env[int, int]):
    """The mechanism every task's env shares; see :class:`AccessReviewEnv`.

    Args:
        mdp: The task's MDP for one configuration.
        exploring_starts: Start every episode in a uniformly random non-terminal
            state instead of the task's start distribution.
        render_mode: ``None``, ``"ansi"``, ``"human"`` or ``"rgb_array"``.

    ``mdp`` and ``exploring_starts`` are read-only: ``step`` is compiled from
    them once.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 4}  # noqa: RUF012

    def __init__(
        self,
        mdp: TaskMDP,
        exploring_starts: bool = False,
        render_mode: str | None = None,
    ) -> None:
        """Build the env from ``mdp``; see the task's class for the arguments."""
        if render_mode is not None:
            check_choice("render_mode", render_mode, (None, *RENDER_MODES))
        self._mdp = mdp
        self._exploring_starts = check_bool("exploring_starts", exploring_starts)
        self.render_mode = render_mode
        # Discrete is typed Space[np.int64]; the env hands out plain Python ints.
        self.observation_space = spaces.Discrete(mdp.n_states)  # type: ignore[assignment]
        self.action_space = spaces.Discrete(mdp.n_actions)  # type: ignore[assignment]
        table = mdp.table
        self._n_actions = mdp.n_actions
        self._masks = tuple(np.array(row) for row in mdp.valid_action_mask)
        self._step_table = tuple(
            tuple(_compile(cell, self._masks, table.state_names) for cell in row)
            for row in mdp.branches
        )
        # After a rejected reset, step reads this table instead: every entry is
        # None, so step's slow path raises ResetNeeded at no cost to the hot path.
        self._no_episode: tuple[tuple[_Compiled, ...], ...] = tuple(
            (None,) * mdp.n_actions for _ in range(mdp.n_states)
        )
        self._compiled = self._step_table
        start = mdp.start_distribution
        self._starts = tuple(int(s) for s in np.flatnonzero(start))
        self._start_thresholds = tuple(
            np.cumsum(start[list(self._starts)])[:-1].tolist()
        )
        self._random_start = self.exploring_starts or bool(self._start_thresholds)
        self._state_names = table.state_names
        self._uniforms: list[float] = []
        self._state = self._starts[0]
        self._outcome = "pending"
        self._last_action: int | None = None
        self._last_reward = 0.0

    @property
    def mdp(self) -> TaskMDP:
        """The task's MDP for this configuration; ``step`` is compiled from it."""
        return self._mdp

    @property
    def exploring_starts(self) -> bool:
        """Whether every episode starts in a uniformly random non-terminal state."""
        return self._exploring_starts

    @property
    def start_distribution(self) -> NDArray[np.float64]:
        """``(S,)`` the distribution ``reset`` draws start states from.

        The task's start distribution, or uniform over the non-terminal states
        with ``exploring_starts``; a ``start_state`` reset option overrides it
        for that one episode. Planners read this to score the env as made.
        """
        if not self.exploring_starts:
            return self._mdp.start_distribution
        states = list(self._mdp.table.non_terminal_states)
        uniform = np.zeros(self._mdp.n_states)
        uniform[states] = 1.0 / len(states)
        uniform.flags.writeable = False
        return uniform

    @property
    def P(self) -> dict[int, dict[int, list[GymTransition]]]:
        """Gymnasium's toy-text transition dict, derived from :attr:`mdp`."""
        return self._mdp.P

    @property
    def state_names(self) -> tuple[str, ...]:
        """State names; a state's index is its observation."""
        return self._mdp.table.state_names

    @property
    def action_names(self) -> tuple[str, ...]:
        """Action names; an action's index is its integer action."""
        return self._mdp.table.action_names

    @property
    def state(self) -> int:
        """The current state's index, read-only, whatever wrappers show an agent."""
        return self._state

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Start a new request; see the task's class docstring for the start states.

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
                None
                if options is None
                else check_reset_options(self._mdp.table, options)
            )
            if seed is not None:
                # gym.Env.reset does nothing but seed np_random, and only once
                # the seed is accepted.
                super().reset(seed=seed)
                self._uniforms = []
        except Exception:
            self._compiled = self._no_episode
            raise
        self._compiled = self._step_table
        if start is None:
            start = self._draw_start() if self._random_start else self._starts[0]
        self._state = start
        self._outcome = "pending"
        self._last_action = None
        if self.render_mode == "human":
            self.render()
        return start, {
            "state": self._state_names[start],
            "action_mask": self._masks[start].copy(),
            "cost": 0.0,
            "outcome": "pending",
            "invalid_action": False,
            "prob": 1.0,
        }

    def _draw_start(self) -> int:
        if self.exploring_starts:
            states = self._mdp.table.non_terminal_states
            return states[int(self._uniform() * len(states))]
        draw = self._uniform()
        return self._starts[bisect_right(self._start_thresholds, draw)]

    def step(
        self, action: int
    ) -> tuple[int, SupportsFloat, bool, bool, dict[str, Any]]:
        """Take ``action`` in the current state, sampling from the MDP table."""
        if type(action) is not int or not 0 <= action < self._n_actions:
            action = check_action(action, self._mdp.n_actions)
        compiled = self._compiled[self._state][action]
        if compiled is None:
            if self._compiled is self._no_episode:
                raise ResetNeeded(
                    "call reset() before step(): the last reset was rejected, so "
                    "no episode is in progress"
                )
            table = self._mdp.table
            raise InvalidActionError(
                invalid_action_message(
                    self._state,
                    action,
                    self._masks[self._state],
                    table.state_names,
                    table.action_names,
                )
            )
        thresholds, taken, steps = compiled
        if thresholds is not None:
            # self._uniform(), inlined: this is the hot path.
            draw = self._uniforms.pop() if self._uniforms else self._refill()
            taken = steps[bisect_right(thresholds, draw)]
        state, reward, terminated, name, mask, cost, outcome, invalid, prob = taken
        if outcome is None:
            outcome = self._outcome
        self._state = state
        self._outcome = outcome
        self._last_action = action
        self._last_reward = reward
        if self.render_mode == "human":
            self.render()
        # truncated is False: the time limit is the TimeLimit wrapper's job.
        return (
            state,
            reward,
            terminated,
            False,
            {
                "state": name,
                "action_mask": mask.copy(),
                "cost": cost,
                "outcome": outcome,
                "invalid_action": invalid,
                "prob": prob,
            },
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

    def action_masks(self) -> NDArray[np.int8]:
        """Return the current state's valid-action mask (MaskablePPO's convention)."""
        return self._masks[self._state].copy()

    def render(self) -> str | NDArray[np.uint8] | None:
        """Render the workflow as text (``ansi``), printed (``human``) or an image."""
        if self.render_mode is None:
            gym.logger.warn(
                "render() was called without a render_mode; pass render_mode="
                '"ansi", "human" or "rgb_array" to gym.make(...)'
            )
            return None
        table = self._mdp.table
        if self.render_mode == "rgb_array":
            return render_rgb(
                self._mdp.n_states, table.terminal_states, self._state, self._outcome
            )
        text = render_text(
            table,
            self._state,
            self._last_action,
            self._last_reward,
            self._outcome,
            list(np.flatnonzero(self._masks[self._state])),
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
    `reset` and every `step` return the same keys, with stable types:

    - `state` (str): the state's name.
    - `action_mask` (`np.int8` array of shape (4,)): 1 for each valid action.
    - `cost` (float): 1.0 when the step was a policy violation (an unsupported
      approval), else 0.0 (the safety-gymnasium convention).
    - `outcome` (str): `"pending"` until the request closes, then
      `unsupported_approval`, `evidence_approval`, `reviewed_approval` or
      `abandoned`.
    - `invalid_action` (bool): the action was invalid and penalized.
    - `prob` (float): the probability of the transition taken (1.0 at reset).

    ## Arguments
    ```python
    import gymnasium as gym
    import access_review_env  # registers the id

    gym.make(
        "AccessReview-v0",
        abandonment_prob=0.25,
        rewards="outcome_aware",
        invalid_action="penalize",
        invalid_action_reward=-10.0,
        exploring_starts=False,
        render_mode=None,
    )
    ```

    * `abandonment_prob=0.25`: probability that a request for evidence is
      abandoned, in [0, 1].
    * `rewards="outcome_aware"`: `"outcome_aware"`, `"speed_only"` or a mapping of
      transition names to rewards.
    * `invalid_action="penalize"`: `"penalize"` or `"raise"`.
    * `invalid_action_reward=-10.0`: reward of a penalized invalid action.
    * `exploring_starts=False`: start every episode in a random non-terminal state.
    * `render_mode=None`: `"ansi"` returns the workflow as text, `"human"` prints
      it, `"rgb_array"` returns a small picture (one box per state) for video
      recorders and SB3's `make_vec_env`, which asks for that mode by default.

    The recommended discount is `env.unwrapped.mdp.gamma` (0.9). The model
    (`env.unwrapped.mdp`) and `exploring_starts` are read-only: `P`, the dense
    arrays and `step` all derive from that one model.

    ## References
    - The lesson "Reinforcement Learning Basics" (its MDP and figures).
    - Sutton, R. S. and Barto, A. G. (2018). Reinforcement Learning: An
      Introduction, 2nd ed., chapters 3 and 4.

    ## Version History
    - v0: Initial version.
    """

    def __init__(
        self,
        abandonment_prob: float = 0.25,
        rewards: RewardSpec = "outcome_aware",
        invalid_action: InvalidActionRule = "penalize",
        invalid_action_reward: float = -10.0,
        exploring_starts: bool = False,
        render_mode: str | None = None,
    ) -> None:
        """Build the env; the arguments are described in the class docstring."""
        super().__init__(
            AccessReviewMDP(
                abandonment_prob, rewards, invalid_action, invalid_action_reward
            ),
            exploring_starts,
            render_mode,
        )
