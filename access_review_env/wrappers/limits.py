"""Reading a Gymnasium env's time limit from its wrapper chain."""

from __future__ import annotations

from typing import Any

import gymnasium as gym


def time_limit(env: Any) -> int | None:
    """The ``TimeLimit`` wrapper's limit in ``env``'s wrapper chain, or None.

    ``gym.make`` adds the wrapper with the registered ``max_episode_steps`` (or
    the one passed to ``make``); ``env.unwrapped`` has none.
    """
    while isinstance(env, gym.Wrapper):
        if isinstance(env, gym.wrappers.TimeLimit):
            return int(env._max_episode_steps)
        env = env.env
    return None
