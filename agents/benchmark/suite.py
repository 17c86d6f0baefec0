"""The benchmark's suites: named env configurations, each probing one difficulty.

Data only: which configurations a benchmark runs, and what each one probes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Configuration:
    """One env configuration of a suite, and what it probes."""

    name: str
    probes: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)


SUITE: tuple[Configuration, ...] = (
    Configuration("default", "the lesson's task, p = 0.25", {}),
    Configuration(
        "below_crossover",
        "p = 0.04, just under 5/113: request_evidence wins by 0.48",
        {"abandonment_prob": 0.04},
    ),
    Configuration(
        "above_crossover",
        "p = 0.05, just over 5/113: human_review wins by 0.65",
        {"abandonment_prob": 0.05},
    ),
    Configuration(
        "no_abandonment", "p = 0: evidence always arrives", {"abandonment_prob": 0.0}
    ),
    Configuration("high_abandonment", "p = 0.5", {"abandonment_prob": 0.5}),
    Configuration(
        "speed_only",
        "misspecified reward: its optimum violates policy every episode",
        {"rewards": "speed_only"},
    ),
    Configuration(
        "invalid_raise",
        "invalid actions raise instead of being penalized",
        {"invalid_action": "raise"},
    ),
)
"""The default suite."""
