"""One random stream per sub-env, keyed by its seed: draws that stand alone.

Every sub-env of a vector env draws from its own counter-based stream, so its
trajectory depends only on its own seed and actions: sub-env ``k`` seeded
``s`` in a batch of 1,000 steps exactly as seed ``s`` alone in a batch of 1.

The stream of seed ``s`` (an integer in ``[0, 2**64)``) is the sequence of
64-bit words

.. code-block:: text

    key(s)  = mix64(s XOR KEY_SALT)
    word(i) = mix64(key(s) XOR ((i + 1) * GAMMA mod 2**64)),   i = 0, 1, ...

where ``mix64`` is SplitMix64's output function (Stafford's "Mix13"; Steele,
Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014)
and ``GAMMA`` its odd increment. For one key the words are SplitMix64's
construction with the Weyl sequence ``(i + 1) * GAMMA`` whitened by the key;
two keys XOR the same Weyl sequence with different constants, which addition
does not commute with, so one stream is no shifted copy of another (as two
plain SplitMix64 sequences started at different states are). A stream is a
pure function of ``(seed, i)``: it can be evaluated for every sub-env at once
(NumPy) or one sub-env at a time (numba) with the same bits; the counter
``i`` of a sub-env is the number of words it has used. A uniform in
``[0, 1)`` is the word's top 53 bits times ``2**-53``, as NumPy's
``Generator.random`` makes one.

:mod:`.kernels_numba` repeats :func:`mix64` and :func:`uniforms` on scalars;
tests check both against each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

GAMMA: Final = 0x9E3779B97F4A7C15
"""SplitMix64's increment, the odd integer nearest ``2**64`` over the golden ratio."""
MIX_1: Final = 0xBF58476D1CE4E5B9
MIX_2: Final = 0x94D049BB133111EB
KEY_SALT: Final = 0x243F6A8885A308D3
"""The first hexadecimal digits of pi's fraction, XORed into a seed before it
is mixed: seed 0 would otherwise have the key ``mix64(0) = 0``."""
UNIFORM_SCALE: Final = 2.0**-53
SEED_LIMIT: Final = 2**64
"""Seeds are integers in ``[0, SEED_LIMIT)``."""

UInt64s = NDArray[np.uint64]


def mix64(words: UInt64s) -> UInt64s:
    """SplitMix64's output function on every word, in place; returns ``words``."""
    words ^= words >> np.uint64(30)
    words *= np.uint64(MIX_1)
    words ^= words >> np.uint64(27)
    words *= np.uint64(MIX_2)
    words ^= words >> np.uint64(31)
    return words


def stream_keys(seeds: UInt64s) -> UInt64s:
    """``(N,)`` the stream key of each seed ``(N,)`` (a fresh array)."""
    return mix64(np.bitwise_xor(seeds, np.uint64(KEY_SALT)))


def words(keys: UInt64s, counters: UInt64s) -> UInt64s:
    """``(N,)`` word ``counters[k]`` of the stream with key ``keys[k]``."""
    position = counters + np.uint64(1)
    position *= np.uint64(GAMMA)
    position ^= keys
    return mix64(position)


def uniforms(keys: UInt64s, counters: UInt64s) -> NDArray[np.float64]:
    """``(N,)`` uniforms in ``[0, 1)``, one per stream at its counter."""
    top = words(keys, counters) >> np.uint64(11)
    return top.astype(np.float64) * UNIFORM_SCALE


def random_seeds(n: int) -> UInt64s:
    """``(n,)`` seeds drawn from the operating system's entropy."""
    return np.asarray(
        np.random.SeedSequence().generate_state(n, dtype=np.uint64), dtype=np.uint64
    )


def check_seeds(seed: Any, num_envs: int) -> UInt64s | None:
    """The seed of every sub-env for ``reset(seed=...)``, or None to keep the streams.

    As ``SyncVectorEnv`` reads it: an int ``s`` seeds sub-env ``k`` with
    ``s + k``; a sequence (list, tuple or array) gives each sub-env its seed,
    where None draws a fresh one from the operating system; None keeps every
    stream where it is.

    Raises:
        TypeError: For a seed that is not an integer, None or a sequence of
            them (booleans and floats included).
        ValueError: For a sequence whose length is not ``num_envs``, or a seed
            outside ``[0, 2**64)`` (for an int seed, ``s + num_envs - 1`` too).
    """
    if seed is None:
        return None
    allowed = f"integers in [0, 2**64) (or None), one per sub-env ({num_envs})"
    if _is_integer(seed):
        first = int(seed)
        if first < 0 or first + num_envs - 1 >= SEED_LIMIT:
            raise ValueError(
                f"seed must be an integer in [0, 2**64 - {num_envs}] (sub-env k is "
                f"seeded seed + k), got {seed!r}"
            )
        return np.arange(num_envs, dtype=np.uint64) + np.uint64(first)
    if isinstance(seed, np.ndarray):
        if seed.dtype.kind not in "iuO" or seed.ndim != 1:
            raise TypeError(f"seed must be an int, None or {allowed}, got {seed!r}")
        seed = seed.tolist()
    if not isinstance(seed, Sequence) or isinstance(seed, str | bytes):
        raise TypeError(f"seed must be an int, None or {allowed}, got {seed!r}")
    if len(seed) != num_envs:
        raise ValueError(
            f"a list of seeds must have one seed per sub-env ({num_envs}), got "
            f"{len(seed)}"
        )
    result = np.empty(num_envs, dtype=np.uint64)
    fresh = [k for k, value in enumerate(seed) if value is None]
    for k, value in enumerate(seed):
        if value is None:
            continue
        if not _is_integer(value):
            raise TypeError(f"seed[{k}] must be one of {allowed}, got {value!r}")
        if not 0 <= int(value) < SEED_LIMIT:
            raise ValueError(f"seed[{k}] must be in [0, 2**64), got {value!r}")
        result[k] = int(value)
    if fresh:
        result[fresh] = random_seeds(len(fresh))
    return result


def _is_integer(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)
