"""The single-instance Gymnasium environment ``AccessReview-v0``."""

from __future__ import annotations

from typing import Any, SupportsFloat, TypeAlias

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from access_review_env.actions import (
    InvalidActionError,
    check_action,
    invalid_action_message,
)
from access_review_env.mdp import (
    AccessReviewMDP,
    GymTransition,
    InvalidActionRule,
    Outcome,
    RewardSpec,
)
from access_review_env.rendering import render_rgb, render_text
from access_review_env.table import (
    ACTIONS,
    NON_TERMINAL_STATES,
    START_STATE,
    STATES,
    TERMINAL_STATE,
)


def parse_start_state(value: object) -> int:
    """Return the index of a non-terminal state given by name or index.

    Raises:
        ValueError: If ``value`` names no non-terminal state.
    """
    allowed = ", ".join(f"{i} ({STATES[i]})" for i in NON_TERMINAL_STATES)
    if isinstance(value, str) and value in STATES:
        value = STATES.index(value)
    if (
        isinstance(value, int | np.integer)
        and not isinstance(value, bool)
        and value in NON_TERMINAL_STATES
    ):
        return int(value)
    raise ValueError(
        f"start_state {value!r} is not a non-terminal state; allowed: {allowed}"
    )


def check_reset_options(options: dict[str, Any] | None) -> int | None:
    """Return the requested start state of ``reset(options=...)``, if any.

    Raises:
        ValueError: For an unknown option or start state.
    """
    if not options:
        return None
    unknown = sorted(set(options) - {"start_state"})
    if unknown:
        raise ValueError(
            f"unknown reset option(s) {', '.join(map(repr, unknown))}; "
            "allowed: 'start_state'"
        )
    return parse_start_state(options["start_state"])


_UNIFORM_BLOCK = 256
_N_ACTIONS = len(ACTIONS)
_Branch: TypeAlias = tuple[
    int, float, bool, str, NDArray[np.int8], float, "str | None", bool, float
]
_Compiled: TypeAlias = "tuple[float, _Branch, _Branch | None] | None"


def _compile(
    branches: tuple[Outcome, ...], masks: tuple[NDArray[np.int8], ...]
) -> _Compiled:
    """Flatten one (state, action)'s outcomes for ``step``'s hot path.

    Returns ``None`` when there is no transition (an invalid action under
    ``"raise"``), else ``(threshold, first, second)``: ``first`` is taken when a
    uniform draw falls below ``threshold``; ``second`` is None when no draw is
    needed. A branch's outcome is None when it keeps the episode's outcome.
    """
    if not branches:
        return None
    if len(branches) > 2:
        raise ValueError("step samples at most two branches per (state, action)")
    flat = [
        (
            b.next_state,
            b.reward,
            b.terminated,
            STATES[b.next_state],
            masks[b.next_state],
            b.cost,
            None
            if b.outcome == "pending" and b.next_state == TERMINAL_STATE
            else b.outcome,
            b.invalid_action,
            b.probability,
        )
        for b in branches
    ]
    return (branches[0].probability, flat[0], flat[1] if len(flat) == 2 else None)


class AccessReviewEnv(gym.Env[int, int]):
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

    The recommended discount is `env.unwrapped.mdp.gamma` (0.9).

    ## References
    - The lesson "Reinforcement Learning Basics" (its MDP and figures).
    - Sutton, R. S. and Barto, A. G. (2018). Reinforcement Learning: An
      Introduction, 2nd ed., chapters 3 and 4.

    ## Version History
    - v0: Initial version.
    """

    metadata = {"render_modes": ["ansi", "human", "rgb_array"], "render_fps": 4}  # noqa: RUF012

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
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode {render_mode!r} is not supported; allowed: None, "
                + ", ".join(map(repr, self.metadata["render_modes"]))
            )
        if not isinstance(exploring_starts, bool):
            raise TypeError(
                f"exploring_starts must be a bool, got {exploring_starts!r}"
            )
        self.mdp = AccessReviewMDP(
            abandonment_prob, rewards, invalid_action, invalid_action_reward
        )
        self.exploring_starts = exploring_starts
        self.render_mode = render_mode
        # Discrete is typed Space[np.int64]; the env hands out plain Python ints.
        self.observation_space = spaces.Discrete(len(STATES))  # type: ignore[assignment]
        self.action_space = spaces.Discrete(len(ACTIONS))  # type: ignore[assignment]
        self._masks = tuple(np.array(row) for row in self.mdp.valid_action_mask)
        self._compiled = tuple(
            tuple(_compile(branches, self._masks) for branches in row)
            for row in self.mdp.outcomes
        )
        self._uniforms: list[float] = []
        self._state = START_STATE
        self._outcome = "pending"
        self._last_action: int | None = None
        self._last_reward = 0.0

    @property
    def P(self) -> dict[int, dict[int, list[GymTransition]]]:
        """Gymnasium's toy-text transition dict, derived from :attr:`mdp`."""
        return self.mdp.P

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Start a new request; see the class docstring for the start states."""
        if seed is not None:
            # gym.Env.reset does nothing but seed np_random.
            super().reset(seed=seed)
            self._uniforms = []
        start = check_reset_options(options) if options else None
        if start is None:
            start = (
                NON_TERMINAL_STATES[int(self._uniform() * len(NON_TERMINAL_STATES))]
                if self.exploring_starts
                else START_STATE
            )
        self._state = start
        self._outcome = "pending"
        self._last_action = None
        if self.render_mode == "human":
            self.render()
        return start, {
            "state": STATES[start],
            "action_mask": self._masks[start].copy(),
            "cost": 0.0,
            "outcome": "pending",
            "invalid_action": False,
            "prob": 1.0,
        }

    def step(
        self, action: int
    ) -> tuple[int, SupportsFloat, bool, bool, dict[str, Any]]:
        """Take ``action`` in the current state, sampling from the MDP table."""
        if type(action) is not int or not 0 <= action < _N_ACTIONS:
            action = check_action(action, _N_ACTIONS)
        compiled = self._compiled[self._state][action]
        if compiled is None:
            raise InvalidActionError(
                invalid_action_message(self._state, action, self._masks[self._state])
            )
        threshold, first, second = compiled
        # self._uniform(), inlined: this is the hot path.
        if (
            second is not None
            and (self._uniforms.pop() if self._uniforms else self._refill())
            >= threshold
        ):
            first = second
        state, reward, terminated, name, mask, cost, outcome, invalid, prob = first
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
                '"ansi", "human" or "rgb_array" to gym.make("AccessReview-v0", ...)'
            )
            return None
        if self.render_mode == "rgb_array":
            return render_rgb(self._state, self._outcome)
        text = render_text(
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
