"""The benchmark's suites: named env configurations, each probing one difficulty.

Data only: which configurations a benchmark runs, and what each one probes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from access_review_env import ENV_ID, RISK_ENV_ID


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
"""The suite of AccessReview-v0."""

RISK_SUITE: tuple[Configuration, ...] = (
    Configuration("default", "c = 0.5 clear, u = 0.2 unjustified, p = 0.25", {}),
    Configuration(
        "held_out",
        "u = 0: the lesson's held-out lab (risk-aware 62, review 54, auto -25)",
        {"unjustified_share": 0.0},
    ),
    Configuration(
        "below_crossover",
        "u = 0, p = 0.04: asking for evidence beats reviewing by 0.48",
        {"unjustified_share": 0.0, "abandonment_prob": 0.04},
    ),
    Configuration(
        "many_unjustified",
        "u = 0.6: most required-review requests must be denied after review",
        {"unjustified_share": 0.6},
    ),
    Configuration(
        "mostly_clear",
        "c = 0.9: required-review requests are rare",
        {"clear_evidence_share": 0.9},
    ),
    Configuration(
        "speed_only",
        "misspecified reward: its optimum approves every request at once",
        {"rewards": "speed_only"},
    ),
    Configuration(
        "invalid_raise",
        "invalid actions raise instead of being penalized",
        {"invalid_action": "raise"},
    ),
)
"""The suite of AccessReviewRisk-v0."""

SUITES: dict[str, tuple[Configuration, ...]] = {
    ENV_ID: SUITE,
    RISK_ENV_ID: RISK_SUITE,
}
"""Each task's suite, by its registered id."""
