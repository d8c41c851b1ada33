"""Asking for labels: the labelling queue each cycle writes, and the Label Studio round trip."""
