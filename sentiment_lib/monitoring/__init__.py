"""The monitoring stage: the checks that judge the serving champion (:mod:`sentiment_lib.monitoring.checks`), and
how their results are shown to a person."""
