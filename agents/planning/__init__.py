"""Exact planning on a finite MDP given as arrays; pure functions, never an env step.

* :mod:`.bellman`: the backup, the optimality operator, the greedy policy, the
  horizon, and the conventions every planner shares.
* :mod:`.value_iteration`: optimal values and policy.
* :mod:`.policy_evaluation`: exact values of a given policy.
* :mod:`.batched_evaluation`: exact values and regret of many policies at once.
* :mod:`.hardness`: sub-optimality gaps and the diameter of an MDP.

Given an env made by ``gym.make``, the planners plan the env as registered:
every action ``step`` accepts (invalid actions too under ``"penalize"``) and
its time limit as a finite horizon. Given ``mdp.arrays``, they plan without a
time limit; ``mdp.workflow_arrays`` is the lesson's view (valid actions only).
"""

from agents.planning.batched_evaluation import (
    behaviour_regret_q_learning,
    behaviour_regret_reinforce,
    evaluate_policies,
    greedy_regret,
    optimal_start_value,
    policy_regret,
)
from agents.planning.bellman import (
    Horizon,
    as_tabular,
    bellman_backup,
    bellman_optimality_operator,
    greedy_policy,
    horizon_text,
)
from agents.planning.hardness import (
    Diameter,
    Hardness,
    SuboptimalityGaps,
    diameter,
    hardness,
    restart_transitions,
    suboptimality_gaps,
)
from agents.planning.policy_evaluation import (
    PolicyEvaluationResult,
    backward_induction,
    can_reach_terminal,
    check_available,
    policy_dynamics,
    policy_evaluation,
    policy_matrix,
    reachable_states,
    start_value,
)
from agents.planning.value_iteration import ValueIterationResult, value_iteration

__all__ = [
    "Diameter",
    "Hardness",
    "Horizon",
    "PolicyEvaluationResult",
    "SuboptimalityGaps",
    "ValueIterationResult",
    "as_tabular",
    "backward_induction",
    "behaviour_regret_q_learning",
    "behaviour_regret_reinforce",
    "bellman_backup",
    "bellman_optimality_operator",
    "can_reach_terminal",
    "check_available",
    "diameter",
    "evaluate_policies",
    "greedy_policy",
    "greedy_regret",
    "hardness",
    "horizon_text",
    "optimal_start_value",
    "policy_dynamics",
    "policy_evaluation",
    "policy_matrix",
    "policy_regret",
    "reachable_states",
    "restart_transitions",
    "start_value",
    "suboptimality_gaps",
    "value_iteration",
]
