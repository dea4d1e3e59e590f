"""``python -m scheduling``: the command line of the package (see ``scheduling.cli``)."""

import sys

from .cli import main

sys.exit(main())
