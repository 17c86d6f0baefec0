"""The global random generators a policy can see, seeded by the harness for a while.

A plain function policy has no generator of its own to hand over; if it is
random, it draws from Python's ``random``, NumPy's legacy ``np.random`` or
torch's global generator. :func:`seeded_global_random` seeds those from the
harness's generator while the harness queries the policy, so its answers are
reproducible from the harness's seed, and then restores them, so the
caller's own streams go on as if nothing had drawn from them.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


@contextmanager
def seeded_global_random(rng: np.random.Generator) -> Iterator[None]:
    """Seed Python's, NumPy's and (if imported) torch's global generators from ``rng``.

    Their states are restored on exit, also after an exception. Torch is
    seeded only if something has imported it already: this never imports it.

    Args:
        rng: The harness's generator; three draws from it seed the three.
    """
    seeds = [int(seed) for seed in rng.integers(0, 2**32, size=3)]
    python_state = random.getstate()
    numpy_state = np.random.get_state()  # noqa: NPY002 (the global one, on purpose)
    torch = sys.modules.get("torch")
    torch_state = torch.random.get_rng_state() if torch is not None else None
    random.seed(seeds[0])
    np.random.seed(seeds[1])  # noqa: NPY002
    if torch is not None:
        torch.random.manual_seed(seeds[2])
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)  # noqa: NPY002
        if torch is not None:
            torch.random.set_rng_state(torch_state)
