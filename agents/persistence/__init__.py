"""Everything the package writes to disk.

* :mod:`.agent_files`: learned agents as ``.npz`` (no pickle), and loading them.
* :mod:`.results`: atomic writes, strict JSON files and run metadata for results.

How a value becomes strict JSON is :mod:`agents.common.json_values`.
"""

from agents.persistence.agent_files import AgentFileError, load_agent, save_agent
from agents.persistence.results import run_metadata, write_atomic, write_json

__all__ = [
    "AgentFileError",
    "load_agent",
    "run_metadata",
    "save_agent",
    "write_atomic",
    "write_json",
]
