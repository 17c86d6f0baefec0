"""The figure functions return figures pyplot does not track; plot_* write them."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from access_review_env import ENV_ID, QUEUE_ENV_ID, RISK_ENV_ID, AccessReviewMDP
from agents.benchmark import SUITE, AgentSummary, random_agent, run_suite, summarize
from agents.planning import value_iteration
from tests.helpers import png_size

pytest.importorskip("matplotlib")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from access_review_env.tasks.access_review_queue import (
    ACTION_RULES,
    EVENT_RULES,
    STAGES,
)
from agents.integrations import plotting
from agents.integrations.task_diagram import draw_task, queue_figure, task_figure

NAMES = ["auto_approve", "request_evidence", "human_review"]
P_SWEEP = np.linspace(0, 0.5, 11)
Q_SWEEP = np.stack([np.full(11, -120.0), 59 - 113 * P_SWEEP, np.full(11, 54.0)], 1)


def summaries() -> list[AgentSummary]:
    """The random agent's benchmark summary, two seeds on one configuration."""
    records = run_suite(random_agent, "random", SUITE[:1], range(2), n_episodes=10)
    return [summarize(records, np.random.default_rng(0))]


def figures() -> dict[str, tuple[Figure, int]]:
    """Each figure function's figure and its number of axes."""
    history = value_iteration(AccessReviewMDP(abandonment_prob=0.0).arrays).history
    return {
        "value_iteration": (
            plotting.value_iteration_figure({"p = 0": history, "p = 0.0": history}),
            2,
        ),
        "q_learning": (
            plotting.q_learning_figure(
                [0, 1], np.zeros((2, 3)), np.zeros(3), [0.0] * 200, NAMES
            ),
            2,
        ),
        "reinforce": (
            plotting.reinforce_figure([0, 1], np.full((2, 3), 1 / 3), NAMES),
            1,
        ),
        "abandonment": (
            plotting.abandonment_figure(P_SWEEP, Q_SWEEP, 5 / 113, NAMES),
            1,
        ),
        "benchmark": (plotting.benchmark_figure(summaries()), 3),
    }


def test_figure_functions_return_untracked_figures_of_the_stated_size(
    tmp_path: Path,
) -> None:
    """A notebook shows each once: pyplot holds none of them, and none needs closing."""
    open_before = plt.get_fignums()
    for name, (figure, n_axes) in figures().items():
        assert isinstance(figure, Figure), name
        assert len(figure.axes) == n_axes, name
        path = plotting.save_figure(figure, tmp_path / f"{name}.png")
        assert png_size(path) == (800, 450), name
    assert plt.get_fignums() == open_before


def test_plot_functions_write_what_the_figure_functions_draw(tmp_path: Path) -> None:
    """plot_abandonment_sweep's PNG is abandonment_figure's, byte for byte."""
    figure = plotting.abandonment_figure(P_SWEEP, Q_SWEEP, 5 / 113, NAMES)
    drawn = plotting.save_figure(figure, tmp_path / "figure.png")
    written = plotting.plot_abandonment_sweep(
        P_SWEEP, Q_SWEEP, 5 / 113, tmp_path / "plot.png", NAMES
    )
    assert drawn.read_bytes() == written.read_bytes()


def test_frames_figure_shows_each_rendered_frame_with_its_caption() -> None:
    """One axis per frame, top to bottom, holding that frame's pixels."""
    env = gym.make(ENV_ID, render_mode="rgb_array")
    env.reset(seed=0)
    frames = [env.render()]
    for action in (2, 3):
        env.step(action)
        frames.append(env.render())
    titles = ["reset", "human_review", "approve_rotation"]
    open_before = plt.get_fignums()
    figure = plotting.frames_figure(frames, titles)  # type: ignore[arg-type]
    assert plt.get_fignums() == open_before
    assert [axis.get_title(loc="left") for axis in figure.axes] == titles
    for axis, frame in zip(figure.axes, frames, strict=True):
        np.testing.assert_array_equal(axis.images[0].get_array(), frame)
    with pytest.raises(ValueError, match="got 1 titles for 3 frames"):
        plotting.frames_figure(frames, ["reset"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one frame"):
        plotting.frames_figure([])


@pytest.mark.parametrize("env_id", [ENV_ID, RISK_ENV_ID])
def test_task_figure_names_every_state_and_draw_task_writes_it(
    env_id: str, tmp_path: Path
) -> None:
    """The task's picture names each of its states; draw_task writes it 1600 wide."""
    mdp = gym.make(env_id).unwrapped.mdp  # type: ignore[attr-defined]
    open_before = plt.get_fignums()
    figure = task_figure(mdp)
    texts = " ".join(text.get_text() for text in figure.axes[0].texts)
    for state in mdp.table.non_terminal_states:
        assert mdp.table.state_names[state] in texts
    assert plt.get_fignums() == open_before
    path = draw_task(mdp, tmp_path / "task.png")
    assert png_size(path)[0] == 1600


def test_the_queue_is_drawn_from_its_rules(tmp_path: Path) -> None:
    """The queue's picture names every stage, every action and every event."""
    mdp = gym.make(QUEUE_ENV_ID, level="tiny").unwrapped.mdp  # type: ignore[attr-defined]
    figure = queue_figure(mdp)
    texts = " ".join(text.get_text() for text in figure.axes[0].texts)
    for stage in STAGES:
        assert stage in texts
    for rule in ACTION_RULES:
        assert rule.action.name.lower() in texts
    for event in EVENT_RULES:
        assert event.name in texts
    assert "90 states" in figure.axes[0].get_title()
    path = draw_task(mdp, tmp_path / "queue.png")
    assert png_size(path)[0] == 1900
