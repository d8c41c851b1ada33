"""Error analysis for 05_explore: ``slices`` (accuracy and calibration by kind of text), ``mistakes`` (the most
confident errors) and ``compare`` (two versions: where they disagree and who is right)."""
