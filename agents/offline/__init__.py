"""Offline logs and off-policy evaluation, checked against the exact truth.

The lesson's production warning: probabilities must be estimated from logged
episodes, monitored as the world drifts, and evaluated on future data. This
package does each step on tasks whose exact tables are known, so every
estimate can be shown beside the truth:

Every estimate is compared with the exact value of the env as registered
(:func:`task_arrays`: valid actions only, the 20-step time limit as a finite
horizon); both tasks, ``AccessReview-v0`` and ``AccessReviewRisk-v0``, work
throughout.

* :mod:`~agents.offline.behaviour`: policies with known action probabilities.
* :mod:`~agents.offline.clock`: arrivals, step durations, drift schedules.
* :mod:`~agents.offline.collection`: fast logging through the vector env.
* :mod:`~agents.offline.logs`: the decision log, the outcome log, the join.
* :mod:`~agents.offline.rules`: what the task allows a logged row to say.
* :mod:`~agents.offline.storage`: Parquet files (the ``offline`` extra).
* :mod:`~agents.offline.model`: counts, intervals, planning, exact regret.
* :mod:`~agents.offline.ope`: IS, WIS, per-decision IS, doubly robust, model-based.
* :mod:`~agents.offline.split`: time-ordered splits and the leakage check.
* :mod:`~agents.offline.lab`: the time-ordered held-out lab (practice task 4).
* :mod:`~agents.offline.timing`: the speed rows, each stage timed (the
  ``offline`` extra).

Storage and timing are imported on use, so this package needs no extra: logs
live in memory until written. Its figures and the export to Minari are glue
to optional libraries, in :mod:`agents.integrations.offline_plots` and
:mod:`agents.integrations.minari_export`.
"""

from agents.offline.behaviour import (
    BehaviourPolicy,
    epsilon_greedy_policy,
    softmax_policy,
    tabulate_policy,
    uniform_policy,
)
from agents.offline.clock import (
    DriftSchedule,
    Period,
    WorkflowClock,
    monthly_drift,
    steady,
)
from agents.offline.collection import (
    collect,
    period_arrays,
    simulate,
    task_arrays,
)
from agents.offline.lab import SplitResult, TimeOrderedLab, split_lab, time_ordered_lab
from agents.offline.logs import (
    Episodes,
    LogMetadata,
    OfflineLog,
    OfflineLogError,
    TaskInfo,
    join,
    open_request_ids,
)
from agents.offline.model import (
    EstimatedModel,
    OptimumCurve,
    episodes_to_optimum,
    estimate_model,
    exact_regret,
    exact_value,
    plan,
    sample_value,
)
from agents.offline.ope import (
    ESTIMATORS,
    Estimate,
    Support,
    check_support,
    doubly_robust,
    evaluate_off_policy,
    importance_weights,
    model_based,
    ordinary_is,
    per_decision_is,
    weighted_is,
)
from agents.offline.rules import TaskRules, made_task
from agents.offline.split import (
    LeakageError,
    Split,
    check_leakage,
    check_split,
    decision_features,
    random_split,
    time_split,
)

__all__ = [
    "ESTIMATORS",
    "BehaviourPolicy",
    "DriftSchedule",
    "Episodes",
    "Estimate",
    "EstimatedModel",
    "LeakageError",
    "LogMetadata",
    "OfflineLog",
    "OfflineLogError",
    "OptimumCurve",
    "Period",
    "Split",
    "SplitResult",
    "Support",
    "TaskInfo",
    "TaskRules",
    "TimeOrderedLab",
    "WorkflowClock",
    "check_leakage",
    "check_split",
    "check_support",
    "collect",
    "decision_features",
    "doubly_robust",
    "episodes_to_optimum",
    "epsilon_greedy_policy",
    "estimate_model",
    "evaluate_off_policy",
    "exact_regret",
    "exact_value",
    "importance_weights",
    "join",
    "made_task",
    "model_based",
    "monthly_drift",
    "open_request_ids",
    "ordinary_is",
    "per_decision_is",
    "period_arrays",
    "plan",
    "random_split",
    "sample_value",
    "simulate",
    "softmax_policy",
    "split_lab",
    "steady",
    "tabulate_policy",
    "task_arrays",
    "time_ordered_lab",
    "time_split",
    "uniform_policy",
    "weighted_is",
]
