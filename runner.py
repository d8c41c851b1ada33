"""Command line of the sentiment pipeline: ``python runner.py --help`` lists every command.

The commands live in :mod:`sentiment_lib.cli`; ``make install`` also installs them as ``sentiment``.
"""

import sys

from sentiment_lib.cli import main

if __name__ == "__main__":
    sys.exit(main())
