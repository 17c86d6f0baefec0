"""RLlib PPO on a task against value iteration, or a Ray Tune grid of it (ray extra).

The job lives in ``agents.jobs.rllib_ppo``; ``--help`` lists its options.
"""

import sys

from agents.jobs.rllib_ppo import main

if __name__ == "__main__":
    sys.exit(main())
