"""``python -m access_review_env``: the registered envs and their spaces.

The environments need nothing of the ``agents`` package; the jobs that train,
benchmark and evaluate agents on them are its ``access-review`` command.
"""

from __future__ import annotations

import sys

import gymnasium as gym

from access_review_env import ENV_IDS

JOBS_HINT = (
    "The jobs (training, benchmark, offline evaluation) are run with "
    "`access-review COMMAND` or `python -m agents COMMAND` "
    "(`access-review --help` lists them)."
)
"""The last line printed: where the jobs are."""


def describe() -> str:
    """Each registered id with its observation and action spaces, then the jobs."""
    lines = []
    for env_id in ENV_IDS:
        env = gym.make(env_id)
        lines.append(
            f"{env_id}: observation space {env.observation_space}, "
            f"action space {env.action_space}"
        )
        env.close()
    return "\n".join([*lines, JOBS_HINT])


def main() -> int:
    """Print :func:`describe`; return the exit status 0."""
    print(describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
