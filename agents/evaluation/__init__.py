"""Evaluation: returns, Monte Carlo rollouts, exact scoring, aggregate statistics.

* :mod:`.returns`: discounted returns of one episode.
* :mod:`.rollouts`: a policy rolled out through ``reset`` / ``step``.
* :mod:`.scoring`: one policy against a configuration's exact optimum.
* :mod:`.policy_check`: a model's greedy policy and critic against the optimum,
  state by state.
* :mod:`.statistics`: aggregates over runs (IQM, optimality gap, bootstrap).
* :mod:`.vector_rollouts`: many action tables rolled out at once on a task's
  native vector env.
* :mod:`.training_regret`: the exact regret of learners' behaviour policies,
  episode by episode, during training.
"""

from agents.evaluation.returns import discounted_return, returns_to_go
from agents.evaluation.rollouts import EvaluationResult, evaluate, standard_error
from agents.evaluation.scoring import PolicyScore, prefers, score_policy
from agents.evaluation.statistics import (
    interquartile_mean,
    mean_score,
    optimality_gap,
    stratified_bootstrap_ci,
)

__all__ = [
    "EvaluationResult",
    "PolicyScore",
    "discounted_return",
    "evaluate",
    "interquartile_mean",
    "mean_score",
    "optimality_gap",
    "prefers",
    "returns_to_go",
    "score_policy",
    "standard_error",
    "stratified_bootstrap_ci",
]
