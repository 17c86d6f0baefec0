"""The policy interface: what a policy is, and how any policy is asked for an action.

:class:`PolicyPredictor` mirrors Stable-Baselines3's structural interface of the
same name, so our learned tables, a plain function of the state, and an SB3
model are all evaluated the same way (see :func:`as_predictor`).
:class:`StochasticPolicy` is the interface of a policy that states its action
probabilities, so that its exact value and its rollouts come from them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray


class AgentError(RuntimeError):
    """A policy broke the interface: an action that is not one integer in range."""


@runtime_checkable
class PolicyPredictor(Protocol):
    """SB3's ``PolicyPredictor``: anything with a ``predict`` of this signature."""

    def predict(
        self,
        observation: NDArray[Any] | dict[str, NDArray[Any]],
        state: tuple[NDArray[Any], ...] | None = None,
        episode_start: NDArray[Any] | None = None,
        deterministic: bool = False,
    ) -> tuple[NDArray[Any], tuple[NDArray[Any], ...] | None]:
        """Return the action for ``observation`` and the next recurrent state."""
        ...


@runtime_checkable
class StochasticPolicy(Protocol):
    """A policy that states its action probabilities; it is scored from them.

    It answers for a batch of states at once, so that a large task's table
    is read in batches (:data:`~agents.policies.probability_table.PROBABILITY_BATCH`
    states a call). The scoring harness computes the exact value from these
    probabilities and samples each Monte Carlo action from the same
    probabilities with its own seeded generator, so both estimate this one
    policy; a ``predict`` method, if the policy has one, is not used for
    scoring. The probabilities must depend on the state and mask alone.
    """

    def action_probabilities(
        self, states: NDArray[np.int64], masks: NDArray[np.bool_]
    ) -> NDArray[np.float64]:
        """``(n, A)`` the probability of each action in each of ``states``.

        Args:
            states: ``(n,)`` state indices (the env's ``info["state"]``,
                whatever its observations are).
            masks: ``(n, A)`` each state's valid actions (the env's
                ``info["action_mask"]``).

        Returns:
            ``(n, A)`` probability vectors, one per state. Mass on an action
            the mask marks invalid is allowed: under
            ``invalid_action="penalize"`` it is a real, penalized action.
        """
        ...


def check_observations(observation: object, n_states: int | None) -> NDArray[np.int64]:
    """Return one observation or a batch as int64 states, if they are states.

    A state is an integer in ``[0, n_states)``: Python and NumPy integers and
    integer arrays are accepted; booleans, floats (even ``2.0``) and strings are
    not, and a negative state is never read as counting from the end.

    Args:
        observation: A state, or an array-like of states of any shape.
        n_states: The number of states, or None to check the type only.

    Raises:
        TypeError: If ``observation`` is not integers.
        ValueError: If a state lies outside ``[0, n_states)``.
    """
    allowed = "integers" if n_states is None else f"integers in [0, {n_states - 1}]"
    array = np.asarray(observation)
    if array.dtype.kind not in "iu":
        raise TypeError(f"observations must be states, {allowed}; got {observation!r}")
    if n_states is not None and array.size:
        # One state (the usual call, once per step) skips the reductions.
        low, high = (int(array),) * 2 if array.ndim == 0 else (array.min(), array.max())
        if low < 0 or high >= n_states:
            raise ValueError(
                f"observation {int(low if low < 0 else high)} is not a state; "
                f"allowed: {allowed}"
            )
    return array.astype(np.int64, copy=False)


class FunctionPolicy:
    """A plain function ``state -> action`` as a :class:`PolicyPredictor`.

    Args:
        function: The policy.
        n_states: The number of states it is defined on, if known; ``predict``
            then refuses observations outside ``[0, n_states)``.
    """

    def __init__(
        self, function: Callable[[int], int], n_states: int | None = None
    ) -> None:
        """Wrap ``function``."""
        self.function = function
        self.n_states = n_states

    def predict(
        self,
        observation: NDArray[Any] | dict[str, NDArray[Any]],
        state: tuple[NDArray[Any], ...] | None = None,
        episode_start: NDArray[Any] | None = None,
        deterministic: bool = False,
    ) -> tuple[NDArray[Any], tuple[NDArray[Any], ...] | None]:
        """Apply ``function`` to one observation or to each of a batch.

        The results are returned as they come (no conversion), so that
        :func:`predict_action` can refuse a non-integer action.

        Raises:
            TypeError, ValueError: For observations that are not states (see
                :func:`check_observations`).
        """
        observations = check_observations(observation, self.n_states)
        actions = np.asarray([self.function(int(s)) for s in observations.reshape(-1)])
        if actions.size == observations.size:
            actions = actions.reshape(observations.shape)
        return actions, None


PolicyLike = PolicyPredictor | Callable[[int], int] | NDArray[Any] | Sequence[int]
"""What :func:`as_predictor` accepts."""


def as_predictor(policy: PolicyLike) -> PolicyPredictor:
    """Adapt a policy to :class:`PolicyPredictor`.

    Args:
        policy: An object with SB3's ``predict`` (our agents, SB3 models), a
            function ``state -> action``, or an ``(S,)`` action table.

    Raises:
        TypeError: If ``policy`` is none of these.
    """
    if isinstance(policy, PolicyPredictor):
        return policy
    if callable(policy):
        return FunctionPolicy(policy)
    if isinstance(policy, np.ndarray | list | tuple):
        table = np.asarray(policy)
        return FunctionPolicy(
            lambda state: table[state], n_states=table.shape[0] if table.ndim else None
        )
    raise TypeError(
        "policy must have SB3's predict(observation, ...) method, be a function "
        f"state -> action, or be an action table; got {type(policy).__name__}"
    )


def accepts_action_masks(predictor: PolicyPredictor) -> bool:
    """Whether ``predictor.predict`` takes ``action_masks=``, as MaskablePPO's does."""
    try:
        return "action_masks" in inspect.signature(predictor.predict).parameters
    except (TypeError, ValueError):
        return False


def predict_action(
    predictor: PolicyPredictor,
    observation: Any,
    action_mask: NDArray[np.int8] | None = None,
    deterministic: bool = True,
    masked: bool = False,
    name: str = "policy",
) -> int:
    """One action from ``predictor`` for a single integer observation.

    Args:
        predictor: The policy.
        observation: The observation (a state, for index observations).
        action_mask: The env's ``info["action_mask"]``, handed to predictors
            that accept ``action_masks=``; its length is the number of actions.
        deterministic: Ask for the greedy action.
        masked: Whether ``predictor`` accepts ``action_masks=`` (see
            :func:`accepts_action_masks`; pass it once rather than inspecting
            the signature every step).
        name: How an error names the policy.

    Raises:
        AgentError: If the answer is not one integer (booleans and floats are
            refused, never truncated) or lies outside ``[0, len(action_mask))``.
    """
    action, _ = call_predict(
        predictor, np.asarray(observation), deterministic, action_mask, masked
    )
    value = np.asarray(action).reshape(-1)
    n_actions = None if action_mask is None else len(action_mask)
    if (
        value.size != 1
        or value.dtype.kind not in "iu"
        or (n_actions is not None and not 0 <= value[0] < n_actions)
    ):
        allowed = (
            "an integer"
            if n_actions is None
            else f"one integer in [0, {n_actions - 1}]"
        )
        raise AgentError(
            f"{name} returned action {np.asarray(action).tolist()!r} in state "
            f"{observation}; allowed: {allowed}"
        )
    return int(value[0])


def call_predict(
    predictor: PolicyPredictor,
    observation: NDArray[Any],
    deterministic: bool,
    action_masks: NDArray[Any] | None,
    masked: bool,
) -> tuple[NDArray[Any], tuple[NDArray[Any], ...] | None]:
    """``predictor.predict``, handing it ``action_masks`` only if it takes them."""
    if masked and action_masks is not None:
        return predictor.predict(  # type: ignore[call-arg]
            observation, deterministic=deterministic, action_masks=action_masks
        )
    return predictor.predict(observation, deterministic=deterministic)
