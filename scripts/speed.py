"""Side-by-side speed ratios for access-review-env, measured in one run.

The job lives in ``agents.jobs.speed``; ``--help`` lists its options.
"""

import sys

from agents.jobs.speed import main

if __name__ == "__main__":
    sys.exit(main())
