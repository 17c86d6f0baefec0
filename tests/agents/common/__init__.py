"""Tests of agents.common: the helpers every layer may use."""
