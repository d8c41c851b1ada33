"""Reusable logic of the sentiment pipeline: data, training, evaluation, registry, reports.

Importing the package does no work (no folders made, no tracking URI set): set-up is an explicit call
such as :func:`sentiment_lib.tracking.configure`.
"""

__version__ = "0.1.0"
