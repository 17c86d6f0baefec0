"""The policy side every learned table shares: greedy actions and SB3's ``predict``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agents.policies.predictor import check_observations
from agents.policies.selection import masked_argmax


class TabularPolicy:
    """Base of the learned agents: a ``(S, A)`` preference table read as a policy.

    Subclasses (dataclasses) provide ``preferences`` (Q values or logits),
    ``valid_seen`` (the masks the env reported per state) and ``config``; they
    override :meth:`act` where acting is stochastic.
    """

    valid_seen: NDArray[np.bool_]
    config: Any

    @property
    def preferences(self) -> NDArray[np.float64]:
        """``(S, A)`` the table whose largest valid entry is the greedy action."""
        raise NotImplementedError

    @property
    def greedy_actions(self) -> NDArray[np.int64]:
        """``(S,)`` greedy action per state, among the valid actions seen there."""
        return np.array(
            [
                self.act(state, None, deterministic=True)
                for state in range(len(self.valid_seen))
            ],
            dtype=np.int64,
        )

    def state_mask(self, state: int, mask: NDArray[Any] | None) -> NDArray[Any]:
        """``mask`` if given, else the mask seen in ``state``, else all actions."""
        if mask is not None:
            return mask
        seen = self.valid_seen[state]
        return seen if seen.any() else np.ones_like(seen)

    def act(self, state: int, mask: NDArray[Any] | None, deterministic: bool) -> int:
        """One action in ``state`` among ``mask``'s actions: the greedy one here."""
        return masked_argmax(self.preferences[state], self.state_mask(state, mask))

    def task_text(self) -> str:
        """The task this table was learned on, and its shape, for messages."""
        n_states, n_actions = self.preferences.shape
        env_id = getattr(self, "env_id", None) or "an unnamed task"
        return f"{env_id} ({n_states} states, {n_actions} actions)"

    def check_task(self, env_id: str | None, n_states: int, n_actions: int) -> None:
        """Refuse a task of another shape than this table's, naming both.

        Raises:
            ValueError: If the task has other numbers of states or actions.
        """
        if self.preferences.shape != (n_states, n_actions):
            raise ValueError(
                f"this agent was learned on {self.task_text()} and cannot act "
                f"on {env_id or 'this env'} ({n_states} states, {n_actions} "
                "actions): an agent acts on the task it learned only"
            )

    def predict(
        self,
        observation: NDArray[Any] | dict[str, NDArray[Any]],
        state: tuple[NDArray[Any], ...] | None = None,
        episode_start: NDArray[Any] | None = None,
        deterministic: bool = False,
        action_masks: NDArray[Any] | None = None,
    ) -> tuple[NDArray[Any], tuple[NDArray[Any], ...] | None]:
        """SB3-style prediction for one observation or a batch, with optional masks.

        Raises:
            TypeError: If the observations are not integers (booleans, floats
                and strings are refused).
            ValueError: If one is not a state, an integer in ``[0, S)``, or
                the masks are not over this table's ``A`` actions.
        """
        observations = check_observations(observation, len(self.valid_seen))
        flat = observations.reshape(-1)
        n_actions = self.preferences.shape[1]
        if action_masks is not None and np.shape(action_masks)[-1:] != (n_actions,):
            raise ValueError(
                f"action masks of shape {np.shape(action_masks)} given to an agent "
                f"learned on {self.task_text()}: it acts on the task it learned only"
            )
        masks = (
            None
            if action_masks is None
            else np.broadcast_to(action_masks, (flat.size, self.preferences.shape[1]))
        )
        actions = [
            self.act(int(s), None if masks is None else masks[i], deterministic)
            for i, s in enumerate(flat)
        ]
        return np.array(actions, dtype=np.int64).reshape(observations.shape), None

    def hyperparameters(self) -> dict[str, Any]:
        """The config as a plain dict."""
        return asdict(self.config)
