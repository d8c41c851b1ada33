"""The monitoring stage: staleness checks, email alerts, one cycle of the watchful loop, the scheduler that
runs cycles unattended, and the replay of a labelled stream."""
