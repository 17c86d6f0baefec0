"""A picture of a task's MDP drawn from its table (needs the ``plots`` extra).

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
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from access_review_env import TaskMDP
from access_review_env.tasks import probability_text, probability_value
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


def draw_task(mdp: TaskMDP, path: str | Path) -> Path:
    """Draw ``mdp``'s states and valid transitions; write a PNG to ``path``.

    Args:
        mdp: A task's MDP for one configuration (``env.unwrapped.mdp``).
        path: Where to write the PNG.

    Returns:
        The path written.
    """
    return save_figure(task_figure(mdp), path)
