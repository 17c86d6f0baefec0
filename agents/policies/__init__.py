"""Policies: the interface every policy meets, and how actions are chosen.

* :mod:`.predictor`: SB3's ``PolicyPredictor`` protocol, adapters for plain
  functions and action tables, and the one place a policy's answer is checked.
* :mod:`.selection`: epsilon-greedy, masked softmax and argmax, sampling.
* :mod:`.preference_table`: :class:`TabularPolicy`, the base of the learned
  agents (a preference table, Q values or logits, read as a policy).
* :mod:`.random`: uniformly random among the valid actions.
* :mod:`.probability_table`: any policy read as an ``(S, A)`` probability
  table (from its stated probabilities, or by probing it), or why it cannot be.
* :mod:`.global_random`: the global generators a policy can see, seeded by
  the harness while it asks the policy.
"""

from agents.policies.global_random import seeded_global_random
from agents.policies.predictor import (
    AgentError,
    FunctionPolicy,
    PolicyLike,
    PolicyPredictor,
    StochasticPolicy,
    accepts_action_masks,
    as_predictor,
    call_predict,
    predict_action,
)
from agents.policies.preference_table import TabularPolicy
from agents.policies.probability_table import (
    MODES,
    PROBES,
    Mode,
    PolicyReading,
    ProbabilityTable,
    checked_probabilities,
    deterministic_table,
    read_policy,
    stochastic_table,
)
from agents.policies.random import RandomPolicy
from agents.policies.selection import (
    UniformStream,
    epsilon_greedy,
    masked_argmax,
    masked_softmax,
    sample_index,
    valid_actions,
)

__all__ = [
    "MODES",
    "PROBES",
    "AgentError",
    "FunctionPolicy",
    "Mode",
    "PolicyLike",
    "PolicyPredictor",
    "PolicyReading",
    "ProbabilityTable",
    "RandomPolicy",
    "StochasticPolicy",
    "TabularPolicy",
    "UniformStream",
    "accepts_action_masks",
    "as_predictor",
    "call_predict",
    "checked_probabilities",
    "deterministic_table",
    "epsilon_greedy",
    "masked_argmax",
    "masked_softmax",
    "predict_action",
    "read_policy",
    "sample_index",
    "seeded_global_random",
    "stochastic_table",
    "valid_actions",
]
