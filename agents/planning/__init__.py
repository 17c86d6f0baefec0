"""Exact planning on a finite MDP; pure functions, never an env step.

Every planner accepts a :class:`~access_review_env.TabularMDP`, a
:class:`~access_review_env.model.sparse.SparseMDP` or an env exposing one, and
runs on the sparse form (:func:`as_sparse`), whatever the model's size.

* :mod:`.bellman`: the backup, the optimality operator, the greedy policy, the
  horizon, :func:`as_sparse` and :func:`as_tabular`, and the conventions every
  planner shares.
* :mod:`.sparse_bellman`: the backup on the sparse model, with numba and
  NumPy kernels (:mod:`.kernels_numba`, :mod:`.kernels_numpy`).
* :mod:`.value_iteration`: optimal values and policy.
* :mod:`.policy_evaluation`: exact values of a given policy.
* :mod:`.batched_evaluation`: exact values and regret of many policies at once.
* :mod:`.hardness`: sub-optimality gaps and the diameter of an MDP.

Given an env made by ``gym.make``, the planners plan the env as registered:
every action ``step`` accepts (invalid actions too under ``"penalize"``) and
its time limit as a finite horizon and its start distribution. Given
``mdp.sparse`` or ``mdp.arrays``, they plan without a time limit;
``mdp.workflow_arrays`` is the lesson's view (valid actions only).
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
    as_sparse,
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
    check_actions,
    check_available,
    policy_dynamics,
    policy_evaluation,
    policy_matrix,
    reachable_states,
    start_value,
)
from agents.planning.sparse_bellman import Backend, BellmanOperator
from agents.planning.value_iteration import (
    HISTORY_MAX_ENTRIES,
    ValueIterationResult,
    value_iteration,
)

__all__ = [
    "HISTORY_MAX_ENTRIES",
    "Backend",
    "BellmanOperator",
    "Diameter",
    "Hardness",
    "Horizon",
    "PolicyEvaluationResult",
    "SuboptimalityGaps",
    "ValueIterationResult",
    "as_sparse",
    "as_tabular",
    "backward_induction",
    "behaviour_regret_q_learning",
    "behaviour_regret_reinforce",
    "bellman_backup",
    "bellman_optimality_operator",
    "can_reach_terminal",
    "check_actions",
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
