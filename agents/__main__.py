"""``python -m agents``: the ``access-review`` console command."""

import sys

from agents.cli import main

sys.exit(main())
