"""Specifications of the planners, learners, evaluation and benchmark."""
