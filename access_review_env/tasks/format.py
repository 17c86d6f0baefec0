"""The table format every task is written in.

A task is data: its states and actions (as IntEnums), which states end an
episode, where episodes start, the transition rules of each valid (state,
action) pair, and named reward presets. Probabilities are products of named
parameters (``p``) and their complements (``1 - p``), so one table describes
the task for every parameter value. :mod:`access_review_env.model` resolves a
table for one configuration; nothing here runs an episode.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum

from access_review_env.validation import (
    check_bool,
    check_choice,
    check_integer,
    check_real,
    check_unit_interval,
)


@dataclass(frozen=True)
class Factor:
    """One factor of a probability: a parameter ``p``, or its complement ``1 - p``."""

    parameter: str
    complement: bool = False

    def value(self, parameters: Mapping[str, float]) -> float:
        """The factor's value under ``parameters``."""
        value = parameters[self.parameter]
        return 1.0 - value if self.complement else value

    def __str__(self) -> str:
        """``p`` or ``1 - p``, with the parameter's name."""
        return f"1 - {self.parameter}" if self.complement else self.parameter


def share(parameter: str) -> Factor:
    """The factor ``p`` for the parameter named ``parameter``."""
    return Factor(parameter)


def rest(parameter: str) -> Factor:
    """The factor ``1 - p`` for the parameter named ``parameter``."""
    return Factor(parameter, complement=True)


Probability = tuple[Factor, ...]
"""A product of factors; the empty product is probability 1."""


def probability_value(
    probability: Probability, parameters: Mapping[str, float]
) -> float:
    """The value of a product of factors under ``parameters``."""
    return float(math.prod(factor.value(parameters) for factor in probability))


def probability_text(probability: Probability) -> str:
    """A product of factors as text, e.g. ``"(1 - p) * q"``; ``"1"`` when empty."""
    if not probability:
        return "1"
    if len(probability) == 1:
        return str(probability[0])
    return " * ".join(
        f"({factor})" if factor.complement else str(factor) for factor in probability
    )


@dataclass(frozen=True)
class Parameter:
    """One keyword argument of a task, declared once with its default and meaning.

    The model, the envs, the vector envs and their manuals read a task's
    parameters from these declarations; none repeats the list.

    Attributes:
        name: The keyword.
        default: Its default value.
        kind: ``"probability"`` (a real in [0, 1]), ``"count"`` (an integer
            >= ``low``), ``"real"`` (a finite real), ``"flag"`` (a bool),
            ``"choice"`` (one of ``choices``) or ``"spec"`` (checked by the
            model that reads it, such as a reward specification).
        doc: What it means, one line for the manual.
        low: The least count allowed.
        choices: The allowed values of a choice.
    """

    name: str
    default: object
    kind: str
    doc: str
    low: int = 0
    choices: tuple[object, ...] = ()

    def check(self, value: object) -> object:
        """Return ``value`` as the parameter's type if it is allowed.

        A parameter whose default is None also takes None (for a queue's
        parameters: "the level's value").

        Raises:
            TypeError, ValueError: Naming the parameter, the value and what is
                allowed.
        """
        if value is None and self.default is None:
            return None
        if self.kind == "probability":
            return check_unit_interval(self.name, value)
        if self.kind == "count":
            return check_integer(self.name, value, low=self.low)
        if self.kind == "real":
            return check_real(self.name, value)
        if self.kind == "flag":
            return check_bool(self.name, value)
        if self.kind == "choice":
            return check_choice(self.name, value, self.choices)
        return value


@dataclass(frozen=True)
class TransitionRule:
    """One branch of a valid (state, action) pair.

    Attributes:
        name: Key under which reward presets name this branch.
        state: The state the action is taken in.
        action: The action.
        next_state: The state the branch leads to.
        probability: The branch's probability as a product of factors.
        outcome: How the request closed, for branches that close it.
        cost: 1.0 for an unsafe transition (the safety-gymnasium ``cost``), else 0.0.
    """

    name: str
    state: int
    action: int
    next_state: int
    probability: Probability = ()
    outcome: str = "pending"
    cost: float = 0.0


@dataclass(frozen=True)
class StartRule:
    """One state an episode can start in, with its probability."""

    state: int
    probability: Probability = ()


@dataclass(frozen=True)
class TaskTable:
    """A whole task as data.

    Attributes:
        name: The task's registered id, e.g. ``"AccessReview-v0"``.
        states: IntEnum of the states; a state's value is its observation.
        actions: IntEnum of the actions; an action's value is its integer action.
        terminal_states: The states that end an episode.
        outcomes: Values of ``info["outcome"]``; the first (``"pending"``) is
            the value until a request closes.
        parameters: Each probability parameter's name and default value.
        starts: Where episodes start; the probabilities sum to 1.
        rules: Every valid transition; any other (state, action) is invalid.
        reward_presets: Named reward specifications, each giving a reward to
            every rule name.
        default_preset: The preset used when none is named.
        gamma: The task's recommended discount.
        diagram: The workflow as text, for ``render_mode="ansi"``.
        parameter_docs: One line for the manual per probability parameter.

    Raises:
        ValueError: If the table is inconsistent (see :meth:`__post_init__`).
    """

    name: str
    states: type[IntEnum]
    actions: type[IntEnum]
    terminal_states: tuple[int, ...]
    outcomes: tuple[str, ...]
    parameters: Mapping[str, float]
    starts: tuple[StartRule, ...]
    rules: tuple[TransitionRule, ...]
    reward_presets: Mapping[str, Mapping[str, float]]
    default_preset: str = "outcome_aware"
    gamma: float = 0.9
    diagram: str = ""
    parameter_docs: Mapping[str, str] = field(default_factory=dict)
    state_names: tuple[str, ...] = field(init=False)
    action_names: tuple[str, ...] = field(init=False)
    non_terminal_states: tuple[int, ...] = field(init=False)
    rule_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        """Derive the name tuples and check that the table is consistent.

        Checks: states and actions are numbered 0, 1, ...; rule names are
        unique; every rule and start names known states, actions, outcomes and
        parameters; every preset rewards exactly the rules; the probabilities
        of each (state, action) and of the starts sum to 1 at the defaults.
        """
        for kind in (self.states, self.actions):
            if [member.value for member in kind] != list(range(len(kind))):
                raise ValueError(f"{kind.__name__} must be numbered 0, 1, 2, ...")
        state_names = tuple(member.name.lower() for member in self.states)
        object.__setattr__(self, "state_names", state_names)
        object.__setattr__(
            self, "action_names", tuple(m.name.lower() for m in self.actions)
        )
        object.__setattr__(
            self,
            "non_terminal_states",
            tuple(s.value for s in self.states if s not in self.terminal_states),
        )
        names = tuple(rule.name for rule in self.rules)
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: rule names must be unique")
        object.__setattr__(self, "rule_names", names)
        if not self.outcomes or self.outcomes[0] != "pending":
            raise ValueError(f"{self.name}: the first outcome must be 'pending'")
        self._check_rules()
        self._check_presets()

    @property
    def declared_parameters(self) -> tuple[Parameter, ...]:
        """The probability parameters as declarations, in the table's order."""
        return tuple(
            Parameter(name, default, "probability", self.parameter_docs.get(name, ""))
            for name, default in self.parameters.items()
        )

    def _check_rules(self) -> None:
        n_states, n_actions = len(self.states), len(self.actions)
        factors = [f for rule in self.rules for f in rule.probability] + [
            f for start in self.starts for f in start.probability
        ]
        unknown = {f.parameter for f in factors} - set(self.parameters)
        if unknown:
            raise ValueError(f"{self.name}: unknown parameter(s) {sorted(unknown)}")
        totals: dict[tuple[int, int], float] = {}
        for rule in self.rules:
            if not (
                0 <= rule.state < n_states
                and 0 <= rule.next_state < n_states
                and 0 <= rule.action < n_actions
            ):
                raise ValueError(f"{self.name}: rule {rule.name} is out of range")
            if rule.state in self.terminal_states:
                raise ValueError(
                    f"{self.name}: rule {rule.name} leaves a terminal state"
                )
            if rule.outcome not in self.outcomes:
                raise ValueError(f"{self.name}: rule {rule.name} has unknown outcome")
            key = (rule.state, rule.action)
            totals[key] = totals.get(key, 0.0) + probability_value(
                rule.probability, self.parameters
            )
        starts = sum(
            probability_value(s.probability, self.parameters) for s in self.starts
        )
        sums = [*totals.values(), starts]
        if not all(math.isclose(total, 1.0) for total in sums):
            raise ValueError(
                f"{self.name}: the branches of each (state, action), and the "
                "starts, must sum to 1 at the default parameters"
            )

    def _check_presets(self) -> None:
        if self.default_preset not in self.reward_presets:
            raise ValueError(
                f"{self.name}: unknown default preset {self.default_preset}"
            )
        for preset, rewards in self.reward_presets.items():
            if set(rewards) != set(self.rule_names):
                raise ValueError(
                    f"{self.name}: preset {preset} must reward exactly the rules"
                )
