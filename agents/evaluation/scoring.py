"""Scoring one policy on one configuration of a task against its exact optimum.

Unlike most benchmark envs, this one knows its optimum, so a score is exact
regret where the policy can be read as a table, and a Monte Carlo estimate with
a confidence interval in any case. Exact values are those of the env as
``gym.make`` makes it (:func:`~agents.evaluation.exact.scored_arrays`): every
action ``step`` accepts (invalid actions too, under ``"penalize"``), its time
limit as a finite horizon, and the start distribution its ``reset`` draws from
(uniform over the non-terminal states under ``exploring_starts=True``).

How a policy is read decides how it is scored, and every score says which
(:attr:`PolicyScore.mode`, see :mod:`agents.policies.probability_table`):
``"stochastic"`` (a :class:`~agents.policies.predictor.StochasticPolicy`: the
exact value from its probabilities, and every rollout action sampled from the
same table with the harness's generator), ``"greedy"`` (its deterministic
answer, the same in each of :data:`~agents.policies.PROBES` probes per state
and in every step of the rollouts) or ``"sampled"`` (it answered differently:
Monte Carlo alone, :attr:`PolicyScore.exact_note` says why).

Every score checks its exact value against its own Monte Carlo interval at
:data:`CHECK_CONFIDENCE` (:attr:`PolicyScore.exact_outside_mc`,
:func:`check_interval`): an honest exact value falls outside it at most once
in 10,000 scores.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from access_review_env import ENV_ID, InvalidActionError, SparseMDP
from agents.common.json_values import float_from_json
from agents.evaluation.exact import (
    moments_affordable,
    optimal_action_mask,
    return_deviation,
    scored_model,
)
from agents.evaluation.queue_operations import (
    Operations,
    QueueReading,
    QueueTally,
    monte_carlo_operations,
    operations_rule,
)
from agents.evaluation.rollouts import EvaluationResult, action_generator, evaluate
from agents.evaluation.statistics import t_value
from agents.evaluation.vector_rollouts import rollout_tables
from agents.planning import (
    evaluate_policies,
    horizon_text,
    start_value,
    value_iteration,
)
from agents.planning.occupancy import occupancy_value
from agents.planning.policy_evaluation import dense_solvable
from agents.policies import (
    PROBES,
    Mode,
    PolicyLike,
    PolicyReading,
    ProbabilityTable,
    RandomPolicy,
    StochasticPolicy,
    read_policy,
    stochastic_table,
)

MC_CONFIDENCE = 0.95
"""Coverage of :attr:`PolicyScore.mc_ci`, the interval a score reports."""

CHECK_CONFIDENCE = 0.9999
"""Coverage of :attr:`PolicyScore.mc_check_ci`, the interval each exact value is
checked against (:func:`check_interval`). A benchmark has hundreds of scores:
at 95 % one honest score in 20 would fail the check by chance; at 99.99 % the
default benchmark's 490 scores fail it together with probability under 5 %
(``1 - 0.9999**490``), while a wrong exact value (a coin flip scored as one of
its sides) lies tens of standard errors away."""

EXACT_CHECK_TOLERANCE = 1e-9
"""Rounding allowed between an exact value and a Monte Carlo bound, relative
to the value (at least 1): a policy whose returns never vary has an interval
of zero width."""


@dataclass(frozen=True)
class PolicyScore:
    """A policy on one configuration, against the configuration's optimum.

    Attributes:
        optimal_value: Exact ``V*(s0)`` of the env as registered.
        random_value: Exact value of :class:`RandomPolicy`, the score-0 point.
        exact_value: Exact ``V^pi(s0)``, when the policy reads as a table and
            runs from the start (see :func:`start_value`); None otherwise,
            and :attr:`exact_note` says why.
        mc_value: Monte Carlo mean discounted return.
        mc_ci: Its 95 % Student's t interval (:data:`MC_CONFIDENCE`; NaN
            for a single episode).
        regret: ``V* - V^pi`` (exact where available, else Monte Carlo).
        normalized_score: ``(V^pi - V_random) / (V* - V_random)``; 0 for a policy
            that crashed the env.
        agreement: Per non-terminal state, whether every action the policy
            takes there with positive probability is optimal: its ``Q*`` within
            :data:`~agents.evaluation.exact.TIE_TOLERANCE` of ``V*``, so
            any of tied optimal actions agrees (None when the policy does not
            read as a table).
        violations_per_episode: Mean ``info["cost"]`` per episode.
        invalid_action_rate: Invalid actions per step.
        outcomes: Episodes per outcome.
        crashed: During the rollouts the policy took an action the env refused
            (``invalid_action="raise"``).
        n_episodes: Monte Carlo episodes.
        horizon: The time limit the exact values are computed for (None: none).
        crash_message: What the env said when it refused an action.
        mode: How the policy was read and scored: ``"greedy"``,
            ``"stochastic"`` or ``"sampled"`` (see the module docstring).
        exact_note: Why there is no exact value, or None.
        mc_check_ci: The Monte Carlo interval at :data:`CHECK_CONFIDENCE`
            the exact value is checked against (see :func:`check_interval`).
        exact_outside_mc: Whether the exact value lies outside
            :attr:`mc_check_ci` (None without an exact value or an interval):
            True means the exact value and the rollouts disagree.
        baseline_value: Exact value of the task's operations rule (the
            queue's, :func:`~agents.evaluation.queue_operations.operations_rule`),
            or None for a task without one.
        baseline_gap_closed: ``(V^pi - V_rule) / (V* - V_rule)``: the share
            of the rule's gap to the optimum the policy closes (negative
            below the rule), or None without a rule.
        optimal_share: Share of non-terminal states where every action the
            policy takes with positive probability is optimal (None when it
            does not read as a table); :attr:`agreement` names the states on
            models of at most :data:`AGREEMENT_MAX_STATES` states.
        operations: The queue's operations figures over one shift
            (:class:`~agents.evaluation.queue_operations.Operations`), exact
            where the policy reads as a table, else from the rollouts; None
            for other tasks.
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
    mode: Mode = "greedy"
    exact_note: str | None = None
    mc_check_ci: tuple[float, float] = (math.nan, math.nan)
    exact_outside_mc: bool | None = None
    baseline_value: float | None = None
    baseline_gap_closed: float | None = None
    optimal_share: float | None = None
    operations: Operations | None = None

    @property
    def horizon_text(self) -> str:
        """Which values the exact figures are: infinite or finite horizon."""
        return horizon_text(self.horizon)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PolicyScore:
        """A score back from its JSON form, where null stands for NaN.

        Raises:
            KeyError, TypeError, ValueError: If ``data`` is not a score (a
                score written before scores stated their mode is refused: its
                exact value may be that of one draw of a random policy).
        """
        if "mode" not in data:
            raise KeyError(
                "a score without 'mode', written before policies were read by "
                "mode; run the benchmark again without --resume"
            )
        later = {field.name for field in fields(cls)} - _FIRST_FIELDS
        values: dict[str, Any] = {
            field.name: data.get(field.name)
            if field.name in later
            else data[field.name]
            for field in fields(cls)
        }
        if values["operations"] is not None:
            values["operations"] = Operations.from_json(values["operations"])
        for name in (
            "mc_value",
            "regret",
            "violations_per_episode",
            "invalid_action_rate",
        ):
            values[name] = float_from_json(values[name])
        for name in ("mc_ci", "mc_check_ci"):
            values[name] = tuple(float_from_json(bound) for bound in values[name])
        return cls(**values)


_FIRST_FIELDS = frozenset(
    field.name
    for field in fields(PolicyScore)
    if field.name
    not in ("baseline_value", "baseline_gap_closed", "optimal_share", "operations")
)
"""Fields every stored score has; the others are absent from older records."""

AGREEMENT_MAX_STATES = 1_000
"""Scores name each state's agreement (:attr:`PolicyScore.agreement`) on models
of at most this many states; larger ones keep the share alone."""


def t_interval(
    mean: float, se: float, n: int, confidence: float
) -> tuple[float, float]:
    """``mean`` +- Student's t (``n - 1`` degrees of freedom) standard errors.

    NaN bounds for fewer than two samples, which give no interval.
    """
    if n < 2:
        return (math.nan, math.nan)
    half = t_value(confidence, n - 1) * se
    return (mean - half, mean + half)


def check_interval(
    mean: float, se: float, n: int, model_deviation: float | None
) -> tuple[float, float]:
    """The interval an exact value is checked against, at :data:`CHECK_CONFIDENCE`.

    Student's t over the ``n`` episodes, with the larger of two standard
    errors: the sample's, and the model's (``model_deviation``, the standard
    deviation of one return the exact model gives,
    :func:`~agents.evaluation.exact.return_deviation`, over ``sqrt(n)``).
    The sample's alone undercovers where the returns are skewed: when a rare
    outcome happens less often than its probability, the sample also
    underestimates its spread (28 abandonments in 1,000 episodes where 50 are
    expected gave 4.2 standard errors of the sample, 3.2 of the model). The
    model's alone would trust the very model under check. With the larger
    one, an honest exact value lies inside with at least the stated
    coverage (up to the normal approximation of a mean of ``n`` returns),
    and a rollout whose returns never varied is no longer an interval of
    zero width when the model says they vary.
    """
    if n < 2:
        return (math.nan, math.nan)
    spread = se if model_deviation is None else max(se, model_deviation / math.sqrt(n))
    half = t_value(CHECK_CONFIDENCE, n - 1) * spread
    return (mean - half, mean + half)


def outside(value: float | None, interval: tuple[float, float]) -> bool | None:
    """Whether ``value`` lies outside ``interval`` beyond rounding (None: no check)."""
    low, high = interval
    if value is None or not (math.isfinite(low) and math.isfinite(high)):
        return None
    slack = EXACT_CHECK_TOLERANCE * max(1.0, abs(value))
    return not low - slack <= value <= high + slack


@dataclass(frozen=True, eq=False)
class Reference:
    """What every score on one configuration is measured against.

    Built once per configuration and process (:func:`reference_of`): on the
    largest queue level the optimum and the random policy's value take
    tens of seconds.

    Attributes:
        env: ``gym.make(env_id, **env_kwargs)``.
        model: The MDP exact values are computed on, sparse at every size
            (:func:`~agents.evaluation.exact.scored_model`: the env's time
            limit as its horizon, its reset's start distribution).
        masks: ``(S, A)`` each state's valid actions (``info["action_mask"]``).
        optimal: ``(S, A)`` the optimal actions of each non-terminal state,
            every one whose ``Q*`` is within
            :data:`~agents.evaluation.exact.TIE_TOLERANCE` of ``V*``.
        optimal_value: Exact ``V*`` of the start distribution.
        random_value: Exact value of :class:`RandomPolicy`, the score-0 point.
        baseline: ``(S,)`` the task's operations rule, or None.
        baseline_value: Its exact value, or None.
        queue: What the queue's operations figures read of the model, or None
            for another task.
    """

    env: gym.Env[Any, Any]
    model: SparseMDP
    masks: NDArray[np.bool_]
    optimal: NDArray[np.bool_]
    optimal_value: float
    random_value: float
    baseline: NDArray[np.int64] | None = None
    baseline_value: float | None = None
    queue: QueueReading | None = None

    @classmethod
    def of(cls, env_id: str, env_kwargs: dict[str, Any]) -> Reference:
        """The reference of ``gym.make(env_id, **env_kwargs)``."""
        env = gym.make(env_id, **env_kwargs)
        model = scored_model(env)
        unwrapped: Any = env.unwrapped
        masks = np.asarray(model.valid_action_mask, dtype=bool)
        optimum = value_iteration(model)
        random_table = stochastic_table(RandomPolicy(), masks, ~model.terminal)
        random_value = exact_start_value(model, random_table)
        assert random_value is not None
        shape = getattr(unwrapped.mdp, "shape", None)
        queue = None if shape is None else QueueReading.of(shape, model.outcomes)
        baseline = None if queue is None else operations_rule(masks)
        return cls(
            env=env,
            model=model,
            masks=masks,
            optimal=optimal_action_mask(optimum.Q, optimum.V, model.terminal),
            optimal_value=float(model.initial_distribution @ optimum.V),
            random_value=random_value,
            baseline=baseline,
            baseline_value=None
            if baseline is None
            else exact_start_value(model, baseline),
            queue=queue,
        )

    @property
    def arrays(self) -> SparseMDP:
        """The model exact values are computed on (:attr:`model`)."""
        return self.model

    @property
    def live(self) -> NDArray[np.bool_]:
        """``(S,)`` the non-terminal states."""
        return ~self.model.terminal

    @property
    def observe(self) -> Callable[[int], Any] | None:
        """The observation the env shows in a state (None: the state itself)."""
        return getattr(self.env.unwrapped, "observe", None)

    def state_labels(self) -> tuple[str, ...]:
        """How each state is named in agreements."""
        if self.model.state_names:
            return self.model.state_names
        label = self.env.unwrapped.mdp.state_label  # type: ignore[attr-defined]
        return tuple(label(state) for state in range(self.model.n_states))

    def agreement(self, table: NDArray[np.float64]) -> dict[str, bool] | None:
        """Per non-terminal state, whether the table takes optimal actions only.

        None on models of more than :data:`AGREEMENT_MAX_STATES` states.
        """
        if self.model.n_states > AGREEMENT_MAX_STATES:
            return None
        agrees = self._agrees(table)
        labels = self.state_labels()
        return {
            labels[state]: bool(agrees[state]) for state in np.flatnonzero(self.live)
        }

    def optimal_share(self, table: NDArray[np.float64]) -> float:
        """Share of non-terminal states where the table takes optimal actions only."""
        return float(self._agrees(table)[self.live].mean())

    def _agrees(self, table: NDArray[np.float64]) -> NDArray[np.bool_]:
        return np.asarray(np.all(self.optimal | (table <= 0.0), axis=1))

    def exact(self, table: NDArray[np.float64]) -> float | None:
        """Exact ``V^pi`` of the start distribution (see :func:`exact_start_value`)."""
        return exact_start_value(self.model, table)

    def score(
        self,
        exact_value: float | None,
        table: NDArray[np.float64] | None,
        rollout: EvaluationResult,
        mode: Mode,
        exact_note: str | None = None,
    ) -> PolicyScore:
        """The score of a policy from its table and exact value (if any) and rollouts.

        Args:
            exact_value: ``V^pi`` of the start distribution, or None.
            table: ``(S, A)`` the policy as read, or None.
            rollout: Its Monte Carlo rollouts.
            mode: How it was read.
            exact_note: Why there is no exact value.
        """
        mc_value = rollout.mean_discounted_return
        se, n = rollout.discounted_return_se, rollout.n_episodes
        model = self.model
        deviation = None
        if exact_value is not None and table is not None and moments_affordable(model):
            deviation = return_deviation(
                model, table, model.initial_distribution, model.gamma, model.horizon
            )
        check = check_interval(mc_value, se, n, deviation)
        value = exact_value if exact_value is not None else mc_value
        span = self.optimal_value - self.random_value
        return PolicyScore(
            optimal_value=self.optimal_value,
            random_value=self.random_value,
            exact_value=exact_value,
            mc_value=mc_value,
            mc_ci=t_interval(mc_value, se, n, MC_CONFIDENCE),
            regret=self.optimal_value - value,
            normalized_score=(value - self.random_value) / span if span > 0 else 1.0,
            agreement=None if table is None else self.agreement(table),
            violations_per_episode=rollout.violations_per_episode,
            invalid_action_rate=rollout.invalid_actions
            / (rollout.mean_length * rollout.n_episodes),
            outcomes=rollout.outcomes,
            n_episodes=rollout.n_episodes,
            horizon=model.horizon,
            mode=mode,
            exact_note=exact_note,
            mc_check_ci=check,
            exact_outside_mc=outside(exact_value, check),
            baseline_value=self.baseline_value,
            baseline_gap_closed=self.gap_closed(value),
            optimal_share=None if table is None else self.optimal_share(table),
            operations=self.operations(exact_value, table, rollout),
        )

    def gap_closed(self, value: float) -> float | None:
        """``(value - V_rule) / (V* - V_rule)``, or None without a rule."""
        if self.baseline_value is None:
            return None
        gap = self.optimal_value - self.baseline_value
        return (value - self.baseline_value) / gap if gap > 0 else 1.0

    def operations(
        self,
        exact_value: float | None,
        table: NDArray[np.float64] | None,
        rollout: EvaluationResult,
    ) -> Operations | None:
        """The queue's figures: exact from the table, else the rollouts' tallies."""
        if self.queue is None:
            return None
        if exact_value is not None and table is not None:
            return self.queue.exact(self.model, _as_actions(table))
        if rollout.tallies.shape[0] >= 2:
            return monte_carlo_operations(rollout.tallies)
        return None

    def tally(self) -> QueueTally | None:
        """What the rollouts of a policy without a table count (the queue's figures)."""
        return None if self.queue is None else QueueTally(self.queue)

    def crashed(
        self,
        message: str,
        table: NDArray[np.float64] | None,
        mode: Mode,
        exact_note: str | None,
    ) -> PolicyScore:
        """The score of a policy that took an action the env refused."""
        return PolicyScore(
            optimal_value=self.optimal_value,
            random_value=self.random_value,
            exact_value=None,
            mc_value=math.nan,
            mc_ci=(math.nan, math.nan),
            regret=math.nan,
            normalized_score=0.0,
            agreement=None if table is None else self.agreement(table),
            violations_per_episode=math.nan,
            invalid_action_rate=math.nan,
            crashed=True,
            horizon=self.model.horizon,
            crash_message=message,
            mode=mode,
            exact_note=exact_note or "it took an action the env refused",
            baseline_value=self.baseline_value,
        )


@lru_cache(maxsize=8)
def _cached_reference(env_id: str, kwargs_json: str) -> Reference:
    return Reference.of(env_id, json.loads(kwargs_json))


def reference_of(env_id: str, env_kwargs: Mapping[str, Any] | None = None) -> Reference:
    """The :class:`Reference` of a configuration, built once per process.

    Configurations whose kwargs are not plain JSON (a reward mapping holds
    only numbers, so every task's are) are built each time.
    """
    kwargs = dict(env_kwargs or {})
    try:
        key = json.dumps(kwargs, sort_keys=True)
    except TypeError:
        return Reference.of(env_id, kwargs)
    return _cached_reference(env_id, key)


def exact_start_value(model: SparseMDP, table: NDArray[Any]) -> float | None:
    """Exact ``V^pi`` of the start distribution, or None if the env cannot run it.

    Where the dense arrays are affordable, by
    :func:`~agents.planning.start_value` (backward induction); on larger
    models by the discounted occupancy
    (:func:`~agents.planning.occupancy.occupancy_value`, one forward pass,
    reading a one-hot table as its actions). Both give the same value to
    rounding (tested); None when the policy takes an action without a
    transition in a state it reaches.

    Args:
        model: The MDP as scored.
        table: ``(S, A)`` the policy's action probabilities, or ``(S,)`` its
            actions.
    """
    if dense_solvable(model):
        if table.ndim == 1:
            table = np.eye(model.n_actions)[table]
        return start_value(model, table)
    return occupancy_value(model, _as_actions(table))


def _as_actions(table: NDArray[np.float64]) -> NDArray[Any]:
    """A one-hot table ``(S, A)`` as its actions ``(S,)``; any other as it is."""
    if table.ndim == 1:
        return table
    if np.all((table == 0.0) | (table == 1.0)) and np.all(table.sum(axis=1) == 1.0):
        return np.asarray(np.argmax(table, axis=1), dtype=np.int64)
    return table


NO_VALUE_NOTE = (
    "it takes an action the env refuses (invalid_action='raise') in a state it "
    "reaches, so it has no value"
)


def harness_generators(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """The harness's generators of a score seeded with ``seed``: reading, rollouts.

    The rollouts' is :func:`~agents.evaluation.rollouts.action_generator` of
    ``seed``; the reading's is another stream of the same seed.
    """
    reading = np.random.SeedSequence(seed).spawn(2)[1]
    return np.random.default_rng(reading), action_generator(seed)


def score_policy(
    policy: PolicyLike | StochasticPolicy,
    env_kwargs: dict[str, Any] | None = None,
    *,
    n_episodes: int = 1_000,
    seed: int = 0,
    name: str = "policy",
    env_id: str = ENV_ID,
    reference: Reference | None = None,
    probes: int = PROBES,
) -> PolicyScore:
    """Score ``policy`` on ``gym.make(env_id, **env_kwargs)``.

    The policy is read as a table (see the module docstring): a
    :class:`~agents.policies.predictor.StochasticPolicy` from its
    probabilities, any other policy by asking it ``probes`` times per state
    for its deterministic action. Its exact value comes from that table; its
    Monte Carlo rollouts sample from the same table (stochastic) or ask the
    policy itself (greedy, sampled), and a greedy policy that answers
    otherwise during the rollouts than when probed loses its exact value.

    Args:
        policy: A stochastic policy or anything
            :func:`~agents.policies.predictor.as_predictor` accepts.
        env_kwargs: The configuration.
        n_episodes: Monte Carlo episodes.
        seed: Seed of the Monte Carlo rollouts and of the harness's
            generators (:func:`harness_generators`).
        name: How errors name the agent.
        env_id: The registered task.
        reference: The configuration's :class:`Reference`, if already built.
        probes: Times a policy without stated probabilities is asked per state.

    Raises:
        AgentError: If the policy returns an action outside the action space,
            or states probabilities that are not distributions.
    """
    reference = reference or reference_of(env_id, env_kwargs)
    agent = f"agent {name}"
    reading_rng, rollout_rng = harness_generators(seed)
    reading = read_policy(
        policy,
        reference.masks,
        reference.live,
        rng=reading_rng,
        probes=probes,
        observe=reference.observe,
        name=agent,
    )
    return _score_reading(
        policy, reading, reference, n_episodes, seed, rollout_rng, agent, probes
    )


def _score_reading(
    policy: PolicyLike | StochasticPolicy,
    reading: PolicyReading,
    reference: Reference,
    n_episodes: int,
    seed: int,
    rng: np.random.Generator,
    agent: str,
    probes: int,
) -> PolicyScore:
    """:func:`score_policy` of a policy already read."""
    table, mode, note = reading.table, reading.mode, reading.reason
    exact_value: float | None = None
    if table is not None:
        exact_value = reference.exact(table)
        note = NO_VALUE_NOTE if exact_value is None else None
    rolled: PolicyLike | StochasticPolicy = policy
    if mode == "stochastic" and table is not None:
        rolled = ProbabilityTable(table)
    try:
        rollout = evaluate(
            reference.env,
            rolled,
            n_episodes,
            seed,
            name=agent,
            rng=rng,
            tally=reference.tally(),
        )
    except InvalidActionError as error:
        return reference.crashed(str(error), table, mode, note)
    if mode == "greedy" and table is not None:
        for state, action in sorted(rollout.state_actions):
            if table[state, action] != 1.0:
                probed = int(np.argmax(table[state]))
                mode, exact_value, table = "sampled", None, None
                note = (
                    f"{agent} chose action {action} in state {state} during the "
                    f"rollouts, where each of its {probes} probes had answered "
                    f"{probed}: it is not the deterministic policy it seemed, so "
                    "it has no exact value and is scored by Monte Carlo alone"
                )
                break
    return reference.score(exact_value, table, rollout, mode, note)


def score_policies(
    policies: Sequence[PolicyLike | StochasticPolicy],
    env_kwargs: dict[str, Any] | None = None,
    *,
    seeds: Sequence[int],
    n_episodes: int = 1_000,
    name: str = "policy",
    env_id: str = ENV_ID,
    probes: int = PROBES,
) -> list[PolicyScore]:
    """Score many policies on one configuration, as :func:`score_policy` each.

    Each policy is read as :func:`score_policy` reads it, with the harness's
    generators of its own seed. Those that read as tables of available
    actions (our tabular agents do, greedy or stochastic) are scored
    together: exact values by batched policy evaluation, and the Monte Carlo
    rollouts of all of them at once on the native vector env
    (:func:`~agents.evaluation.vector_rollouts.rollout_tables`, ``n_episodes``
    per policy), from the tables themselves: a greedy policy's action is
    taken to depend on the state alone, as its probes showed. Each policy's
    rollouts draw from streams of its own seed, so its score does not depend
    on the policies scored with it. Any other policy,
    or any policy of an env without a vector entry point or with feature
    observations, is scored by :func:`score_policy` with its own seed.

    Args:
        policies: The policies, one per seed.
        env_kwargs: The configuration.
        seeds: One seed per policy.
        n_episodes: Monte Carlo episodes per policy.
        name: How errors name the agent.
        env_id: The registered task.
        probes: Times a policy without stated probabilities is asked per state.

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
    reference = reference_of(env_id, kwargs)
    arrays = reference.arrays
    agent = f"agent {name}"
    generators = [harness_generators(int(seed)) for seed in seeds]
    readings = [
        read_policy(
            policy,
            reference.masks,
            reference.live,
            rng=generators[i][0],
            probes=probes,
            observe=reference.observe,
            name=agent,
        )
        for i, policy in enumerate(policies)
    ]
    vectorizable = gym.spec(env_id).vector_entry_point is not None and (
        getattr(reference.env.unwrapped, "observation_mode", "index") == "index"
    )
    batched = [
        i
        for i, reading in enumerate(readings)
        if vectorizable
        and reading.table is not None
        and _runs_as_tables(arrays, reading.table)
    ]
    scores: list[PolicyScore | None] = [None] * len(policies)
    if batched:
        stacked = np.array([readings[i].table for i in batched])
        values = evaluate_policies(arrays, stacked) @ arrays.initial_distribution
        one_hot = bool(np.all((stacked == 0.0) | (stacked == 1.0)))
        rollouts = rollout_tables(
            env_id,
            kwargs,
            np.argmax(stacked, axis=-1) if one_hot else stacked,
            n_episodes,
            seeds=[int(seeds[i]) for i in batched],
            gamma=arrays.gamma,
        )
        for i, table, value, rollout in zip(
            batched, stacked, values, rollouts, strict=True
        ):
            scores[i] = reference.score(float(value), table, rollout, readings[i].mode)
    return [
        score
        if score is not None
        else _score_reading(
            policies[i],
            readings[i],
            reference,
            n_episodes,
            int(seeds[i]),
            generators[i][1],
            agent,
            probes,
        )
        for i, score in enumerate(scores)
    ]


def _runs_as_tables(arrays: SparseMDP, table: NDArray[np.float64]) -> bool:
    """Whether ``table`` puts mass on available actions only, in every live state."""
    live = ~arrays.terminal
    return bool(np.all(arrays.available_actions[live] | (table[live] <= 0.0)))
