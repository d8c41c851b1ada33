"""The training stage: fine-tuning (``train``, ``trainer``), temperature calibration, evaluation metrics,
the figures of the reports, and ``workflow`` (train, calibrate and register in one call)."""
