"""Time-ordered splits and the leakage check: evaluate on the future, with the past.

A policy is deployed after it is fitted, on requests that arrive later, in a
world that may have drifted. :func:`time_split` therefore splits episodes into
train / validation / test by arrival time, never by shuffling, and leaves an
*embargo* before each boundary so that no training outcome arrives after the
next period's first decision. :func:`check_split` proves it; a random split
(:func:`random_split`, kept for the comparison lab) fails it.

:func:`decision_features` hands out per-decision features only if each one was
known when the decision was taken: :data:`FEATURE_TIMES` says when each column
of the two logs becomes known (the lesson's examples: evidence received, the
review outcome, and every event caused by the router's own action arrive after
the decision), and :func:`check_leakage` refuses a feature with any value from
after its decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from access_review_env.validation import check_real
from agents.offline.clock import as_time, days
from agents.offline.logs import Episodes


class LeakageError(ValueError):
    """A feature or a split that uses information from after the decision."""


FEATURE_TIMES: Mapping[str, str] = {
    "request_id": "decided_at",
    "step": "decided_at",
    "decided_at": "decided_at",
    "state": "decided_at",
    "valid_actions": "decided_at",
    "reward": "observed_at",
    "next_state": "observed_at",
    "terminated": "observed_at",
    "truncated": "observed_at",
    "cost": "observed_at",
    "observed_at": "observed_at",
    "evidence_at": "evidence_known_at",
    "outcome": "closed_at",
    "closed_at": "closed_at",
}
"""When each column's value becomes known: at the decision (decision log), when
the step's result is observed (the router's own action caused it), when the
evidence arrives (or, if it never does, when the request closes), or when the
request closes (how it closed, the review outcome)."""


def _per_row(episodes: Episodes, values: NDArray[Any]) -> NDArray[Any]:
    return np.repeat(values, episodes.lengths)


def feature_values(episodes: Episodes, name: str) -> NDArray[Any]:
    """``(n_transitions,)`` the value of feature ``name`` at each decision.

    Raises:
        KeyError: For a name not in :data:`FEATURE_TIMES`.
    """
    if name not in FEATURE_TIMES:
        raise KeyError(f"unknown feature {name!r}; known: {', '.join(FEATURE_TIMES)}")
    if name == "request_id":
        return _per_row(episodes, episodes.request_id)
    if name in ("evidence_at", "closed_at"):
        return _per_row(episodes, getattr(episodes, name))
    return np.asarray(getattr(episodes, name))


def feature_times(episodes: Episodes, name: str) -> NDArray[np.datetime64]:
    """``(n_transitions,)`` when each decision's value of ``name`` became known."""
    when = FEATURE_TIMES.get(name)
    if when is None:
        raise KeyError(f"unknown feature {name!r}; known: {', '.join(FEATURE_TIMES)}")
    if when == "decided_at":
        return episodes.decided_at
    if when == "observed_at":
        return episodes.observed_at
    closed = _per_row(episodes, episodes.closed_at)
    if when == "closed_at":
        return closed
    evidence = _per_row(episodes, episodes.evidence_at)
    return np.where(np.isnat(evidence), closed, evidence)


def check_leakage(
    decided_at: NDArray[np.datetime64],
    known_at: Mapping[str, NDArray[np.datetime64]],
    request_id: NDArray[np.int64] | None = None,
    step: NDArray[np.integer[Any]] | None = None,
) -> None:
    """Refuse any feature whose value at some decision became known after it.

    Args:
        decided_at: ``(n,)`` decision times.
        known_at: Per feature, ``(n,)`` when its value became known.
        request_id: Optional ``(n,)`` ids, to name the offending request.
        step: Optional ``(n,)`` steps, likewise.

    Raises:
        LeakageError: Naming the first leaking feature, its first offending
            row with both times, and how many rows leak.
    """
    for name, times in known_at.items():
        late = times > decided_at
        if np.any(late):
            row = int(np.argmax(late))
            where = f"row {row}"
            if request_id is not None and step is not None:
                where += f" (request {int(request_id[row])}, step {int(step[row])})"
            raise LeakageError(
                f"feature {name!r} is not known at decision time: {where} was "
                f"decided at {decided_at[row]} but the value arrived at "
                f"{times[row]}; {int(late.sum()):,} of {late.size:,} decisions "
                "would see the future. Use decision-log columns, or values known "
                "before the decision"
            )


def decision_features(
    episodes: Episodes, names: Sequence[str]
) -> dict[str, NDArray[Any]]:
    """Per-decision features, each checked to be known at its decision.

    Raises:
        LeakageError: If any feature is known only after some decision.
        KeyError: For an unknown feature name.
    """
    check_leakage(
        episodes.decided_at,
        {name: feature_times(episodes, name) for name in names},
        _per_row(episodes, episodes.request_id),
        episodes.step,
    )
    return {name: feature_values(episodes, name) for name in names}


@dataclass(frozen=True)
class Split:
    """Train, validation and test episodes.

    Attributes:
        train: Fit here.
        validation: Tune and choose here.
        test: Report here, once.
        kind: ``"time"`` or ``"random"``.
    """

    train: Episodes
    validation: Episodes
    test: Episodes
    kind: str

    def parts(self) -> dict[str, Episodes]:
        """The three parts by name."""
        return {"train": self.train, "validation": self.validation, "test": self.test}


def time_split(
    episodes: Episodes,
    validation_start: str | np.datetime64,
    test_start: str | np.datetime64,
    embargo_days: float,
) -> Split:
    """Split by arrival: train before ``validation_start``, test from ``test_start``.

    Episodes that arrive within ``embargo_days`` before a boundary are left out
    of the earlier part, so that (when every request closes within
    ``embargo_days``, as a log's ``follow_up_days`` guarantees) no outcome of an
    earlier part arrives after the later part's first decision. The test part
    has no embargo after it.

    Raises:
        ValueError: If the boundaries are not in order or the embargo is negative.
    """
    validation_at = as_time(validation_start)
    test_at = as_time(test_start)
    if not test_at > validation_at:
        raise ValueError(
            f"test_start ({test_at}) must come after validation_start ({validation_at})"
        )
    embargo = days(check_real("embargo_days", embargo_days, low=0.0))
    if not test_at - embargo > validation_at:
        raise ValueError(
            f"the validation window [{validation_at}, {test_at}) is no longer than "
            f"the embargo ({embargo_days} days): it would be empty"
        )
    split = Split(
        episodes.arrived_between(None, validation_at - embargo),
        episodes.arrived_between(validation_at, test_at - embargo),
        episodes.arrived_between(test_at, None),
        "time",
    )
    check_split(split)
    return split


def random_split(
    episodes: Episodes,
    rng: np.random.Generator,
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
) -> Split:
    """Split by shuffling: what *not* to do with data that drifts (see the lab).

    Raises:
        ValueError: If ``fractions`` are negative or do not sum to 1.
    """
    if min(fractions) < 0 or not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"fractions must be >= 0 and sum to 1, got {fractions}")
    draw = rng.random(episodes.n_episodes)
    first, second = fractions[0], fractions[0] + fractions[1]
    return Split(
        episodes.select(draw < first),
        episodes.select((draw >= first) & (draw < second)),
        episodes.select(draw >= second),
        "random",
    )


def check_split(split: Split) -> None:
    """Refuse a split where an earlier part knows a later part's future.

    Every outcome of train must have arrived before validation's first
    decision, and every outcome of validation before test's.

    Raises:
        LeakageError: Naming the parts, the request and both times.
    """
    pairs = (("train", "validation"), ("validation", "test"), ("train", "test"))
    parts = split.parts()
    for earlier, later in pairs:
        before, after = parts[earlier], parts[later]
        if before.n_episodes == 0 or after.n_episodes == 0:
            continue
        first_decision = after.decided_at.min()
        late = before.closed_at > first_decision
        if np.any(late):
            index = int(np.argmax(before.closed_at))
            raise LeakageError(
                f"{split.kind} split: {int(late.sum()):,} {earlier} request(s) "
                f"closed after the first {later} decision ({first_decision}); e.g. "
                f"request {int(before.request_id[index])} closed at "
                f"{before.closed_at[index]}. Split by time with an embargo"
            )
