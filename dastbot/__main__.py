"""``python -m dastbot``: the command line, through the launcher (``dastbot.launch``)."""

import sys

from dastbot.launch import main

sys.exit(main())
