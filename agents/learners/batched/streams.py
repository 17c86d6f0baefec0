"""Each learner's own random stream, keyed by its seed: results that stand alone.

Learner ``k`` of a batch has a seed ``s_k`` (an integer in ``[0, 2**64)``).
Its sub-env is reset with ``s_k`` (the native vector env then draws from the
stream of ``s_k``, :mod:`access_review_env.vector.streams`), and its own
draws (epsilon-greedy, softmax sampling) come from a second stream of the
same counter-based construction under another key:

.. code-block:: text

    key(s)  = mix64(s XOR LEARNER_SALT)
    word(t) = mix64(key(s) XOR ((t + 1) * GAMMA mod 2**64))

``t`` is the learner's clock: the number of env steps it has taken since the
first reset (``NEXT_STEP`` reset steps included). The decision made after
step ``t`` reads word ``t``, used or not, so a learner's draws are a pure
function of its seed and its own history, never of the other learners in its
batch, of ``K``, of the backend or of the thread that runs it. The salt makes
the learner's stream another stream than its sub-env's, though both are
keyed by one seed.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from access_review_env.vector.streams import check_seeds, mix64

LEARNER_SALT: Final = 0x13198A2E03707344
"""The hexadecimal digits of pi's fraction after the vector env's ``KEY_SALT``."""

SEED_DRAW_LIMIT: Final = 2**63
"""Seeds drawn from an ``rng`` lie in ``[0, 2**63)``."""


def learner_keys(seeds: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """``(K,)`` the stream key of each learner's seed ``(K,)`` (a fresh array)."""
    return mix64(np.bitwise_xor(seeds, np.uint64(LEARNER_SALT)))


def learner_seeds(
    seeds: int | Any | None, rng: np.random.Generator | None, n_learners: int
) -> NDArray[np.uint64]:
    """``(K,)`` every learner's seed, from ``seeds`` or drawn from ``rng``.

    Args:
        seeds: An int ``s`` (learner ``k`` gets ``s + k``, as
            ``envs.reset(seed=s)`` seeds sub-env ``k``), or one integer in
            ``[0, 2**64)`` per learner (a sequence or an integer array).
        rng: Draws the K seeds in ``[0, 2**63)`` when ``seeds`` is None; a
            seed's results then depend on where it falls among the draws.
        n_learners: ``K``.

    Raises:
        TypeError: For both or neither of ``seeds`` and ``rng``, an ``rng``
            that is not a NumPy ``Generator``, or seeds that are not integers.
        ValueError: For the wrong number of seeds or one out of range.
    """
    if (seeds is None) == (rng is None):
        raise TypeError(
            "give the learners seeds=... (one integer per learner, or an int s "
            "for s, s + 1, ...) or rng=... (a numpy.random.Generator that draws "
            "them), not both and not neither"
        )
    if seeds is None:
        if not isinstance(rng, np.random.Generator):
            raise TypeError(
                "rng must be a numpy.random.Generator, e.g. np.random.default_rng(0); "
                f"got {type(rng).__name__} {rng!r}"
            )
        drawn = rng.integers(0, SEED_DRAW_LIMIT, size=n_learners, dtype=np.uint64)
        return np.asarray(drawn, dtype=np.uint64)
    if isinstance(seeds, list | tuple | np.ndarray) and any(
        seed is None for seed in list(seeds)
    ):
        raise TypeError(
            f"seeds must be integers in [0, 2**64), one per learner ({n_learners}); "
            "None would draw a seed nobody can rerun"
        )
    checked = check_seeds(seeds, n_learners)
    assert checked is not None
    return checked
