"""Scoring one policy on one configuration of a task against its exact optimum.

Unlike most benchmark envs, this one knows its optimum, so a score is exact
regret where the policy can be read as a table, and a Monte Carlo estimate with
a confidence interval in any case. Exact values are those of the env as
``gym.make`` registers it: every action ``step`` accepts (invalid actions too,
under ``"penalize"``) and its time limit as a finite horizon.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from access_review_env import ENV_ID, InvalidActionError, TabularMDP, TaskMDP
from agents.common.json_values import float_from_json
from agents.evaluation.rollouts import EvaluationResult, evaluate
from agents.evaluation.statistics import Z_95
from agents.evaluation.vector_rollouts import rollout_tables
from agents.planning import (
    as_tabular,
    evaluate_policies,
    horizon_text,
    policy_evaluation,
    start_value,
    value_iteration,
)
from agents.policies import (
    PolicyLike,
    RandomPolicy,
    policy_table,
)


@dataclass(frozen=True)
class PolicyScore:
    """A policy on one configuration, against the configuration's optimum.

    Attributes:
        optimal_value: Exact ``V*(s0)`` of the env as registered.
        random_value: Exact value of :class:`RandomPolicy`, the score-0 point.
        exact_value: Exact ``V^pi(s0)``, when the policy reads as a table and
            runs from the start (see :func:`start_value`).
        mc_value: Monte Carlo mean discounted return.
        mc_ci: Its 95 % confidence interval.
        regret: ``V* - V^pi`` (exact where available, else Monte Carlo).
        normalized_score: ``(V^pi - V_random) / (V* - V_random)``; 0 for a policy
            that crashed the env.
        agreement: Per non-terminal state, whether an optimal action is the
            policy's unique most probable one (None when it does not read as a
            table).
        violations_per_episode: Mean ``info["cost"]`` per episode.
        invalid_action_rate: Invalid actions per step.
        outcomes: Episodes per outcome.
        crashed: During the rollouts the policy took an action the env refused
            (``invalid_action="raise"``).
        n_episodes: Monte Carlo episodes.
        horizon: The time limit the exact values are computed for (None: none).
        crash_message: What the env said when it refused an action.
    """

    optimal_value: float
    random_value: float
    exact_value: float | None
    mc_value: float
    mc_ci: tuple[float, float]
    regret: float
    normalized_score: float
    agreement: dict[str, bool] | None
    violations_per_episode: float
    invalid_action_rate: float
    outcomes: dict[str, int] = field(default_factory=dict)
    crashed: bool = False
    n_episodes: int = 0
    horizon: int | None = None
    crash_message: str | None = None

    @property
    def horizon_text(self) -> str:
        """Which values the exact figures are: infinite or finite horizon."""
        return horizon_text(self.horizon)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PolicyScore:
        """A score back from its JSON form, where null stands for NaN.

        Raises:
            KeyError, TypeError, ValueError: If ``data`` is not a score.
        """
        values = {field.name: data[field.name] for field in fields(cls)}
        for name in (
            "mc_value",
            "regret",
            "violations_per_episode",
            "invalid_action_rate",
        ):
            values[name] = float_from_json(values[name])
        values["mc_ci"] = tuple(float_from_json(bound) for bound in values["mc_ci"])
        return cls(**values)


def prefers(probabilities: NDArray[np.float64], action: int) -> bool:
    """Whether ``action`` is the unique most probable action (a tie is no agreement)."""
    others = np.delete(probabilities, action)
    return bool(probabilities[action] > others.max(initial=-np.inf))


@dataclass(frozen=True)
class Reference:
    """What every score on one configuration is measured against.

    Attributes:
        env: ``gym.make(env_id, **env_kwargs)``.
        mdp: Its task MDP.
        arrays: Its planning arrays as registered (time limit as horizon).
        optimal_policy: ``(S,)`` an optimal action per state.
        optimal_value: Exact ``V*(s0)``.
        random_value: Exact value of :class:`RandomPolicy`, the score-0 point.
    """

    env: gym.Env[Any, Any]
    mdp: TaskMDP
    arrays: TabularMDP
    optimal_policy: NDArray[np.int64]
    optimal_value: float
    random_value: float

    @classmethod
    def of(cls, env_id: str, env_kwargs: dict[str, Any]) -> Reference:
        """The reference of ``gym.make(env_id, **env_kwargs)``."""
        env = gym.make(env_id, **env_kwargs)
        mdp = env.unwrapped.mdp  # type: ignore[attr-defined]
        arrays = as_tabular(env)
        optimum = value_iteration(arrays)
        start = arrays.initial_distribution
        random_table = policy_table(RandomPolicy(), mdp)
        assert random_table is not None
        return cls(
            env=env,
            mdp=mdp,
            arrays=arrays,
            optimal_policy=optimum.policy,
            optimal_value=float(start @ optimum.V),
            random_value=float(start @ policy_evaluation(arrays, random_table).V),
        )

    def agreement(self, table: NDArray[np.float64]) -> dict[str, bool]:
        """Per non-terminal state, whether the optimal action is the table's choice."""
        return {
            self.mdp.table.state_names[state]: prefers(
                table[state], int(self.optimal_policy[state])
            )
            for state in self.mdp.table.non_terminal_states
        }

    def score(
        self,
        exact_value: float | None,
        agreement: dict[str, bool] | None,
        rollout: EvaluationResult,
    ) -> PolicyScore:
        """The score of a policy from its exact value (if any) and its rollouts."""
        half_width = Z_95 * rollout.discounted_return_se
        mc_value = rollout.mean_discounted_return
        value = exact_value if exact_value is not None else mc_value
        span = self.optimal_value - self.random_value
        return PolicyScore(
            optimal_value=self.optimal_value,
            random_value=self.random_value,
            exact_value=exact_value,
            mc_value=mc_value,
            mc_ci=(mc_value - half_width, mc_value + half_width),
            regret=self.optimal_value - value,
            normalized_score=(value - self.random_value) / span if span > 0 else 1.0,
            agreement=agreement,
            violations_per_episode=rollout.violations_per_episode,
            invalid_action_rate=rollout.invalid_actions
            / (rollout.mean_length * rollout.n_episodes),
            outcomes=rollout.outcomes,
            n_episodes=rollout.n_episodes,
            horizon=self.arrays.horizon,
        )


def score_policy(
    policy: PolicyLike,
    env_kwargs: dict[str, Any] | None = None,
    *,
    n_episodes: int = 1_000,
    seed: int = 0,
    name: str = "policy",
    env_id: str = ENV_ID,
    reference: Reference | None = None,
) -> PolicyScore:
    """Score ``policy`` on ``gym.make(env_id, **env_kwargs)``.

    Args:
        policy: Anything :func:`~agents.policies.predictor.as_predictor`
            accepts; a :class:`~agents.policies.predictor.StochasticPolicy`
            is scored exactly from its probabilities.
        env_kwargs: The configuration.
        n_episodes: Monte Carlo episodes (evaluated greedily, as SB3 does).
        seed: Seed of the Monte Carlo rollouts.
        name: How errors name the agent.
        env_id: The registered task.
        reference: The configuration's :class:`Reference`, if already built.

    Raises:
        AgentError: If the policy returns an action outside the action space.
    """
    reference = reference or Reference.of(env_id, dict(env_kwargs or {}))
    agent = f"agent {name}"
    table = policy_table(policy, reference.mdp, agent)
    exact_value: float | None = None
    agreement = None
    if table is not None:
        agreement = reference.agreement(table)
        exact_value = start_value(reference.arrays, table)
    try:
        rollout = evaluate(reference.env, policy, n_episodes, seed, name=agent)
    except InvalidActionError as error:
        return PolicyScore(
            optimal_value=reference.optimal_value,
            random_value=reference.random_value,
            exact_value=None,
            mc_value=math.nan,
            mc_ci=(math.nan, math.nan),
            regret=math.nan,
            normalized_score=0.0,
            agreement=agreement,
            violations_per_episode=math.nan,
            invalid_action_rate=math.nan,
            crashed=True,
            horizon=reference.arrays.horizon,
            crash_message=str(error),
        )
    return reference.score(exact_value, agreement, rollout)


def score_policies(
    policies: Sequence[PolicyLike],
    env_kwargs: dict[str, Any] | None = None,
    *,
    seeds: Sequence[int],
    n_episodes: int = 1_000,
    name: str = "policy",
    env_id: str = ENV_ID,
) -> list[PolicyScore]:
    """Score many policies on one configuration, as :func:`score_policy` each.

    Policies that read as deterministic tables of available actions (our
    tabular agents do) are scored together: exact values by batched policy
    evaluation, and the Monte Carlo rollouts of all of them at once on the
    native vector env (:func:`~agents.evaluation.vector_rollouts.rollout_tables`,
    ``n_episodes`` per policy), which assumes a policy's greedy action depends
    on the state alone, as a table's does. The rollouts draw from one
    generator seeded by the whole list of seeds. Any other policy, or any
    policy of an env without a vector entry point, is scored by
    :func:`score_policy` with its own seed.

    Args:
        policies: The policies, one per seed.
        env_kwargs: The configuration.
        seeds: One seed per policy.
        n_episodes: Monte Carlo episodes per policy.
        name: How errors name the agent.
        env_id: The registered task.

    Raises:
        ValueError: If ``seeds`` and ``policies`` differ in length.
        AgentError: If a policy returns an action outside the action space.
    """
    if len(seeds) != len(policies):
        raise ValueError(
            f"score_policies needs one seed per policy, got {len(seeds)} seeds "
            f"for {len(policies)} policies"
        )
    kwargs = dict(env_kwargs or {})
    reference = Reference.of(env_id, kwargs)
    arrays = reference.arrays
    agent = f"agent {name}"
    tables = [policy_table(policy, reference.mdp, agent) for policy in policies]
    batched = [
        i
        for i, table in enumerate(tables)
        if table is not None and _runs_as_actions(arrays, table)
    ]
    if gym.spec(env_id).vector_entry_point is None:
        batched = []
    scores: list[PolicyScore | None] = [None] * len(policies)
    if batched:
        stacked = np.array([tables[i] for i in batched])
        values = evaluate_policies(arrays, stacked) @ arrays.initial_distribution
        actions = np.argmax(stacked, axis=-1)
        rollouts = rollout_tables(
            env_id,
            kwargs,
            actions,
            n_episodes,
            seed=int(
                np.random.SeedSequence([int(s) for s in seeds]).generate_state(1)[0]
            ),
            gamma=arrays.gamma,
        )
        for i, table, value, rollout in zip(
            batched, stacked, values, rollouts, strict=True
        ):
            scores[i] = reference.score(
                float(value), reference.agreement(table), rollout
            )
    return [
        score
        if score is not None
        else score_policy(
            policies[i],
            kwargs,
            n_episodes=n_episodes,
            seed=int(seeds[i]),
            name=name,
            env_id=env_id,
            reference=reference,
        )
        for i, score in enumerate(scores)
    ]


def _runs_as_actions(arrays: TabularMDP, table: NDArray[np.float64]) -> bool:
    """Whether ``table`` is deterministic and chooses available actions only."""
    live = ~arrays.terminal
    one_hot = np.all((table[live] == 0.0) | (table[live] == 1.0))
    chosen = np.argmax(table, axis=1)
    return bool(one_hot and arrays.available_actions[live, chosen[live]].all())
