"""The queue's ladder of levels: states, nonzeros, build and solve time, V*.

The job lives in ``agents.jobs.queue_levels``; ``--help`` lists its options.
"""

import sys

from agents.jobs.queue_levels import main

if __name__ == "__main__":
    sys.exit(main())
