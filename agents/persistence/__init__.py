"""Everything the package writes to disk.

* :mod:`.agent_files`: learned agents as ``.npz`` (no pickle), and loading them.
* :mod:`.results`: atomic writes, strict JSON and run metadata for results.
"""

from agents.persistence.agent_files import AgentFileError, load_agent, save_agent
from agents.persistence.results import (
    dumps,
    float_from_json,
    run_metadata,
    to_jsonable,
    write_atomic,
    write_json,
)

__all__ = [
    "AgentFileError",
    "dumps",
    "float_from_json",
    "load_agent",
    "run_metadata",
    "save_agent",
    "to_jsonable",
    "write_atomic",
    "write_json",
]
