"""Draw a task's MDP from its table: states, actions, probabilities, rewards.

Writes a PNG (the ``plots`` extra). Unsafe transitions are red.

    access-review draw-task AccessReviewRisk-v0
    access-review draw-task AccessReview-v0 --env-kwargs '{"abandonment_prob": 0}'
    access-review draw-task AccessReviewQueue-v0   # its smallest level, "tiny"
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import gymnasium as gym

from access_review_env import ENV_IDS, QUEUE_ENV_ID, QUEUE_LEVELS
from agents.common.optional import available, install_hint
from agents.jobs import arguments


def main(argv: Sequence[str] | None = None) -> int:
    """Draw the task named on the command line."""
    parser = arguments.job_parser(__doc__)
    parser.add_argument("env_id", choices=ENV_IDS, help="the registered task")
    parser.add_argument(
        "--env-kwargs",
        metavar="JSON",
        default="{}",
        help="gym.make kwargs of the configuration to draw",
    )
    parser.add_argument(
        "--output", type=Path, help="the PNG to write (default: runs/<env_id>.png)"
    )
    args = parser.parse_args(argv)
    if not available("matplotlib"):
        parser.error(f"drawing needs matplotlib: {install_hint('matplotlib')}")
    try:
        kwargs = json.loads(args.env_kwargs)
        if not isinstance(kwargs, dict):
            raise ValueError("--env-kwargs must be a JSON object")
        if args.env_id == QUEUE_ENV_ID:
            # The queue is drawn at its smallest level unless told otherwise.
            kwargs.setdefault("level", next(iter(QUEUE_LEVELS)))
        mdp = gym.make(args.env_id, **kwargs).unwrapped.mdp  # type: ignore[attr-defined]
    except (ValueError, TypeError) as error:
        parser.error(str(error))
    from agents.integrations.task_diagram import draw_task

    output = args.output or Path("runs") / f"{args.env_id}.png"
    print(f"wrote {draw_task(mdp, output)}")
    return 0
