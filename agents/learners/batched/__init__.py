"""Many seeds at once: batched tabular learners on a Gymnasium vector env.

K independent learners, one per sub-env of a vector env such as
``gym.make_vec("AccessReview-v0", num_envs=K,
vectorization_mode="vector_entry_point", copy=False)``, step in lockstep through
``reset`` / ``step`` and ``info["action_mask"]``:

* :mod:`.q_learning`, :mod:`.reinforce`: :func:`train_q_learning_batched` and
  :func:`train_reinforce_batched` return the K tables and per-seed logs;
  ``result.agent(k)`` is seed ``k`` as an ordinary agent (``predict``,
  ``save_agent``).
* :mod:`.streams`: each learner's seed and its own random stream, so that a
  seed's results do not depend on the batch it ran in.
* :mod:`.lockstep`: the learners' state and the reset / step loop;
  :mod:`.training`: the setup both share.
* :mod:`.kernels_numba`, :mod:`.kernels_numpy`: the per-step update, in a numba
  kernel when numba (the ``fast`` extra) is installed, else in NumPy.
* :mod:`.fused`, :mod:`.kernels_fused`: Q-learning with the native vector
  env's step compiled into each learner's loop. :mod:`.backend` chooses the
  fastest that applies (``backend=`` forces one); all give the same results
  for the same seeds.
* :mod:`.log`, :mod:`.results`: per-seed records and the result classes.
* :mod:`.vector_envs`: what the learners check of a vector env.
"""

from agents.learners.batched.backend import Backend, numba_available, resolve_backend
from agents.learners.batched.lockstep import EpisodeObserver
from agents.learners.batched.log import BatchedLog
from agents.learners.batched.q_learning import (
    BatchedQLearning,
    train_q_learning_batched,
)
from agents.learners.batched.reinforce import BatchedReinforce, train_reinforce_batched
from agents.learners.batched.results import BatchedResult

__all__ = [
    "Backend",
    "BatchedLog",
    "BatchedQLearning",
    "BatchedReinforce",
    "BatchedResult",
    "EpisodeObserver",
    "numba_available",
    "resolve_backend",
    "train_q_learning_batched",
    "train_reinforce_batched",
]
