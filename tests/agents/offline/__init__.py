"""Tests of agents.offline: logs, models estimated from them, off-policy evaluation.

One module per library module, each on both registered tasks where it applies,
every estimate checked against the exact value of the env as registered.
"""
