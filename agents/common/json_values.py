"""Plain JSON values: anything the package records, as strict JSON, and back.

JSON is strict here (no ``NaN`` or ``Infinity``): non-finite numbers are
written as ``null`` and read back as NaN, so any JSON parser reads what the
package writes and a reader gets the number it meant.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np


def float_from_json(value: float | None) -> float:
    """A float read back from JSON that :func:`to_jsonable` wrote: null is NaN."""
    return float("nan") if value is None else float(value)


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON types; non-finite floats become None.

    Dataclasses become dicts; NumPy values, enums and paths their plain values.

    Raises:
        TypeError: For a value with no JSON form.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: to_jsonable(getattr(value, field.name))
            for field in dataclasses.fields(value)
        }
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def dumps(value: Any) -> str:
    """Strict, indented JSON of ``value`` (see :func:`to_jsonable`)."""
    return json.dumps(to_jsonable(value), indent=2, allow_nan=False)
