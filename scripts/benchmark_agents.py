"""Benchmark agents against the exact optimum of every configuration of a suite.

The job lives in ``agents.jobs.benchmark_agents``; ``--help`` lists its options.
"""

import sys

from agents.jobs.benchmark_agents import main

if __name__ == "__main__":
    sys.exit(main())
