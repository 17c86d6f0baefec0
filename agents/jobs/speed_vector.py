"""The native vector env on a queue level against ``SyncVectorEnv``, side by side.

One row of ``access-review speed``: ``gym.make_vec("AccessReviewQueue-v0",
vectorization_mode="vector_entry_point")`` against ``SyncVectorEnv`` over
``gym.make`` of the same level and batch size, both stepped with the same
uniformly random actions (invalid ones included), timed alternately.

    python -m agents.jobs.speed_vector              # xlarge, N = 1,024
    python -m agents.jobs.speed_vector small 4096   # another level and N
"""

from __future__ import annotations

import statistics
import sys
import time

import gymnasium as gym
import numpy as np

import access_review_env
from agents.jobs.speed_rows import Row, median_rates, vector_rate

QUEUE_TARGET = ">= 100x"
"""The ratio the queue's largest level must reach at N = 1,024."""


def queue_vector_row(
    level: str = "xlarge",
    num_envs: int = 1_024,
    native_steps: int = 200,
    sync_steps: int = 8,
    repeats: int = 5,
) -> Row:
    """The native queue vector env against ``SyncVectorEnv`` at one level and N.

    Args:
        level: A rung of ``access_review_env.QUEUE_LEVELS``; the model is
            built once and shared by every env (the largest takes seconds).
        num_envs: Sub-envs of both vector envs.
        native_steps: Batched steps per timed repeat of the native env.
        sync_steps: Batched steps per timed repeat of ``SyncVectorEnv``.
        repeats: Timed repeats of each, alternately; the row holds medians.

    Returns:
        The row: env-steps per second (batched steps times ``num_envs``,
        ``NEXT_STEP`` reset slots included), ours against the baseline.
    """
    env_id = access_review_env.QUEUE_ENV_ID

    def make(mode: str) -> gym.vector.VectorEnv:
        return gym.make_vec(
            env_id, num_envs=num_envs, vectorization_mode=mode, level=level
        )

    native, sync = make("vector_entry_point"), make("sync")
    n_actions = int(native.single_action_space.n)  # type: ignore[attr-defined]
    actions = np.random.default_rng(1).integers(0, n_actions, (4, num_envs))
    rates = median_rates(
        {
            "native": lambda: vector_rate(native, actions, native_steps),
            "sync": lambda: vector_rate(sync, actions, sync_steps),
        },
        repeats,
    )
    native.close()
    sync.close()
    return Row(
        name=f"queue vector env, level {level}, N = {num_envs:,}, random actions",
        unit="env-steps/s",
        ours=statistics.median(rates["native"]),
        baseline=statistics.median(rates["sync"]),
        baseline_name="SyncVectorEnv of gym.make, same level",
        target=QUEUE_TARGET if level == "xlarge" and num_envs == 1_024 else "",
        samples=rates,
    )


def main(argv: list[str] | None = None) -> None:
    """Print the row for ``[level [num_envs]]`` (default: xlarge, 1,024)."""
    args = sys.argv[1:] if argv is None else argv
    level = args[0] if args else "xlarge"
    num_envs = int(args[1]) if len(args) > 1 else 1_024
    start = time.perf_counter()
    row = queue_vector_row(level, num_envs)
    print(
        f"{row.name}: {row.ours:,.0f} {row.unit} against {row.baseline:,.0f} "
        f"({row.baseline_name}): {row.ratio:.1f}x {row.target}"
    )
    for name, samples in row.samples.items():
        print(f"  {name}: {', '.join(f'{rate:,.0f}' for rate in samples)}")
    print(f"  ({time.perf_counter() - start:.0f} s, models built included)")


if __name__ == "__main__":
    main()
