"""Alerting: what an alert says, and how it leaves (email and webhook transports behind one interface, one
deadline per attempt, a cooldown, retries and an outbox they share)."""
