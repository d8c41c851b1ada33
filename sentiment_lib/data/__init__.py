"""The data stage: the data contract (``schema``), loading and splitting (``dataset``), importers of other
formats, augmentation, and the labelled-feedback store.

The contract's names are re-exported here because model versions registered before the package was split
into stages run ``from sentiment_lib.data import TEXT_COLUMN`` when they load.
"""

from sentiment_lib.data.schema import LABEL_COLUMN, LABELS, TEXT_COLUMN, normalize_text

__all__ = ["LABELS", "LABEL_COLUMN", "TEXT_COLUMN", "normalize_text"]
