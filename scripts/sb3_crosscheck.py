"""Cross-check: do SB3's learners find the policy value iteration proves optimal?

The job lives in ``agents.jobs.sb3_crosscheck``; ``--help`` lists its options.
"""

import sys

from agents.jobs.sb3_crosscheck import main

if __name__ == "__main__":
    sys.exit(main())
