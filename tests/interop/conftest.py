"""One torch thread: the networks here are tiny, and the machine is shared."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Run torch on one thread for the test, then restore the count.

    On 2 cores busy with other work, torch's default threads made a small
    network's training ten times slower (1,000 steps of Tianshou's DQN: 110 s
    against 11 s).
    """
    if importlib.util.find_spec("torch") is None:
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
