"""The main job: one seeded episode of AccessReview-v0, rendered as text."""

from __future__ import annotations

import gymnasium as gym

import access_review_env

gym.register_envs(access_review_env)


def main(seed: int = 0) -> None:
    """Route one request with the optimal policy at p = 0.25 and print each step."""
    env = gym.make(access_review_env.ENV_ID, render_mode="ansi")
    state, info = env.reset(seed=seed)
    print(env.render())
    route = {0: 2, 1: 0, 2: 3}
    terminated = truncated = False
    while not (terminated or truncated):
        state, _reward, terminated, truncated, info = env.step(route[state])
        print(env.render())
    print(f"outcome: {info['outcome']}")


if __name__ == "__main__":
    main()
