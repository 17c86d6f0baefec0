"""Specifications of the documentation that runs: the tutorial notebook."""
