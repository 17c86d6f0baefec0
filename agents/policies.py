"""What the agents share: the policy interface and small masked-action helpers.

:class:`PolicyPredictor` mirrors Stable-Baselines3's structural interface of the
same name, so our learned tables, a plain function of the state, and an SB3
model are all evaluated the same way (see :func:`as_predictor`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

_UNIFORM_BLOCK = 1024


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


class UniformStream:
    """Uniform draws in [0, 1) from a generator, fetched in blocks.

    A scalar ``Generator.random()`` costs more than a whole tabular update, so
    learners draw through this. The sequence is a deterministic function of the
    generator's state.
    """

    def __init__(self, rng: np.random.Generator) -> None:
        """Draw from ``rng``."""
        self._rng = rng
        self._block: list[float] = []

    def __call__(self) -> float:
        """Return the next uniform draw."""
        if not self._block:
            self._block = self._rng.random(_UNIFORM_BLOCK).tolist()
        return self._block.pop()


_VALID_ACTIONS_CACHE: dict[bytes, tuple[int, ...]] = {}


def valid_actions(mask: NDArray[np.int8]) -> tuple[int, ...]:
    """Indices of the 1s of an ``info["action_mask"]``, cached by the mask's bytes."""
    key = mask.tobytes()
    found = _VALID_ACTIONS_CACHE.get(key)
    if found is None:
        found = tuple(int(a) for a in np.flatnonzero(mask))
        _VALID_ACTIONS_CACHE[key] = found
    return found


def epsilon_greedy(
    q_row: Sequence[float],
    valid: Sequence[int],
    epsilon: float,
    uniform: Callable[[], float],
) -> int:
    """Return a random valid action with probability ``epsilon``, else the best one.

    Args:
        q_row: Action values of the current state.
        valid: The valid actions (non-empty); no other action is ever returned.
        epsilon: Exploration probability in [0, 1].
        uniform: A source of uniform draws in [0, 1).

    Returns:
        The chosen action; ties between greedy actions go to the lowest index.
    """
    if uniform() < epsilon:
        return valid[int(uniform() * len(valid))]
    return max(valid, key=q_row.__getitem__)


def masked_softmax(
    logits: NDArray[np.float64], mask: NDArray[Any]
) -> NDArray[np.float64]:
    """Softmax over the actions where ``mask`` is nonzero; 0 elsewhere.

    Args:
        logits: ``(A,)`` or ``(N, A)`` preferences.
        mask: Same shape; at least one nonzero entry per row.
    """
    allowed = np.asarray(mask) != 0
    shifted = np.where(allowed, logits, -np.inf)
    shifted = shifted - shifted.max(axis=-1, keepdims=True)
    weights = np.exp(shifted)
    return np.asarray(weights / weights.sum(axis=-1, keepdims=True), dtype=np.float64)


def masked_argmax(values: NDArray[np.float64], mask: NDArray[Any] | None) -> int:
    """Lowest-index argmax of ``values`` ``(A,)`` among the actions ``mask`` allows."""
    if mask is None or not np.any(mask):
        return int(np.argmax(values))
    return int(np.argmax(np.where(np.asarray(mask) != 0, values, -np.inf)))


class FunctionPolicy:
    """A plain function ``state -> action`` as a :class:`PolicyPredictor`."""

    def __init__(self, function: Callable[[int], int]) -> None:
        """Wrap ``function``."""
        self.function = function

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
        """
        observations = np.asarray(observation, dtype=np.int64)
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
        return FunctionPolicy(lambda state: table[state])
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
    observation: int,
    action_mask: NDArray[np.int8] | None = None,
    deterministic: bool = True,
    masked: bool = False,
    name: str = "policy",
) -> int:
    """One action from ``predictor`` for a single integer observation.

    Args:
        predictor: The policy.
        observation: The state.
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


def sample_index(probabilities: NDArray[np.float64], draw: float) -> int:
    """The index a uniform ``draw`` in [0, 1) selects from ``probabilities``.

    The draw is scaled by the total, so rounding in the cumulative sum can never
    select a trailing zero-probability (masked) entry.
    """
    cumulative = np.cumsum(probabilities)
    return int(np.searchsorted(cumulative, draw * cumulative[-1], side="right"))


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
