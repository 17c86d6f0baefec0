"""``SafetyShield``: stop an unsafe action before the env steps.

The lesson's practice task 3: high-risk actions need a reviewer's approval, so
a constraint blocks or reroutes them before they reach the workflow. What is
unsafe is read from the task's table, never listed by hand: an action is
unsafe in a state when any of its branches there has ``cost > 0`` (an
unsupported or unjustified approval, an unfair denial).
"""

from __future__ import annotations

from typing import Any, Literal, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium.error import ResetNeeded
from numpy.typing import NDArray

from access_review_env.actions import check_action
from access_review_env.model import TaskMDP
from access_review_env.validation import check_bool, check_choice
from access_review_env.wrappers.limits import time_limit

ShieldMode = Literal["block", "reroute"]
SHIELD_MODES: tuple[ShieldMode, ...] = ("block", "reroute")


def unsafe_actions(mdp: TaskMDP) -> NDArray[np.bool_]:
    """``(S, A)`` True where an action has a branch with ``cost > 0``."""
    unsafe = np.zeros((mdp.n_states, mdp.n_actions), dtype=bool)
    for state, row in enumerate(mdp.branches):
        for action, branches in enumerate(row):
            unsafe[state, action] = any(b.cost > 0 for b in branches)
    return unsafe


class SafetyShield(gym.Wrapper[int, int, int, int], gym.utils.RecordConstructorArgs):
    """Intercept every unsafe action before the env steps.

    Args:
        env: An env of this package (``gym.make("AccessReview-v0")`` or
            ``gym.make("AccessReviewRisk-v0")``), wrapped or not.
        mode: ``"block"``: the action is not executed; the state stays, the
            reward is the env's ``invalid_action_reward`` and
            ``info["shield"]`` is ``"blocked"``. ``"reroute"``: ``safe_action``
            is executed instead (``info["shield"] == "rerouted"``), where it is
            valid and safe; elsewhere the action is blocked.
        safe_action: The reroute target, by name or index; ``human_review`` by
            default.
        shield_mask: When True (default), ``info["action_mask"]`` and
            ``action_masks()`` leave unsafe actions out, so mask-aware agents
            never try them; when False they show the env's own mask, so the
            shield's interceptions can be seen and counted.

    ``info`` gains ``shield`` (``"passed"``, ``"blocked"`` or ``"rerouted"``)
    and ``shield_attempts``, the unsafe attempts intercepted this episode;
    :attr:`total_attempts` counts them over the wrapper's life. Blocked steps
    count towards the time limit, so a policy that insists is still truncated.

    Raises:
        TypeError: If ``env`` has no task model (``env.unwrapped.mdp``).
        ValueError: For an unknown mode or safe action.
    """

    def __init__(
        self,
        env: gym.Env[int, int],
        mode: ShieldMode = "block",
        safe_action: int | str = "human_review",
        shield_mask: bool = True,
    ) -> None:
        """Wrap ``env``; see the class docstring for the arguments."""
        gym.utils.RecordConstructorArgs.__init__(
            self, mode=mode, safe_action=safe_action, shield_mask=shield_mask
        )
        gym.Wrapper.__init__(self, env)
        mdp = getattr(env.unwrapped, "mdp", None)
        if not isinstance(mdp, TaskMDP):
            raise TypeError(
                "SafetyShield needs an env of access_review_env (with "
                f"env.unwrapped.mdp), got {type(env.unwrapped).__name__}"
            )
        self.mode = check_choice("mode", mode, SHIELD_MODES)
        names = mdp.table.action_names
        if isinstance(safe_action, str):
            safe_action = check_choice("safe_action", safe_action, names)
            safe_action = names.index(safe_action)
        self.safe_action = check_action(safe_action, mdp.n_actions)
        self.shield_mask = check_bool("shield_mask", shield_mask)
        self.unsafe = unsafe_actions(mdp)
        self.unsafe.flags.writeable = False
        self._mdp = mdp
        self._limit = time_limit(env)
        self._state = 0
        self._last_info: dict[str, Any] = {}
        self._has_reset = False
        self._steps = 0
        self._attempts = 0
        self.total_attempts = 0
        """Unsafe attempts intercepted since the wrapper was made."""

    def _mask(self, state: int, env_mask: NDArray[np.int8]) -> NDArray[np.int8]:
        if not self.shield_mask:
            return env_mask
        shielded = env_mask * ~self.unsafe[state]
        return shielded.astype(np.int8) if shielded.any() else env_mask

    def _info(self, info: dict[str, Any], state: int, shield: str) -> dict[str, Any]:
        return info | {
            "action_mask": self._mask(state, info["action_mask"]),
            "shield": shield,
            "shield_attempts": self._attempts,
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Reset the env and the episode's count of intercepted attempts."""
        self._has_reset = False
        state, info = self.env.reset(seed=seed, options=options)
        self._has_reset = True
        self._state, self._last_info = state, info
        self._steps = self._attempts = 0
        return state, self._info(info, state, "passed")

    def step(
        self, action: int
    ) -> tuple[int, SupportsFloat, bool, bool, dict[str, Any]]:
        """Pass a safe action through; block or reroute an unsafe one.

        Raises:
            ResetNeeded: Before the first ``reset``, or after a rejected one.
        """
        if not self._has_reset:
            raise ResetNeeded(
                "call reset() before step(): no episode is in progress (the env "
                "was never reset, or its last reset was rejected)"
            )
        action = check_action(action, self._mdp.n_actions)
        self._steps += 1
        state = self._state
        shield = "passed"
        if self.unsafe[state, action]:
            self._attempts += 1
            self.total_attempts += 1
            valid = self._mdp.valid_action_mask[state]
            safe = valid[self.safe_action] and not self.unsafe[state, self.safe_action]
            if self.mode == "reroute" and safe:
                action, shield = self.safe_action, "rerouted"
            else:
                return self._blocked(state)
        state, reward, terminated, truncated, info = self.env.step(action)
        self._state, self._last_info = state, info
        truncated = truncated or self._out_of_time()
        return state, reward, terminated, truncated, self._info(info, state, shield)

    def _out_of_time(self) -> bool:
        return self._limit is not None and self._steps >= self._limit

    def _blocked(self, state: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        # The env's last info describes the state the episode stays in; only
        # what the blocked step itself did differs (and any key the env adds
        # comes along).
        info = self._last_info | {
            "action_mask": self._last_info["action_mask"].copy(),
            "cost": 0.0,
            "invalid_action": False,
            "prob": 1.0,
        }
        return (
            state,
            self._mdp.invalid_action_reward,
            False,
            self._out_of_time(),
            self._info(info, state, "blocked"),
        )

    def action_masks(self) -> NDArray[np.int8]:
        """The current state's mask as ``info["action_mask"]`` shows it."""
        return self._mask(self._state, self._mdp.valid_action_mask[self._state].copy())
