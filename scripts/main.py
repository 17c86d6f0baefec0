"""The main job: solve AccessReview-v0 exactly, train every learner, compare, plot.

The job lives in ``agents.jobs.main_job``; ``--help`` lists its options.
"""

import sys

from agents.jobs.main_job import main

if __name__ == "__main__":
    sys.exit(main())
