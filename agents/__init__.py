"""Planners and learners for access-review-env (and any finite MDP given as arrays)."""
