"""Exact planning on a finite MDP given as arrays; pure functions, never an env step.

* :mod:`.bellman`: the backup, the optimality operator, the greedy policy, the
  horizon, and the conventions every planner shares.
* :mod:`.value_iteration`: optimal values and policy.
* :mod:`.policy_evaluation`: exact values of a given policy.

Given an env made by ``gym.make``, the planners plan the env as registered:
every action ``step`` accepts (invalid actions too under ``"penalize"``) and
its time limit as a finite horizon. Given ``mdp.arrays``, they plan without a
time limit; ``mdp.workflow_arrays`` is the lesson's view (valid actions only).
"""

from agents.planning.bellman import (
    Horizon,
    as_tabular,
    bellman_backup,
    bellman_optimality_operator,
    greedy_policy,
    horizon_text,
)
from agents.planning.policy_evaluation import (
    PolicyEvaluationResult,
    can_reach_terminal,
    policy_evaluation,
    policy_matrix,
    reachable_states,
    start_value,
)
from agents.planning.value_iteration import ValueIterationResult, value_iteration

__all__ = [
    "Horizon",
    "PolicyEvaluationResult",
    "ValueIterationResult",
    "as_tabular",
    "bellman_backup",
    "bellman_optimality_operator",
    "can_reach_terminal",
    "greedy_policy",
    "horizon_text",
    "policy_evaluation",
    "policy_matrix",
    "reachable_states",
    "start_value",
    "value_iteration",
]
