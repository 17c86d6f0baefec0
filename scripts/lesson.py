"""Every lab of the lesson "Reinforcement Learning Basics", rerun on the package.

The job lives in ``agents.jobs.lesson``; ``--help`` lists its options.
"""

import sys

from agents.jobs.lesson import main

if __name__ == "__main__":
    sys.exit(main())
