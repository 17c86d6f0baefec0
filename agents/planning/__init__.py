"""Exact planning on a finite MDP given as arrays; pure functions, never an env step.

* :mod:`.bellman`: the backup, the optimality operator, the greedy policy and
  the conventions every planner shares.
* :mod:`.value_iteration`: optimal values and policy.
* :mod:`.policy_evaluation`: exact values of a given policy.
"""

from agents.planning.bellman import (
    as_tabular,
    bellman_backup,
    bellman_optimality_operator,
    greedy_policy,
)
from agents.planning.policy_evaluation import (
    PolicyEvaluationResult,
    policy_evaluation,
    policy_matrix,
    reachable_states,
    start_value,
)
from agents.planning.value_iteration import ValueIterationResult, value_iteration

__all__ = [
    "PolicyEvaluationResult",
    "ValueIterationResult",
    "as_tabular",
    "bellman_backup",
    "bellman_optimality_operator",
    "greedy_policy",
    "policy_evaluation",
    "policy_matrix",
    "reachable_states",
    "start_value",
    "value_iteration",
]
