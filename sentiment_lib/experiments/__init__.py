"""Experiments on the pipeline, run from the command line rather than by the loop: does the loop adapt to a
replayed stream (``runner.py replay-adapt``)?"""
