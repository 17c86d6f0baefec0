"""Learners: they see an env only through ``reset``, ``step`` and ``info``.

* :mod:`.episodes`: the episode loop, logs and callbacks every learner shares.
* :mod:`.q_learning`, :mod:`.reinforce`: the two tabular learners.
* :mod:`.bandit`: epsilon-greedy on one state, the lesson's exploration lab.
* :mod:`.checkpoints`: training while recording snapshots of the agent.
* :mod:`.progress`: the optional progress bar.
* :mod:`.batched`: K learners at once, one per sub-env of a vector env
  (:func:`train_q_learning_batched`, :func:`train_reinforce_batched`).
"""

from agents.learners.bandit import BanditResult, epsilon_greedy_bandit
from agents.learners.batched import (
    BatchedQLearning,
    BatchedReinforce,
    train_q_learning_batched,
    train_reinforce_batched,
)
from agents.learners.checkpoints import Recording, train_recording
from agents.learners.episodes import (
    Callback,
    EpisodeLearner,
    EpisodeLog,
    check_discrete,
    check_discrete_spaces,
    env_metadata,
    train_episodes,
)
from agents.learners.q_learning import QLearningAgent, QLearningConfig, train_q_learning
from agents.learners.reinforce import (
    ReinforceAgent,
    ReinforceConfig,
    policy_gradient_step,
    train_reinforce,
)

__all__ = [
    "BanditResult",
    "BatchedQLearning",
    "BatchedReinforce",
    "Callback",
    "EpisodeLearner",
    "EpisodeLog",
    "QLearningAgent",
    "QLearningConfig",
    "Recording",
    "ReinforceAgent",
    "ReinforceConfig",
    "check_discrete",
    "check_discrete_spaces",
    "env_metadata",
    "epsilon_greedy_bandit",
    "policy_gradient_step",
    "train_episodes",
    "train_q_learning",
    "train_q_learning_batched",
    "train_recording",
    "train_reinforce",
    "train_reinforce_batched",
]
