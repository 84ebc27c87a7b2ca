"""``python -m dastbot``: the command line (``dastbot.cli``)."""

import sys

from dastbot.cli import main

sys.exit(main())
