"""The figures of the main job and the agent benchmark (``plots`` extra).

Each figure has two functions. ``*_figure`` draws it from data it is given and
returns a matplotlib ``Figure`` that pyplot does not track, so a notebook shows
it once and nothing needs closing. ``plot_*`` writes that figure to ``path`` as
a PNG at :data:`FIGURE_SIZE` inches and :data:`DPI`, and returns the path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure
except ImportError as error:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "agents.plotting needs matplotlib: pip install 'access-review-env[plots]'"
    ) from error

from access_review_env import ACCESS_REVIEW, TaskTable
from agents.benchmark.summary import AgentSummary, ConfigurationHardness
from agents.persistence import write_atomic

FIGURE_SIZE = (8.0, 4.5)
DPI = 100
_ACTION_COLOURS = {
    "auto_approve": "#db4437",
    "request_evidence": "#f4b400",
    "human_review": "#0f9d58",
}


def new_figure(size: tuple[float, float] = FIGURE_SIZE) -> Figure:
    """An empty figure that pyplot does not track, laid out tightly when drawn."""
    return Figure(figsize=size, layout="tight")


def save_figure(figure: Figure, path: str | Path, dpi: int = DPI) -> Path:
    """Write ``figure`` as a PNG atomically: an interrupted write leaves no file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    try:
        write_atomic(path, lambda stream: figure.savefig(stream, dpi=dpi, format="png"))
    finally:
        plt.close(figure)
    return path


def value_iteration_figure(
    histories: Mapping[str, np.ndarray], table: TaskTable = ACCESS_REVIEW
) -> Figure:
    """V of each non-terminal state after each sweep, one panel per configuration.

    Args:
        histories: Panel title -> ``(n_sweeps, S)`` value history.
        table: The task, for its state names.
    """
    figure = new_figure()
    axes = figure.subplots(1, len(histories), sharey=True, squeeze=False)
    for axis, (title, history) in zip(axes[0], histories.items(), strict=True):
        sweeps = np.arange(0, len(history) + 1)
        for state in table.non_terminal_states:
            values = np.concatenate([[0.0], history[:, state]])
            axis.plot(sweeps, values, marker="o", label=table.state_names[state])
        axis.set_title(title)
        axis.set_xlabel("sweep")
        axis.set_xticks(sweeps)
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("V(s)")
    axes[0][0].legend()
    figure.suptitle("Value iteration converges in three sweeps")
    return figure


def plot_value_iteration(
    histories: Mapping[str, np.ndarray],
    path: str | Path,
    table: TaskTable = ACCESS_REVIEW,
) -> Path:
    """Write :func:`value_iteration_figure` to ``path`` as a PNG."""
    return save_figure(value_iteration_figure(histories, table), path)


def q_learning_figure(
    episodes: Sequence[int],
    q_start: np.ndarray,
    exact_q_start: np.ndarray,
    returns: Sequence[float],
    action_names: Sequence[str],
) -> Figure:
    """Q(new_request, .) over training against the exact values, and the learning curve.

    Args:
        episodes: Episode index of each snapshot.
        q_start: ``(len(episodes), K)`` Q(new_request, a) of K actions.
        exact_q_start: ``(K,)`` the exact Q*(new_request, a).
        returns: Undiscounted return of every training episode.
        action_names: ``(K,)`` the actions of the columns.
    """
    figure = new_figure()
    left, right = figure.subplots(1, 2)
    for column, name in enumerate(action_names):
        colour = _ACTION_COLOURS.get(name)
        left.plot(episodes, q_start[:, column], color=colour, label=f"learned {name}")
        left.axhline(exact_q_start[column], color=colour, linestyle="--", linewidth=1)
    left.set_title("Q(new_request, a): learned (solid), exact (dashed)")
    left.set_xlabel("episode")
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    window = max(1, len(returns) // 100)
    smoothed = np.convolve(returns, np.ones(window) / window, mode="valid")
    right.plot(np.arange(len(smoothed)) + window, smoothed)
    right.set_title(f"episode return, moving mean of {window}")
    right.set_xlabel("episode")
    right.grid(alpha=0.3)
    return figure


def plot_q_learning(
    episodes: Sequence[int],
    q_start: np.ndarray,
    exact_q_start: np.ndarray,
    returns: Sequence[float],
    path: str | Path,
    action_names: Sequence[str],
) -> Path:
    """Write :func:`q_learning_figure` to ``path`` as a PNG."""
    figure = q_learning_figure(episodes, q_start, exact_q_start, returns, action_names)
    return save_figure(figure, path)


def reinforce_figure(
    episodes: Sequence[int],
    probabilities: np.ndarray,
    action_names: Sequence[str],
) -> Figure:
    """REINFORCE's action probabilities at new_request over training.

    Args:
        episodes: Episode index of each snapshot.
        probabilities: ``(len(episodes), K)`` pi(a | new_request) of K actions.
        action_names: ``(K,)`` the actions of the columns.
    """
    figure = new_figure()
    axis = figure.subplots()
    for column, name in enumerate(action_names):
        axis.plot(
            episodes,
            probabilities[:, column],
            color=_ACTION_COLOURS.get(name),
            label=name,
        )
    axis.set_ylim(0, 1)
    axis.set_xlabel("episode")
    axis.set_ylabel("pi(a | new_request)")
    axis.set_title("REINFORCE moves probability onto the optimal first action")
    axis.legend()
    axis.grid(alpha=0.3)
    return figure


def plot_reinforce(
    episodes: Sequence[int],
    probabilities: np.ndarray,
    path: str | Path,
    action_names: Sequence[str],
) -> Path:
    """Write :func:`reinforce_figure` to ``path`` as a PNG."""
    return save_figure(reinforce_figure(episodes, probabilities, action_names), path)


def abandonment_figure(
    probabilities: np.ndarray,
    q_start: np.ndarray,
    crossover: float,
    action_names: Sequence[str],
) -> Figure:
    """Q*(new_request, a) against the abandonment probability, crossover marked.

    Args:
        probabilities: ``(N,)`` abandonment probabilities.
        q_start: ``(N, K)`` Q*(new_request, a) of K actions for each probability.
        crossover: The p above which human_review is optimal.
        action_names: ``(K,)`` the actions of the columns; the crossover is
            marked on the ``human_review`` curve.
    """
    figure = new_figure()
    axis = figure.subplots()
    for column, name in enumerate(action_names):
        axis.plot(
            probabilities,
            q_start[:, column],
            color=_ACTION_COLOURS.get(name),
            label=name,
        )
    axis.axvline(crossover, color="black", linestyle=":", linewidth=1)
    axis.annotate(
        f"p = {crossover:.4f} (5/113)",
        xy=(
            crossover,
            float(
                np.interp(
                    crossover,
                    probabilities,
                    q_start[:, list(action_names).index("human_review")],
                )
            ),
        ),
        xytext=(crossover + 0.06, 15),
        arrowprops={"arrowstyle": "->"},
    )
    axis.set_xlabel("abandonment probability p")
    axis.set_ylabel("Q*(new_request, a)")
    axis.set_title(
        "request_evidence is worth 59 - 113 p; human_review wins above p = 5/113"
    )
    axis.legend()
    axis.grid(alpha=0.3)
    return figure


def plot_abandonment_sweep(
    probabilities: np.ndarray,
    q_start: np.ndarray,
    crossover: float,
    path: str | Path,
    action_names: Sequence[str],
) -> Path:
    """Write :func:`abandonment_figure` to ``path`` as a PNG."""
    figure = abandonment_figure(probabilities, q_start, crossover, action_names)
    return save_figure(figure, path)


def benchmark_figure(summaries: Sequence[AgentSummary]) -> Figure:
    """Aggregate normalized scores per agent with 95 % bootstrap CIs (rliable style).

    Agents whose every run failed have no aggregate and are left out.

    Args:
        summaries: :func:`agents.benchmark.summarize` results, one per agent.
    """
    metrics = (("iqm", "IQM"), ("mean", "mean"), ("optimality_gap", "optimality gap"))
    figure = new_figure()
    axes = figure.subplots(1, len(metrics), sharey=True)
    scored = [(s.agent, s.aggregate) for s in summaries if s.aggregate is not None]
    names = [name for name, _ in scored]
    for axis, (key, title) in zip(axes, metrics, strict=True):
        for row, (_, aggregate) in enumerate(scored):
            estimate = getattr(aggregate, key)
            axis.plot(
                [estimate.low, estimate.high],
                [row, row],
                linewidth=6,
                alpha=0.5,
                color="#4285f4",
            )
            axis.plot([estimate.value], [row], marker="|", markersize=14, color="black")
        axis.set_title(title)
        axis.set_xlabel("normalized score" if key != "optimality_gap" else "1 - score")
        axis.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(names)), names)
    figure.suptitle(
        "Scores over the suite (0 = random, 1 = optimal), 95 % stratified bootstrap CIs"
    )
    return figure


def plot_benchmark(summaries: Sequence[AgentSummary], path: str | Path) -> Path:
    """Write :func:`benchmark_figure` to ``path`` as a PNG."""
    return save_figure(benchmark_figure(summaries), path)


def frames_figure(
    frames: Sequence[NDArray[np.uint8]], titles: Sequence[str] | None = None
) -> Figure:
    """Rendered frames one above the other, as a strip (``render_mode="rgb_array"``).

    Args:
        frames: ``(H, W, 3)`` images, such as an episode's ``env.render()``.
        titles: One caption per frame (what led to it), or None.

    Raises:
        ValueError: If there is no frame, or ``titles`` does not match ``frames``.
    """
    if not frames:
        raise ValueError("frames_figure needs at least one frame")
    if titles is not None and len(titles) != len(frames):
        raise ValueError(f"got {len(titles)} titles for {len(frames)} frames")
    height, width = frames[0].shape[:2]
    figure = new_figure((6.0, len(frames) * (0.45 + 6.0 * height / width)))
    axes = figure.subplots(len(frames), 1, squeeze=False)[:, 0]
    for index, (axis, frame) in enumerate(zip(axes, frames, strict=True)):
        axis.imshow(frame, interpolation="nearest")
        axis.set_axis_off()
        if titles is not None:
            axis.set_title(titles[index], fontsize=9, loc="left")
    return figure


_AGENT_COLOURS = ("#4285f4", "#db4437", "#f4b400", "#0f9d58", "#ab47bc", "#00acc1")
_REGRET_FLOOR = 1e-4
"""Where the log-scale regret panel shows a mean regret of exactly 0."""


def _error_bars(value: float, low: float, high: float) -> list[list[float]]:
    """Matplotlib's ``yerr`` for an interval around ``value`` (rounding clipped)."""
    return [[max(0.0, value - low)], [max(0.0, high - value)]]


def _hardness_label(name: str, hardness: Sequence[ConfigurationHardness]) -> str:
    """A configuration's name with its smallest gap, for axis labels."""
    found = {h.name: h.hardness for h in hardness}.get(name)
    if found is None:
        return name
    return f"{name}\nmin gap {found.smallest_gap:.2f}"


def plot_headline(
    summaries: Sequence[AgentSummary],
    hardness: Sequence[ConfigurationHardness],
    path: str | Path,
) -> Path:
    """What separates the agents: zero-regret share and regret, per configuration.

    Left: the share of seeds whose final policy has zero regret, with Wilson
    95 % intervals. Right: the mean regret over seeds on a log scale, with its
    95 % interval; a mean of exactly 0 is drawn as a hollow marker at the
    bottom. Each configuration is labelled with its smallest sub-optimality gap.

    Args:
        summaries: :func:`agents.benchmark.summarize` results, one per agent.
        hardness: :func:`agents.benchmark.summary.hardness_table` of the suite.
        path: Where to write the PNG.
    """
    names = list(dict.fromkeys(c.name for s in summaries for c in s.configurations))
    figure, (left, right) = plt.subplots(1, 2, figsize=(13.0, 5.0))
    width = 0.7 / max(1, len(summaries))
    for index, summary in enumerate(summaries):
        colour = _AGENT_COLOURS[index % len(_AGENT_COLOURS)]
        by_name = {c.name: c for c in summary.configurations}
        for column, name in enumerate(names):
            c = by_name.get(name)
            if c is None:
                continue
            x = column - 0.35 + width * (index + 0.5)
            label = summary.agent if column == 0 else None
            if c.zero_regret is not None:
                z = c.zero_regret
                left.errorbar(
                    [x],
                    [z.share],
                    yerr=_error_bars(z.share, z.low, z.high),
                    fmt="o",
                    color=colour,
                    capsize=3,
                    label=label,
                )
            if c.mean_regret is not None:
                m = c.mean_regret
                zero = m.value <= 0.0
                value = max(m.value, _REGRET_FLOOR)
                right.errorbar(
                    [x],
                    [value],
                    yerr=_error_bars(
                        value, max(m.low, _REGRET_FLOOR), max(m.high, _REGRET_FLOOR)
                    ),
                    fmt="o",
                    color=colour,
                    markerfacecolor="white" if zero else colour,
                    capsize=3,
                    label=label,
                )
    labels = [_hardness_label(name, hardness) for name in names]
    for axis in (left, right):
        axis.set_xticks(range(len(names)), labels, rotation=30, ha="right", fontsize=8)
        axis.grid(axis="y", alpha=0.3)
    left.set_ylim(-0.03, 1.03)
    left.set_ylabel("share of seeds with zero regret")
    left.set_title("Zero-regret share, Wilson 95 % intervals")
    left.legend(fontsize=8)
    right.set_yscale("log")
    right.set_ylabel("mean regret V*(s0) - V^pi(s0)")
    right.set_title(
        f"Mean regret, log scale (hollow: exactly 0, drawn at {_REGRET_FLOOR:g})"
    )
    figure.suptitle("Where the learners differ: the configurations near the crossover")
    return save_figure(figure, path)


def plot_curves(
    summaries: Sequence[AgentSummary],
    hardness: Sequence[ConfigurationHardness],
    path: str | Path,
) -> Path | None:
    """Sample-complexity and cumulative-regret curves, one column per configuration.

    Top row: the share of seeds whose greedy policy has zero regret against
    training episodes, with its Wilson 95 % band. Bottom row: the exact
    expected cumulative regret of the behaviour policies, mean over seeds with
    its 95 % band (dark) and the 10th to 90th percentile of seeds (light).
    Both axes of the bottom row and the x axes of the top row are logarithmic.
    Only agents that trace their training are drawn.

    Args:
        summaries: :func:`agents.benchmark.summarize` results, one per agent.
        hardness: :func:`agents.benchmark.summary.hardness_table` of the suite.
        path: Where to write the PNG.

    Returns:
        The path, or None when no agent has curves (nothing is written).
    """
    traced = [s for s in summaries if any(c.curves for c in s.configurations)]
    if not traced:
        return None
    names = list(dict.fromkeys(c.name for s in traced for c in s.configurations))
    figure, axes = plt.subplots(
        2, len(names), figsize=(2.6 * len(names) + 1.0, 6.0), squeeze=False
    )
    by_hardness = {h.name: h.hardness for h in hardness}
    for column, name in enumerate(names):
        top, bottom = axes[0][column], axes[1][column]
        for index, summary in enumerate(traced):
            colour = _AGENT_COLOURS[index % len(_AGENT_COLOURS)]
            c = {c.name: c for c in summary.configurations}.get(name)
            curves = None if c is None else c.curves
            if curves is None:
                continue
            x = np.array(curves.episodes, dtype=float)
            keep = x > 0
            x = x[keep]

            def kept(
                values: tuple[float, ...], keep: NDArray[np.bool_] = keep
            ) -> NDArray[np.float64]:
                return np.compress(keep, np.asarray(values, dtype=np.float64))

            top.plot(x, kept(curves.optimal_share), color=colour, label=summary.agent)
            bottom.plot(x, kept(curves.cumulative_regret), color=colour)
            for axis, low, high, alpha in (
                (top, curves.optimal_low, curves.optimal_high, 0.25),
                (bottom, curves.cumulative_low, curves.cumulative_high, 0.35),
                (bottom, curves.cumulative_p10, curves.cumulative_p90, 0.12),
            ):
                axis.fill_between(
                    x, kept(low), kept(high), color=colour, alpha=alpha, linewidth=0
                )
        found = by_hardness.get(name)
        title = name
        if found is not None:
            title += (
                f"\nmin gap {found.smallest_gap:.2f}, "
                f"sum 1/gap {found.inverse_gap_sum:.2f}, "
                + (
                    "D not computed"
                    if found.diameter is None
                    else f"D {found.diameter:.2f}"
                )
            )
        top.set_title(title, fontsize=8)
        top.set_xscale("log")
        top.set_ylim(-0.03, 1.03)
        bottom.set_xscale("log")
        bottom.set_yscale("log")
        bottom.set_xlabel("training episodes", fontsize=8)
        for axis in (top, bottom):
            axis.grid(alpha=0.3)
            axis.tick_params(labelsize=7)
    axes[0][0].set_ylabel("share of seeds optimal")
    axes[1][0].set_ylabel("cumulative regret")
    axes[0][0].legend(fontsize=7)
    figure.suptitle(
        "Sample complexity (greedy policy optimal, Wilson 95 %) and exact expected "
        "cumulative regret (mean, 95 % and 10-90 % of seeds)"
    )
    return save_figure(figure, path)
