"""The agent benchmark: any agent trained and scored against the exact optimum.

* :mod:`.suite`: the configurations (data).
* :mod:`.factories`: how our agents are trained for it.
* :mod:`.plugins`: finding an agent by name, a user's ``module:callable`` included.
* :mod:`.runner`: training and scoring one run, or every (configuration, seed).
* :mod:`.fanout`: the executor: runs in this process, in processes, or on Ray.
* :mod:`.fanout_speed`: the fan-out's throughput, serial against processes and
  Ray.
* :mod:`.store`: finished runs as JSON Lines, written as each run ends.
* :mod:`.summary`: typed summaries and aggregate statistics.
* :mod:`.report`: the Markdown tables.
"""

from agents.benchmark.factories import (
    BUILT_IN,
    N_CHECKPOINTS,
    AgentFactory,
    BatchedFactory,
    ManySeedFactory,
    Trained,
    TrainingTrace,
    checkpoint_grid,
    q_learning_agent,
    random_agent,
    reinforce_agent,
    train_with_checkpoints,
)
from agents.benchmark.plugins import load_factory, resolve_agent
from agents.benchmark.report import markdown
from agents.benchmark.runner import (
    MAX_BATCH,
    RunRecord,
    RunSpec,
    batches,
    groups,
    is_zero_regret,
    run_group,
    run_many,
    run_one,
    run_specs,
    run_suite,
    score_rows,
    steps_to_zero_regret,
    still_to_run,
    zero_regret_since,
)
from agents.benchmark.suite import RISK_SUITE, SUITE, SUITES, Configuration
from agents.benchmark.summary import (
    AgentSummary,
    Aggregate,
    ConfigurationSummary,
    Estimate,
    summarize,
)

__all__ = [
    "BUILT_IN",
    "MAX_BATCH",
    "N_CHECKPOINTS",
    "RISK_SUITE",
    "SUITE",
    "SUITES",
    "AgentFactory",
    "AgentSummary",
    "Aggregate",
    "BatchedFactory",
    "Configuration",
    "ConfigurationSummary",
    "Estimate",
    "ManySeedFactory",
    "RunRecord",
    "RunSpec",
    "Trained",
    "TrainingTrace",
    "batches",
    "checkpoint_grid",
    "groups",
    "is_zero_regret",
    "load_factory",
    "markdown",
    "q_learning_agent",
    "random_agent",
    "reinforce_agent",
    "resolve_agent",
    "run_group",
    "run_many",
    "run_one",
    "run_specs",
    "run_suite",
    "score_rows",
    "steps_to_zero_regret",
    "still_to_run",
    "summarize",
    "train_with_checkpoints",
    "zero_regret_since",
]
