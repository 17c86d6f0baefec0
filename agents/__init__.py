"""Planners and learners for access-review-env (and any finite MDP given as arrays).

The folders read as the architecture, listed here bottom to top: a folder
imports only folders listed before it (the import-linter contracts in
``pyproject.toml`` check it).

* :mod:`agents.common`: helpers every layer may use: optional dependencies,
  progress bars, the Ray session, strict JSON values, the Markdown table.

* :mod:`agents.policies`: the :class:`PolicyPredictor` protocol that our
  agents, plain functions and SB3 models all satisfy, and action selection.
* :mod:`agents.planning`: exact and pure (never steps an env):
  :func:`value_iteration`, :func:`policy_evaluation`, :func:`bellman_backup`.
* :mod:`agents.evaluation`: :func:`evaluate`, exact scoring, statistics.
* :mod:`agents.learners`: only through ``reset`` / ``step`` / ``info``:
  :func:`train_q_learning`, :func:`train_reinforce`, and many seeds at once on
  a vector env, :func:`train_q_learning_batched`, :func:`train_reinforce_batched`.
* :mod:`agents.persistence`: :func:`save_agent`, :func:`load_agent`, results.
* :mod:`agents.benchmark`: any agent against the exact optimum of a suite.
* :mod:`agents.offline`: logged episodes, fitted models, off-policy evaluation
  (apart from the benchmark: neither imports the other).
* :mod:`agents.integrations`: glue to optional libraries (SB3, Ray RLlib,
  matplotlib, Minari), above what it glues.
* :mod:`agents.jobs`: the runnable experiments behind ``scripts/``.
* :mod:`agents.cli`: the ``access-review`` command, one subcommand per job
  (:mod:`agents.__main__`: the same as ``python -m agents``).
"""

from agents.evaluation import EvaluationResult, discounted_return, evaluate
from agents.learners import (
    QLearningAgent,
    QLearningConfig,
    ReinforceAgent,
    ReinforceConfig,
    policy_gradient_step,
    train_q_learning,
    train_q_learning_batched,
    train_reinforce,
    train_reinforce_batched,
)
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
    "train_q_learning_batched",
    "train_reinforce",
    "train_reinforce_batched",
    "value_iteration",
]
