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
from agents.benchmark.summary import AgentSummary
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
