"""The speed benchmark's baselines: Q-learning as bare loops over dicts, no env API.

This is how the algorithm is usually first written (and how the lesson writes
it): the MDP as a step function, the Q table as nested dicts, one call to the
generator per random draw. :mod:`agents.jobs.speed` times the package's
``train_q_learning`` through ``gym.make("AccessReview-v0")`` against both loops.
The two loops are near-copies on purpose: each is a baseline in its own right.
"""

from __future__ import annotations

import numpy as np

GAMMA = 0.9
EPSILON = 0.15
ABANDONMENT_PROB = 0.25
VALID = {
    "new_request": ("auto_approve", "request_evidence", "human_review"),
    "evidence_ready": ("auto_approve", "human_review"),
    "review_queue": ("approve_rotation",),
}


def transition(state: str, action: str, rng: np.random.Generator) -> tuple[str, float]:
    """Sample the next state and reward of the default AccessReview-v0 MDP."""
    if state == "new_request":
        if action == "auto_approve":
            return "closed", -120.0
        if action == "human_review":
            return "review_queue", -18.0
        if rng.random() < ABANDONMENT_PROB:
            return "closed", -54.0
        return "evidence_ready", -4.0
    if state == "evidence_ready":
        if action == "auto_approve":
            return "closed", 70.0
        return "review_queue", -10.0
    return "closed", 80.0


def bare_q_learning(n_episodes: int, seed: int) -> dict[str, dict[str, float]]:
    """Q-learning with visit-count step sizes ``n ** -0.6``; returns the Q table."""
    rng = np.random.default_rng(seed)
    q = {state: dict.fromkeys(actions, 0.0) for state, actions in VALID.items()}
    visits = {state: dict.fromkeys(actions, 0) for state, actions in VALID.items()}
    for _ in range(n_episodes):
        state = "new_request"
        while state != "closed":
            actions = VALID[state]
            if rng.random() < EPSILON:
                action = actions[rng.integers(len(actions))]
            else:
                action = max(actions, key=q[state].__getitem__)
            next_state, reward = transition(state, action, rng)
            future = 0.0 if next_state == "closed" else max(q[next_state].values())
            visits[state][action] += 1
            step_size = visits[state][action] ** -0.6
            q[state][action] += step_size * (reward + GAMMA * future - q[state][action])
            state = next_state
    return q


def lesson_style_q_learning(n_episodes: int, seed: int) -> dict[str, dict[str, float]]:
    """The same algorithm as the lesson writes it: ``rng.choice`` and a key lambda.

    The first speed target for Q-learning (twice this loop's speed) was stated
    against this style of loop; the tuned :func:`bare_q_learning` is reported
    beside it.
    """
    rng = np.random.default_rng(seed)
    q = {state: dict.fromkeys(actions, 0.0) for state, actions in VALID.items()}
    visits = {state: dict.fromkeys(actions, 0) for state, actions in VALID.items()}
    for _ in range(n_episodes):
        state = "new_request"
        while state != "closed":
            actions = VALID[state]
            if rng.random() < EPSILON:
                action = str(rng.choice(actions))
            else:
                action = max(actions, key=lambda candidate: q[state][candidate])
            next_state, reward = transition(state, action, rng)
            future = 0.0 if next_state == "closed" else max(q[next_state].values())
            visits[state][action] += 1
            step_size = visits[state][action] ** -0.6
            q[state][action] += step_size * (reward + GAMMA * future - q[state][action])
            state = next_state
    return q
