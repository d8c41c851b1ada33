"""Experiments on the pipeline, run from the command line rather than by the loop: does the loop adapt to a
replayed stream (``make replay-adapt``: ``runner.py replay --serve``)?

They are out of the library's jobs (nothing in checks, alerting, the loop or serving imports them; the
architecture test checks) but inside the package: ``sentiment replay --serve`` runs them from an installed
wheel, where ``benchmarks/`` does not exist.
"""
