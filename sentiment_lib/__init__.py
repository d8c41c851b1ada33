"""Reusable logic of the sentiment pipeline, one folder per stage: ``data``, ``training``, ``inference``,
``tracking``, ``serving``, ``monitoring`` (docs/architecture.md draws the whole package).

Importing the package does no work (no folders made, no tracking URI set): set-up is an explicit call
such as :func:`sentiment_lib.tracking.runs.configure`.
"""

__version__ = "0.1.0"
