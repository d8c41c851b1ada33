"""The watchful loop: one cycle (ingest, judge, maybe retrain behind the gate), the scheduler that runs cycles
unattended, its heartbeat, and the replay of a labelled stream into it."""
