"""Planners and learners for access-review-env (and any finite MDP given as arrays).

* Planning, exact and pure (never steps an env): :func:`value_iteration`,
  :func:`policy_evaluation`, :func:`bellman_backup`.
* Learning, only through ``reset`` / ``step`` / ``info``: :func:`train_q_learning`,
  :func:`train_reinforce`.
* Scoring and sharing: :func:`evaluate`, :func:`discounted_return`,
  :func:`save_agent`, :func:`load_agent`, and the :class:`PolicyPredictor`
  protocol that our agents, plain functions and SB3 models all satisfy.
"""

from agents.evaluation import EvaluationResult, evaluate
from agents.persistence import AgentFileError, load_agent, save_agent
from agents.planning import (
    PolicyEvaluationResult,
    ValueIterationResult,
    as_tabular,
    bellman_backup,
    bellman_optimality_operator,
    greedy_policy,
    policy_evaluation,
    value_iteration,
)
from agents.policies import (
    AgentError,
    PolicyPredictor,
    as_predictor,
    epsilon_greedy,
    masked_argmax,
    masked_softmax,
)
from agents.q_learning import QLearningAgent, QLearningConfig, train_q_learning
from agents.reinforce import (
    ReinforceAgent,
    ReinforceConfig,
    policy_gradient_step,
    train_reinforce,
)
from agents.returns import discounted_return

__all__ = [
    "AgentError",
    "AgentFileError",
    "EvaluationResult",
    "PolicyEvaluationResult",
    "PolicyPredictor",
    "QLearningAgent",
    "QLearningConfig",
    "ReinforceAgent",
    "ReinforceConfig",
    "ValueIterationResult",
    "as_predictor",
    "as_tabular",
    "bellman_backup",
    "bellman_optimality_operator",
    "discounted_return",
    "epsilon_greedy",
    "evaluate",
    "greedy_policy",
    "load_agent",
    "masked_argmax",
    "masked_softmax",
    "policy_evaluation",
    "policy_gradient_step",
    "save_agent",
    "train_q_learning",
    "train_reinforce",
    "value_iteration",
]
