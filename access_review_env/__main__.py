"""``python -m access_review_env``: the ``access-review`` console command."""

import sys

from agents.cli import main

sys.exit(main())
