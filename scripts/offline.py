"""The offline story on one command: log, split by time, fit, plan, evaluate.

The job lives in ``agents.jobs.offline``; ``--help`` lists its options.
"""

import sys

from agents.jobs.offline import main

if __name__ == "__main__":
    sys.exit(main())
