"""A picture of a task's MDP drawn from its data (needs the ``plots`` extra).

The table tasks are drawn state by state (below); the queue, whose states are
too many, is drawn stage by stage from its action and event rules
(:func:`queue_figure`).

Each non-terminal state has its own row, indented by how many steps it is
from a start. On its left, every transition that leads into it
(``source --action: probability, reward-->``); on its right, an arrow for
every way a request closes from it (``action: probability, reward ->
outcome``). Probabilities are shown as formulas of the task's parameters and
as numbers. Unsafe transitions (``cost > 0``) are red. Because it reads the
same table as ``step``, the picture cannot disagree with the env.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from access_review_env import QueueMDP, TaskMDP
from access_review_env.tasks import probability_text, probability_value
from access_review_env.tasks.access_review_queue import (
    ACTION_RULES,
    EVENT_RULES,
    Move,
)
from agents.integrations.plotting import new_figure, save_figure

_SAFE, _UNSAFE, _START = "#37474f", "#d32f2f", "#e3f2fd"
_INDENT = 4.5
"""Horizontal step between states one transition apart."""
_LINE = 0.42
"""Height of one closing line."""
_GAP = 0.9
"""Space between two states' bands."""


def _depths(mdp: TaskMDP) -> dict[int, int]:
    """Each non-terminal state's shortest distance from a start state."""
    table = mdp.table
    frontier = [s for s in table.non_terminal_states if mdp.start_distribution[s] > 0]
    depth = dict.fromkeys(frontier, 0)
    while frontier:
        following = []
        for rule in table.rules:
            if (
                rule.state in frontier
                and rule.next_state not in depth
                and rule.next_state not in table.terminal_states
            ):
                depth[rule.next_state] = depth[rule.state] + 1
                following.append(rule.next_state)
        frontier = following
    deepest = max(depth.values(), default=0)
    return {s: depth.get(s, deepest) for s in table.non_terminal_states}


def _label(mdp: TaskMDP, rule: Any) -> str:
    value = probability_value(rule.probability, mdp.parameters)
    chance = (
        f"{probability_text(rule.probability)} = {value:.2f}, "
        if rule.probability
        else ""
    )
    return f"{chance}r {mdp.reward_table[rule.name]:+g}"


def task_figure(mdp: TaskMDP) -> Figure:
    """``mdp``'s states and valid transitions, as a figure pyplot does not track.

    Args:
        mdp: A task's MDP for one configuration (``env.unwrapped.mdp``).
    """
    table = mdp.table
    rules = [
        r for r in table.rules if probability_value(r.probability, mdp.parameters) > 0
    ]
    closing: dict[int, list[Any]] = defaultdict(list)
    moving: list[Any] = []
    for rule in rules:
        bucket = (
            closing[rule.state] if rule.next_state in table.terminal_states else moving
        )
        bucket.append(rule)
    depths = _depths(mdp)
    order = sorted(depths, key=lambda s: (depths[s], s))
    positions: dict[int, tuple[float, float]] = {}
    y = 0.0
    for state in order:
        band = max(1, len(closing[state])) * _LINE
        positions[state] = (_INDENT * depths[state], y - band / 2)
        y -= band + _GAP
    right = _INDENT * (max(depths.values()) + 1) + 1.5
    figure = new_figure((16.0, max(4.5, 0.6 * -y + 1.5)))
    axis = figure.subplots()
    for state in order:
        x, y_state = positions[state]
        lines = closing[state]
        for row, rule in enumerate(lines):
            y_line = y_state + _LINE * ((len(lines) - 1) / 2 - row)
            colour = _UNSAFE if rule.cost > 0 else _SAFE
            axis.annotate(
                "",
                xy=(right, y_line),
                xytext=(x, y_state),
                arrowprops={"arrowstyle": "->", "color": colour, "shrinkA": 40},
            )
            axis.text(
                right + 0.1,
                y_line,
                f"{table.action_names[rule.action]}: {_label(mdp, rule)} "
                f"-> {rule.outcome}",
                va="center",
                fontsize=7,
                color=colour,
            )
    arriving: dict[int, list[Any]] = defaultdict(list)
    for rule in moving:
        arriving[rule.next_state].append(rule)
    for target, group in arriving.items():
        x1, y1 = positions[target]
        for row, rule in enumerate(group):
            colour = _UNSAFE if rule.cost > 0 else _SAFE
            y_line = y1 + _LINE * ((len(group) - 1) / 2 - row)
            axis.text(
                x1 - 1.6,
                y_line,
                f"{table.state_names[rule.state]} --{table.action_names[rule.action]}"
                f": {_label(mdp, rule)}-->",
                ha="right",
                va="center",
                fontsize=7,
                color=colour,
            )
    for state in order:
        x, y_state = positions[state]
        start = mdp.start_distribution[state]
        name = table.state_names[state]
        if start > 0:
            name += f" (start p = {start:.2f})"
        axis.text(
            x,
            y_state,
            name,
            ha="center",
            va="center",
            fontsize=8,
            zorder=3,
            bbox={
                "boxstyle": "round,pad=0.4",
                "fc": _START if start > 0 else "white",
                "ec": _SAFE,
            },
        )
    axis.set_xlim(-2.0, right + 6.5)
    axis.set_ylim(y + _GAP / 2, 0.8)
    axis.axis("off")
    parameters = ", ".join(f"{k} = {v:g}" for k, v in mdp.parameters.items())
    rewards = mdp.rewards if isinstance(mdp.rewards, str) else "custom"
    axis.set_title(
        f"{table.name} ({parameters}, rewards {rewards}): every valid transition; "
        "red = unsafe (cost 1)",
        fontsize=9,
    )
    return figure


def draw_task(mdp: TaskMDP | QueueMDP, path: str | Path) -> Path:
    """Draw a task's model; write a PNG to ``path``.

    A table task's states and valid transitions (:func:`task_figure`), or the
    queue's stages, actions and events (:func:`queue_figure`).

    Args:
        mdp: A task's model for one configuration (``env.unwrapped.mdp``).
        path: Where to write the PNG.

    Returns:
        The path written.
    """
    figure = queue_figure(mdp) if isinstance(mdp, QueueMDP) else task_figure(mdp)
    return save_figure(figure, path)


_QUEUE_LAYOUT = {
    "arrivals": (0.0, 2.6),
    "new_required": (4.5, 4.4),
    "new_clear": (4.5, 0.2),
    "awaiting_evidence": (9.0, 6.4),
    "evidence_ready": (17.0, 6.4),
    "in_review_unverified": (10.0, 3.0),
    "in_review_evidenced": (15.5, 1.4),
    "reviewed_justified": (21.0, 3.0),
    "reviewed_unjustified": (21.0, -0.6),
}
"""Where each stage sits: arrivals on the left, findings on the right."""


def _chance(move: Move, parameters: Mapping[str, Any]) -> str:
    if not move.probability:
        return ""
    value = probability_value(move.probability, parameters)
    return f"{probability_text(move.probability)} = {value:.2f}, "


def _pays(move: Move, terms: Mapping[str, float]) -> str:
    return f"r {sum(terms[term] for term in move.terms):+g}"


def queue_figure(mdp: QueueMDP) -> Figure:
    """The queue's stages and every action and event between them.

    Drawn from the task's data (``ACTION_RULES``, ``EVENT_RULES``) at the
    configuration's parameter values: solid arrows are the router's actions,
    dashed ones random events with their per-step weight; the lines under a
    stage are the ways a request leaves the queue from it. Red: cost 1.

    Args:
        mdp: The queue's model for one configuration (``env.unwrapped.mdp``).
    """
    parameters, terms = mdp.parameters, mdp.reward_terms
    figure = new_figure((19.0, 10.0))
    axis = figure.subplots()
    leaving: dict[str, list[tuple[str, str]]] = defaultdict(list)
    drawn = 0

    def arrow(source: str, target: str, label: str, colour: str, event: bool) -> None:
        nonlocal drawn
        (x0, y0), (x1, y1) = _QUEUE_LAYOUT[source], _QUEUE_LAYOUT[target]
        bend = 0.12 * (1 if drawn % 2 else -1)
        axis.annotate(
            "",
            xy=(x1, y1),
            xytext=(x0, y0),
            arrowprops={
                "arrowstyle": "->",
                "color": colour,
                "linestyle": "--" if event else "-",
                "shrinkA": 28,
                "shrinkB": 28,
                "connectionstyle": f"arc3,rad={bend}",
            },
        )
        axis.text(
            (x0 + x1) / 2,
            (y0 + y1) / 2 + bend * 2.5,
            label,
            ha="center",
            va="center",
            fontsize=6.5,
            color=colour,
            bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 0.5},
        )
        drawn += 1

    for rule in ACTION_RULES:
        for move in rule.moves:
            if not probability_value(move.probability, parameters):
                continue
            colour = _UNSAFE if move.cost > 0 else _SAFE
            label = f"{rule.action.name.lower()}: {_chance(move, parameters)}"
            label += _pays(move, terms)
            entered = [stage for stage, change in move.delta if change > 0]
            if entered:
                arrow(rule.stage, entered[0], label, colour, event=False)
            else:
                ending = "stays" if move.outcome == "pending" else move.outcome
                leaving[rule.stage].append((f"{label} -> {ending}", colour))
    for event in EVENT_RULES:
        move = event.move
        weight = f"{event.parameter}"
        if event.per is not None:
            weight += f" x n({event.per})"
        chance = _chance(move, parameters).rstrip(", ")
        label = f"{event.name}: {weight}" + (f" x ({chance})" if chance else "")
        label += f", {_pays(move, terms)}"
        entered = [stage for stage, change in move.delta if change > 0]
        source = event.per or "arrivals"
        if entered:
            arrow(source, entered[0], label, _SAFE, event=True)
        else:
            leaving[source].append((f"{label} -> {move.outcome}", _SAFE))
        if event.overflow is not None:
            full = (
                f"if full: {_pays(event.overflow, terms)} -> {event.overflow.outcome}"
            )
            leaving[entered[0]].append((f"{event.name} {full}", _SAFE))
    for stage, (x, y) in _QUEUE_LAYOUT.items():
        axis.text(
            x,
            y,
            stage,
            ha="center",
            va="center",
            fontsize=8.5,
            zorder=3,
            bbox={
                "boxstyle": "round,pad=0.4",
                "fc": _START if stage == "arrivals" else "white",
                "ec": _SAFE,
            },
        )
        for row, (text, colour) in enumerate(leaving[stage]):
            axis.text(
                x - 1.0,
                y - 0.5 - 0.26 * row,
                text,
                ha="left",
                va="center",
                fontsize=6.2,
                color=colour,
            )
    axis.set_xlim(-1.0, 26.0)
    axis.set_ylim(-2.4, 7.0)
    axis.axis("off")
    shape = mdp.shape
    axis.set_title(
        f"{mdp.name}, level {mdp.level}: {mdp.n_states:,} states "
        f"(capacities {shape.required_capacity} + {shape.clear_capacity} new, "
        f"{shape.evidence_capacity} out for evidence, {shape.reviewers} "
        f"reviewers), {mdp.sparse.nnz:,} branches; one action, then one event "
        f"a step (or none), waiting {terms['waiting']:+g} per open request; "
        "red = unsafe (cost 1)",
        fontsize=9,
    )
    return figure
