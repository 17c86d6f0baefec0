"""The batched learners against the scalar ones: the same distributions over seeds.

Each test compares one sample of seeds trained by the scalar learner (through
``gym.make``) with one trained by the batched learner (through the native vector
env) by a family of two-sample tests: Kolmogorov-Smirnov on learned values or
probabilities in a start state, Fisher's exact test on how many seeds greedily
choose a given first action, and Kolmogorov-Smirnov on each seed's mean return
in bins of training episodes (the learning curve). The family is held at level
``FAMILY_LEVEL`` by Bonferroni: each test must have p above
``FAMILY_LEVEL / m``. Seeds are fixed, so a run is deterministic; the level is
the chance, over seed choices, that equivalent learners fail.

Power: the same family must reject a learner with one hyperparameter changed,
so a pass is not vacuous. ``python tests/agents/test_batched_equivalence.py``
prints every p-value of the fast families. The families at the lesson's budget
take minutes: they are marked ``slow`` and ``expensive``, and run with
``pytest -m expensive tests/agents/test_batched_equivalence.py``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from access_review_env import ENV_ID, RISK_ENV_ID
from agents import QLearningConfig, ReinforceConfig, train_q_learning, train_reinforce
from agents.learners.batched import train_q_learning_batched, train_reinforce_batched
from agents.policies.selection import masked_softmax_rows

stats = pytest.importorskip("scipy.stats")

FAMILY_LEVEL = 0.01
START, EVIDENCE = 0, 2
AUTO, REQUEST, HUMAN = 0, 1, 2
BATCH_SEED = 12_345


@dataclass
class Sample:
    """What the tests compare, one row per seed.

    Attributes:
        values: ``(N, m)`` continuous per-seed statistics (Q values or
            probabilities), each compared by Kolmogorov-Smirnov.
        chooses: ``(N,)`` whether the seed's greedy first action is the one
            counted.
        curve: ``(B, N)`` each seed's mean return in each bin of episodes.
    """

    values: np.ndarray
    chooses: np.ndarray
    curve: np.ndarray


@dataclass(frozen=True)
class Family:
    """One comparison: the env, the budget, what is compared."""

    env_id: str
    env_kwargs: dict[str, Any]
    n_seeds: int
    edges: tuple[int, ...]
    compared: tuple[tuple[int, int], ...]
    """(state, action) pairs whose Q value or probability is compared."""
    counted: int
    """The first action whose greedy share is compared (in the start state 0)."""

    @property
    def n_episodes(self) -> int:
        """Training episodes per seed."""
        return self.edges[-1]


def p_values(first: Sample, second: Sample) -> dict[str, float]:
    """The family's p-values, by name."""
    result = {
        f"KS value {i}": stats.ks_2samp(first.values[:, i], second.values[:, i]).pvalue
        for i in range(first.values.shape[1])
    }
    table = [
        [first.chooses.sum(), (~first.chooses).sum()],
        [second.chooses.sum(), (~second.chooses).sum()],
    ]
    result["Fisher greedy rate"] = stats.fisher_exact(table).pvalue
    for j in range(first.curve.shape[0]):
        result[f"KS curve bin {j}"] = stats.ks_2samp(
            first.curve[j], second.curve[j]
        ).pvalue
    return result


def rejected(first: Sample, second: Sample) -> list[str]:
    """The tests of the family that reject at the Bonferroni level."""
    found = p_values(first, second)
    threshold = FAMILY_LEVEL / len(found)
    return [f"{name}: p = {p:.2g}" for name, p in found.items() if p < threshold]


def binned(returns: np.ndarray, edges: tuple[int, ...]) -> np.ndarray:
    """``(B, N)`` mean return per seed in each bin ``[edges[j], edges[j + 1])``."""
    return np.stack(
        [returns[:, a:b].mean(axis=1) for a, b in itertools.pairwise(edges)]
    )


def valid_mask(family: Family) -> np.ndarray:
    """The task's valid actions: what both learners choose among."""
    env = gym.make(family.env_id, **family.env_kwargs)
    mask = np.asarray(env.unwrapped.mdp.valid_action_mask)  # type: ignore[attr-defined]
    return np.asarray(mask != 0)


def _sample(family: Family, tables: np.ndarray, curve: np.ndarray, q: bool) -> Sample:
    """The compared statistics of ``tables`` ``(N, S, A)``."""
    states, actions = zip(*family.compared, strict=True)
    if q:
        values = tables[:, list(states), list(actions)]
        greedy = np.argmax(np.where(valid_mask(family), tables, -np.inf)[:, 0], axis=1)
    else:
        policies = masked_softmax_rows(tables, valid_mask(family))
        values = policies[:, list(states), list(actions)]
        greedy = np.argmax(policies[:, 0], axis=1)
    return Sample(values, greedy == family.counted, curve)


def scalar_sample(family: Family, q: bool = True) -> Sample:
    """Seeds 0..N-1 of the scalar learner through ``gym.make``."""
    train = train_q_learning if q else train_reinforce
    agents = [
        train(
            gym.make(family.env_id, **family.env_kwargs),
            family.n_episodes,
            rng=np.random.default_rng(seed),
        )
        for seed in range(family.n_seeds)
    ]
    tables = np.array([a.preferences for a in agents])
    returns = np.array([a.log.returns for a in agents])
    return _sample(family, tables, binned(returns, family.edges), q)


def batched_sample(
    family: Family,
    q: bool = True,
    config: QLearningConfig | ReinforceConfig | None = None,
) -> Sample:
    """N seeds of the batched learner on the native vector env."""
    envs = gym.make_vec(
        family.env_id,
        num_envs=family.n_seeds,
        vectorization_mode="vector_entry_point",
        **family.env_kwargs,
    )
    train: Any = train_q_learning_batched if q else train_reinforce_batched
    result = train(
        envs,
        family.n_episodes,
        config,
        rng=np.random.default_rng(BATCH_SEED),
        checkpoints=list(family.edges),
    )
    return _sample(family, result.tables, result.log.checkpoint_mean_returns(), q)


Q_NEAR_CROSSOVER = Family(
    ENV_ID,
    {"abandonment_prob": 0.04},
    200,
    (0, 100, 500, 2_000),
    ((START, REQUEST), (START, HUMAN)),
    REQUEST,
)
REINFORCE_EXPLORING = Family(
    ENV_ID,
    {"abandonment_prob": 0.05, "exploring_starts": True},
    120,
    (0, 50, 200, 500),
    ((START, REQUEST), (START, HUMAN), (1, AUTO)),
    HUMAN,
)
Q_RISK = Family(
    RISK_ENV_ID,
    {"exploring_starts": True},
    100,
    (0, 100, 400, 1_000),
    ((START, REQUEST), (START, HUMAN), (EVIDENCE, AUTO)),
    HUMAN,
)


@pytest.mark.slow
def test_q_learning_matches_the_scalar_learner_near_the_crossover() -> None:
    """200 seeds x 2,000 episodes at p = 0.04: 6 tests, family level 1 %.

    Compared: Q(new_request, request_evidence) and Q(new_request,
    human_review); the share of seeds greedily requesting evidence; mean
    return over episodes 0-99, 100-499 and 500-1,999. Power: the family rejects
    alpha_decay = 0.8 (instead of 0.6) and epsilon = 0.1 (instead of 0.15).
    """
    scalar = scalar_sample(Q_NEAR_CROSSOVER)
    assert rejected(scalar, batched_sample(Q_NEAR_CROSSOVER)) == []
    for wrong in (QLearningConfig(alpha_decay=0.8), QLearningConfig(epsilon=0.1)):
        other = batched_sample(Q_NEAR_CROSSOVER, config=wrong)
        assert rejected(scalar, other), f"the family cannot tell {wrong} apart"


@pytest.mark.slow
def test_reinforce_matches_the_scalar_learner_with_exploring_starts() -> None:
    """120 seeds x 500 episodes at p = 0.05, exploring starts: 7 tests, level 1 %.

    Compared: pi(new_request, request_evidence), pi(new_request,
    human_review), pi(evidence_ready, auto_approve); the share of seeds whose
    most probable first action is human_review; mean return over episodes
    0-49, 50-199 and 200-499. Power: the family rejects learning_rate = 0.003
    (instead of 0.002).
    """
    scalar = scalar_sample(REINFORCE_EXPLORING, q=False)
    assert rejected(scalar, batched_sample(REINFORCE_EXPLORING, q=False)) == []
    other = batched_sample(
        REINFORCE_EXPLORING, q=False, config=ReinforceConfig(learning_rate=0.003)
    )
    assert rejected(scalar, other), "the family cannot tell learning_rate apart"


@pytest.mark.slow
def test_q_learning_matches_the_scalar_learner_on_the_second_task() -> None:
    """AccessReviewRisk-v0 with exploring starts: 100 seeds x 1,000 episodes.

    The start distribution and the review's three branches come from the
    native vector env on one side and the single env on the other. Compared:
    Q(new_required_review, request_evidence), Q(new_required_review,
    human_review), Q(evidence_ready, auto_approve); the greedy share of
    human_review; three curve bins.
    """
    assert rejected(scalar_sample(Q_RISK), batched_sample(Q_RISK)) == []


SLOW_FAMILIES = [
    pytest.param(
        Family(
            ENV_ID,
            {"abandonment_prob": p},
            300,
            (0, 1_000, 5_000, 20_000),
            ((START, REQUEST), (START, HUMAN)),
            REQUEST,
        ),
        True,
        id=f"q_learning-p{p}",
    )
    for p in (0.04, 0.25)
] + [
    pytest.param(
        Family(
            ENV_ID,
            {"abandonment_prob": 0.05, "exploring_starts": True},
            300,
            (0, 500, 2_000, 5_000),
            ((START, REQUEST), (START, HUMAN), (1, AUTO)),
            HUMAN,
        ),
        False,
        id="reinforce-p0.05",
    ),
    pytest.param(
        Family(
            RISK_ENV_ID,
            {"exploring_starts": True},
            300,
            (0, 500, 2_000, 5_000),
            ((START, REQUEST), (START, HUMAN), (EVIDENCE, AUTO)),
            HUMAN,
        ),
        False,
        id="reinforce-risk",
    ),
]


@pytest.mark.slow
@pytest.mark.expensive
@pytest.mark.parametrize(("family", "q"), SLOW_FAMILIES)
def test_the_learners_match_at_the_lessons_budget(family: Family, q: bool) -> None:
    """300 seeds at the lesson's budget: every test passes at level 1 %.

    The budget is 20,000 Q-learning episodes, 5,000 for REINFORCE.
    """
    assert rejected(scalar_sample(family, q), batched_sample(family, q)) == []


if __name__ == "__main__":
    for name, family, q in (
        ("Q-learning near the crossover", Q_NEAR_CROSSOVER, True),
        ("REINFORCE, exploring starts", REINFORCE_EXPLORING, False),
        ("Q-learning on AccessReviewRisk-v0", Q_RISK, True),
    ):
        found = p_values(scalar_sample(family, q), batched_sample(family, q))
        print(f"{name}: Bonferroni threshold {FAMILY_LEVEL / len(found):.4f}")
        for test, p in found.items():
            print(f"  {test:<22} p = {p:.4f}")
