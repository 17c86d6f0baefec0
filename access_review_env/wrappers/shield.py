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

from access_review_env.actions import InvalidActionError, check_action
from access_review_env.env import TaskEnv
from access_review_env.model import SparseMDP
from access_review_env.validation import check_bool, check_choice

ShieldMode = Literal["block", "reroute"]
SHIELD_MODES: tuple[ShieldMode, ...] = ("block", "reroute")

# Wrappers that execute an action other than the one they are handed, or more
# than once: below the shield they would run actions it never judged.
_ACTION_CHANGING: tuple[type[Any], ...] = tuple(
    wrapper
    for wrapper in (
        gym.ActionWrapper,
        gym.wrappers.MaxAndSkipObservation,
        getattr(gym.wrappers, "RepeatAction", None),  # Gymnasium 1.3 and later
    )
    if wrapper is not None
)


def unsafe_actions(model: SparseMDP) -> NDArray[np.bool_]:
    """``(S, A)`` True where an action's decision has a branch with ``cost > 0``.

    Only the decision stage counts: an event's cost (none in these tasks) is
    no action's doing.
    """
    decisions = model.decisions
    costly = decisions.row_sums((decisions.cost > 0).astype(np.float64)) > 0
    return costly.reshape(model.n_states, model.n_actions)


def blocking_actions(model: SparseMDP) -> NDArray[np.int64]:
    """``(S,)`` the lowest action the env penalizes as invalid in each state.

    -1 where there is none: in a state where every action is valid, and
    everywhere under ``invalid_action="raise"``, whose invalid actions have no
    transition.
    """
    decisions = model.decisions
    first = decisions.indptr[:-1]
    has_branch = decisions.lengths > 0
    flat = np.zeros(decisions.n_rows, dtype=bool)
    flat[has_branch] = decisions.invalid[first[has_branch]]
    penalized = flat.reshape(model.n_states, model.n_actions)
    choice = np.where(penalized.any(axis=1), np.argmax(penalized, axis=1), -1)
    return np.asarray(choice, dtype=np.int64)


class SafetyShield(gym.Wrapper[Any, int, Any, int], gym.utils.RecordConstructorArgs):
    """Intercept every unsafe action before the env steps.

    The shield judges an action in the state the task env is really in,
    ``env.unwrapped.state``, never from the observation or ``info`` it is
    handed, so observation wrappers on either side of it (renumbering,
    one-hot, delays) cannot change what it lets through.

    A blocked action is not executed and the shield invents no reward for it:
    it steps the wrapped env with an action the env treats as invalid in that
    state instead (:attr:`blocking`). The env's invalid-action rule decides
    what follows (under ``invalid_action="penalize"``: the state stays, the
    reward is ``invalid_action_reward``, the cost 0), and every wrapper below
    the shield (reward transforms, normalization, time limit, statistics)
    processes that step like any other, as every wrapper above does with the
    shield's output. Under any wrapper stack a blocked step therefore returns
    the observation, reward, ``terminated`` and ``truncated`` that an invalid
    action returns under the same stack, and it counts towards the time limit,
    so a policy that insists is still truncated. Under
    ``invalid_action="raise"`` there is no invalid step to take, so a blocked
    action raises ``InvalidActionError``, as an invalid one does.

    Args:
        env: An env of this package (``gym.make`` of any of its ids),
            wrapped or not, but by no
            wrapper that changes or repeats actions (an ``ActionWrapper``,
            ``RepeatAction``, ``MaxAndSkipObservation``): the action the
            shield judges must be the one the env executes.
        mode: ``"block"``: the action is blocked (``info["shield"]`` is
            ``"blocked"``). ``"reroute"``: ``safe_action`` is executed instead
            (``info["shield"] == "rerouted"``), where it is valid and safe;
            elsewhere the action is blocked.
        safe_action: The reroute target, by name or index; by default
            ``human_review`` where the task has it, else action 0 (the
            queue's ``wait``).
        shield_mask: When True (default), ``info["action_mask"]`` and
            ``action_masks()`` leave unsafe actions out, so mask-aware agents
            never try them; when False they show the env's own mask, so the
            shield's interceptions can be seen and counted.

    ``info`` is the env's for the step taken, with ``action_mask`` as above,
    ``shield`` (``"passed"``, ``"blocked"`` or ``"rerouted"``) and
    ``shield_attempts``, the unsafe attempts intercepted this episode; on a
    blocked step ``invalid_action`` is False (the agent's action was valid;
    wrappers below the shield see the stand-in as invalid).
    :attr:`total_attempts` counts attempts over the wrapper's life.

    Raises:
        TypeError: If ``env`` is not an env of this package (``env.unwrapped``
            is no ``TaskEnv``).
        ValueError: For an unknown mode or safe action, or a wrapper below the
            shield that changes or repeats actions.
    """

    def __init__(
        self,
        env: gym.Env[Any, int],
        mode: ShieldMode = "block",
        safe_action: int | str | None = None,
        shield_mask: bool = True,
    ) -> None:
        """Wrap ``env``; see the class docstring for the arguments."""
        gym.utils.RecordConstructorArgs.__init__(
            self, mode=mode, safe_action=safe_action, shield_mask=shield_mask
        )
        gym.Wrapper.__init__(self, env)
        task = env.unwrapped
        if not isinstance(task, TaskEnv):
            raise TypeError(
                "SafetyShield needs an env of access_review_env (env.unwrapped a "
                f"TaskEnv), got {type(task).__name__}"
            )
        _check_no_action_changing_wrapper(env)
        model = task.sparse
        self.mode = check_choice("mode", mode, SHIELD_MODES)
        names = model.action_names
        if safe_action is None:
            safe_action = names.index("human_review") if "human_review" in names else 0
        if isinstance(safe_action, str):
            safe_action = check_choice("safe_action", safe_action, names)
            safe_action = names.index(safe_action)
        self.safe_action = check_action(safe_action, model.n_actions)
        self.shield_mask = check_bool("shield_mask", shield_mask)
        self.unsafe = unsafe_actions(model)
        self.unsafe.flags.writeable = False
        self.blocking = blocking_actions(model)
        """``(S,)`` the invalid action stepped in place of a blocked one (-1: none)."""
        self.blocking.flags.writeable = False
        self._reroutable = (
            model.valid_action_mask[:, self.safe_action]
            & ~self.unsafe[:, self.safe_action]
        )
        self._task = task
        self._has_reset = False
        self._attempts = 0
        self.total_attempts = 0
        """Unsafe attempts intercepted since the wrapper was made."""

    def _info(self, info: dict[str, Any], shield: str) -> dict[str, Any]:
        return info | {
            "action_mask": self.action_masks(),
            "shield": shield,
            "shield_attempts": self._attempts,
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset the env and the episode's count of intercepted attempts."""
        self._has_reset = False
        observation, info = self.env.reset(seed=seed, options=options)
        self._has_reset = True
        self._attempts = 0
        return observation, self._info(info, "passed")

    def step(
        self, action: int
    ) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Pass a safe action through; block or reroute an unsafe one.

        Raises:
            ResetNeeded: Before the first ``reset``, or after a rejected one.
            InvalidActionError: For a blocked action under
                ``invalid_action="raise"``.
        """
        if not self._has_reset:
            raise ResetNeeded(
                "call reset() before step(): no episode is in progress (the env "
                "was never reset, or its last reset was rejected)"
            )
        action = check_action(action, self._task.sparse.n_actions)
        state = self._task.state
        if not self.unsafe[state, action]:
            return self._step(action, "passed")
        self._attempts += 1
        self.total_attempts += 1
        if self.mode == "reroute" and self._reroutable[state]:
            return self._step(self.safe_action, "rerouted")
        blocking = int(self.blocking[state])
        if blocking < 0:
            raise InvalidActionError(
                f"the shield blocked action {action} "
                f"({self._task.action_names[action]}) in state {state} "
                f"({self._task.mdp.state_label(state)}), where it has a "
                "transition with cost > 0; the env penalizes no invalid action "
                "there (every action is valid, or invalid_action='raise') to "
                "stand in for it, so it is refused as an invalid action is"
            )
        observation, reward, terminated, truncated, info = self._step(
            blocking, "blocked"
        )
        info["invalid_action"] = False
        return observation, reward, terminated, truncated, info

    def _step(
        self, action: int, shield: str
    ) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        return observation, reward, terminated, truncated, self._info(info, shield)

    def action_masks(self) -> NDArray[np.bool_]:
        """The current state's mask as ``info["action_mask"]`` shows it."""
        env_mask = self._task.action_masks()
        if not self.shield_mask:
            return env_mask
        shielded = env_mask & ~self.unsafe[self._task.state]
        return shielded if shielded.any() else env_mask


def _check_no_action_changing_wrapper(env: gym.Env[Any, Any]) -> None:
    while isinstance(env, gym.Wrapper):
        if isinstance(env, _ACTION_CHANGING):
            raise ValueError(
                f"SafetyShield cannot sit above {type(env).__name__}: it changes "
                "or repeats the action, so the env would execute actions the "
                "shield never judged; put the shield below it"
            )
        env = env.env
