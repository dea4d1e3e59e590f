"""``python -m scheduling.benchmarks``: the same as ``python -m scheduling bench``."""

import sys

from .cli import main

sys.exit(main(sys.argv[1:]))
