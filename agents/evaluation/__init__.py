"""Evaluation: returns, Monte Carlo rollouts, exact scoring, aggregate statistics.

* :mod:`.returns`: discounted returns of one episode.
* :mod:`.rollouts`: a policy rolled out through ``reset`` / ``step``.
* :mod:`.exact`: the MDP an env's exact figures are computed on (as made:
  time limit, start distribution) and its optimal actions.
* :mod:`.scoring`: one policy against a configuration's exact optimum, its
  exact value checked against its own Monte Carlo interval.
* :mod:`.policy_check`: a model's greedy policy and critic against the optimum,
  state by state.
* :mod:`.statistics`: aggregates over runs (IQM, optimality gap, bootstrap),
  Wilson and Student's t intervals.
* :mod:`.vector_rollouts`: many action tables rolled out at once on a task's
  native vector env.
* :mod:`.training_regret`: the exact regret of learners' behaviour policies,
  episode by episode, during training.
"""

from agents.evaluation.exact import TIE_TOLERANCE, scored_arrays
from agents.evaluation.returns import discounted_return, returns_to_go
from agents.evaluation.rollouts import EvaluationResult, evaluate, standard_error
from agents.evaluation.scoring import (
    CHECK_CONFIDENCE,
    MC_CONFIDENCE,
    PolicyScore,
    score_policies,
    score_policy,
)
from agents.evaluation.statistics import (
    interquartile_mean,
    mean_interval,
    mean_score,
    optimality_gap,
    stratified_bootstrap_ci,
    t_value,
)

__all__ = [
    "CHECK_CONFIDENCE",
    "MC_CONFIDENCE",
    "TIE_TOLERANCE",
    "EvaluationResult",
    "PolicyScore",
    "discounted_return",
    "evaluate",
    "interquartile_mean",
    "mean_interval",
    "mean_score",
    "optimality_gap",
    "returns_to_go",
    "score_policies",
    "score_policy",
    "scored_arrays",
    "standard_error",
    "stratified_bootstrap_ci",
    "t_value",
]
