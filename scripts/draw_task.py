"""Draw a task's MDP from its table: states, actions, probabilities, rewards.

The job lives in ``agents.jobs.draw_task``; ``--help`` lists its options.
"""

import sys

from agents.jobs.draw_task import main

if __name__ == "__main__":
    sys.exit(main())
