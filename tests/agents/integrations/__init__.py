"""Tests of agents.integrations: glue to the optional libraries, one module each."""
