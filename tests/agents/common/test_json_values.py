"""Strict JSON values: what the package records reads back with any JSON parser."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray

from agents.common.json_values import dumps, float_from_json, to_jsonable


class Colour(Enum):
    """An enum, recorded as its value."""

    RED = "red"


@dataclass
class Record:
    """A dataclass holding what a record may hold."""

    name: str
    values: NDArray[np.float64]
    colour: Colour
    path: Path


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_float_written_and_read_back_is_itself_or_nan_when_not_finite(
    value: float,
) -> None:
    """Non-finite numbers become null, which reads back as NaN; the rest exactly."""
    read = float_from_json(json.loads(dumps(value)))
    if math.isfinite(value):
        assert read == value
    else:
        assert math.isnan(read)


def test_dataclasses_arrays_enums_and_paths_become_plain_json() -> None:
    """Nested values become dicts, lists, strings and numbers a parser reads."""
    record = Record("x", np.array([1.0, np.inf]), Colour.RED, Path("runs/a.json"))
    assert to_jsonable({"r": record, "n": np.int64(3)}) == {
        "r": {
            "name": "x",
            "values": [1.0, None],
            "colour": "red",
            "path": "runs/a.json",
        },
        "n": 3,
    }
    assert "NaN" not in dumps([float("nan")])


def test_a_value_without_a_json_form_is_named() -> None:
    """An object JSON cannot hold raises, naming its type."""
    with pytest.raises(TypeError, match="cannot write object to JSON"):
        to_jsonable(object())
