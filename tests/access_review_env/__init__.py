"""Specifications of the tasks, the model and the envs."""
