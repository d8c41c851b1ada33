"""Experiments on the pipeline, run from the command line rather than by the loop: does the loop adapt to a
replayed stream (``make replay-adapt``: ``runner.py replay --serve``)?"""
