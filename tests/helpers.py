"""Test helpers: random MDPs for property tests, a sampler, PNG sizes, no extras."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

from access_review_env import TabularMDP


@st.composite
def random_mdps(draw: st.DrawFn, max_gamma: float = 0.95) -> TabularMDP:
    """A random MDP whose terminal states self-loop with a nonzero reward.

    The nonzero terminal reward is the trap a planner that ignores the terminal
    mask falls into.
    """
    seed = draw(st.integers(0, 2**32 - 1))
    n_states = draw(st.integers(2, 6))
    n_actions = draw(st.integers(1, 4))
    gamma = draw(st.floats(0.0, max_gamma))
    rng = np.random.default_rng(seed)
    transitions = rng.dirichlet(np.ones(n_states), size=(n_states, n_actions))
    rewards = rng.normal(0.0, 10.0, size=(n_states, n_actions))
    terminal = rng.random(n_states) < 0.3
    terminal[0] = False
    valid = rng.random((n_states, n_actions)) < 0.7
    valid[np.arange(n_states), rng.integers(n_actions, size=n_states)] = True
    for state in np.flatnonzero(terminal):
        transitions[state] = np.eye(n_states)[state]
        rewards[state] = 5.0
    initial = np.zeros(n_states)
    initial[0] = 1.0
    return TabularMDP(transitions, rewards, terminal, valid, gamma, initial)


def sample_discounted_returns(
    arrays: TabularMDP,
    policy: np.ndarray,
    start: int,
    n_episodes: int,
    rng: np.random.Generator,
    horizon: int,
) -> np.ndarray:
    """Discounted returns of a deterministic policy from ``start``, cut at ``horizon``.

    All episodes advance together, one step per loop.
    """
    states = np.full(n_episodes, start)
    returns = np.zeros(n_episodes)
    weight = 1.0
    for _ in range(horizon):
        live = ~arrays.terminal[states]
        if not live.any():
            break
        actions = policy[states]
        returns += np.where(live, weight * arrays.rewards[states, actions], 0.0)
        cumulative = arrays.transitions[states, actions].cumsum(axis=1)
        draws = rng.random(n_episodes)[:, None]
        following = np.minimum((draws >= cumulative).sum(axis=1), arrays.n_states - 1)
        states = np.where(live, following, states)
        weight *= arrays.gamma
    return returns


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, after checking the signature."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


ROOT = Path(__file__).resolve().parents[1]
"""The checkout under test."""


def python_without(
    module: str, code: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter in which ``module`` cannot be imported.

    As if an optional extra were not installed; this checkout comes first on
    the import path.
    """
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", f"import sys; sys.modules[{module!r}] = None\n{code}"],
        cwd=cwd,
        env=dict(os.environ, PYTHONPATH=path),
        capture_output=True,
        text=True,
        check=False,
    )
