"""``python -m sentiment_lib.cli``: the same command line as ``runner.py`` and ``sentiment``."""

import sys

from sentiment_lib.cli import main

sys.exit(main())
