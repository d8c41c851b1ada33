"""Serve the champion model over HTTP: ``python app.py`` (127.0.0.1:5000 by default), the same as ``sentiment serve``.

The server lives in :mod:`sentiment_lib.serving.main`; ``python app.py --help`` lists its options.
"""

import sys

from sentiment_lib.serving.main import main

if __name__ == "__main__":
    sys.exit(main())
