"""Every lab of the lesson "Reinforcement Learning Basics", rerun on the package.

One function per lab. Each computes its figures through the package's public
API (the env, its table, the agents), prints them beside the lesson's and
returns them. Sampled figures (Monte Carlo, Q-learning, exploration) depend on
the seed: they are printed with the exact expectation, not matched to the
lesson's last digit.

    access-review lesson                 # all thirteen labs
    access-review lesson --lab q_learning --seed 3 --episodes 5000
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

import access_review_env
from access_review_env import (
    ACTIONS,
    ENV_ID,
    RISK_ENV_ID,
    STATES,
    AccessReviewMDP,
    Action,
    CostCounter,
    SafetyShield,
    State,
)
from access_review_env.tasks.access_review_risk import RiskAction, RiskState
from agents.evaluation import discounted_return, evaluate
from agents.jobs import arguments
from agents.learners import (
    epsilon_greedy_bandit,
    policy_gradient_step,
    train_q_learning,
)
from agents.offline import time_ordered_lab
from agents.offline.lab import DEFAULT_DRIFT
from agents.planning import bellman_backup, policy_evaluation, value_iteration
from agents.policies import masked_softmax

NEW = State.NEW_REQUEST
AUTO, REQUEST, HUMAN = (
    Action.AUTO_APPROVE,
    Action.REQUEST_EVIDENCE,
    Action.HUMAN_REVIEW,
)
DENY = RiskAction.DENY_REQUEST
START_ACTIONS = (AUTO, REQUEST, HUMAN)
"""The valid first actions: the lesson compares their routes."""
CONTINUE: dict[int, int] = {
    State.EVIDENCE_READY: AUTO,
    State.REVIEW_QUEUE: Action.APPROVE_ROTATION,
}
"""After the first action, every route finishes the best way it can."""


@dataclass
class Config:
    """Seeds and budgets of the sampled labs."""

    seed: int = 7
    routes: int = 10_000
    episodes: int = 20_000
    pulls: int = 400
    requests_per_month: int = 20_000


def show(title: str, header: list[str], rows: list[list[Any]]) -> None:
    """Print one lab as a small aligned table."""
    cells = [header] + [
        [f"{c:.3f}" if isinstance(c, float) else str(c) for c in r] for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n## {title}")
    for index, row in enumerate(cells):
        print(
            "  ".join(
                cell.rjust(width) for cell, width in zip(row, widths, strict=True)
            )
        )
        if index == 0:
            print("  ".join("-" * width for width in widths))


def route(first: int) -> Callable[[int], int]:
    """The policy that starts with ``first`` and then finishes the request."""
    return lambda state: first if state == NEW else CONTINUE.get(state, AUTO)


def lab_discounted_returns(config: Config) -> dict[str, float]:
    """Routes rolled out in the env without abandonment, then discounted at 0.9."""
    env = gym.make(ENV_ID, abandonment_prob=0.0)
    gamma = env.unwrapped.mdp.gamma  # type: ignore[attr-defined]
    result = {}
    for first in START_ACTIONS:
        state, _ = env.reset(seed=config.seed)
        rewards, done = [], False
        while not done:
            state, reward, terminated, truncated, _ = env.step(route(first)(state))
            rewards.append(float(reward))
            done = terminated or truncated
        result[ACTIONS[first]] = discounted_return(rewards, gamma)
    lesson = {"auto_approve": -120.0, "request_evidence": 59.0, "human_review": 54.0}
    show(
        "Discounted returns of the three routes (p = 0)",
        ["route", "return", "lesson"],
        [[name, value, lesson[name]] for name, value in result.items()],
    )
    return result


def lab_bellman_backup(config: Config) -> dict[str, Any]:
    """One backup at new_request from the successors' values (p = 0)."""
    arrays = AccessReviewMDP(abandonment_prob=0.0).workflow_arrays
    successors = value_iteration(arrays).V
    q = bellman_backup(arrays, successors)[NEW]
    greedy = ACTIONS[int(np.argmax(q))]
    show(
        "One Bellman backup at new_request (p = 0)",
        ["action", "Q", "lesson"],
        [
            [ACTIONS[a], float(q[a]), lesson]
            for a, lesson in zip(START_ACTIONS, (-120.0, 59.0, 54.0), strict=True)
        ]
        + [["greedy", greedy, "request_evidence"]],
    )
    return {"q": [float(q[a]) for a in START_ACTIONS], "greedy": greedy}


def lab_value_iteration(config: Config) -> dict[str, Any]:
    """Synchronous sweeps from V = 0 (p = 0), and the greedy policy."""
    result = value_iteration(AccessReviewMDP(abandonment_prob=0.0).workflow_arrays)
    live = list(access_review_env.NON_TERMINAL_STATES)
    rows = [
        [f"sweep {i + 1}", *(float(v) for v in result.history[i][live])]
        for i in range(result.n_sweeps)
    ]
    show("Value iteration (p = 0)", ["", *(STATES[s] for s in live)], rows)
    policy = {STATES[s]: ACTIONS[int(result.policy[s])] for s in live}
    print(f"policy = {policy}")
    registered = value_iteration(gym.make(ENV_ID, abandonment_prob=0.0))
    print(
        "These sweeps plan the lesson's workflow (mdp.workflow_arrays: valid "
        f"actions only, {result.horizon_text}). value_iteration(gym.make(...)) "
        "plans the env as registered (invalid actions as penalized stalls, "
        f"{registered.horizon_text}): the same V* here, "
        f"{registered.V[live].tolist()}."
    )
    return {
        "history": result.history[:, live].tolist(),
        "policy": policy,
        "registered_V": registered.V[live].tolist(),
    }


def lab_stochastic_backup(config: Config) -> dict[str, Any]:
    """The same backup once a quarter of evidence requests are abandoned."""
    arrays = AccessReviewMDP(abandonment_prob=0.25).workflow_arrays
    q = bellman_backup(arrays, value_iteration(arrays).V)[NEW]
    choice = ACTIONS[HUMAN if q[HUMAN] > q[REQUEST] else REQUEST]
    show(
        "Stochastic backup (p = 0.25)",
        ["action", "expected return", "lesson"],
        [
            ["request_evidence", float(q[REQUEST]), 30.75],
            ["human_review", float(q[HUMAN]), 54.0],
            ["choice", choice, "human_review"],
        ],
    )
    return {
        "request_evidence": float(q[REQUEST]),
        "human_review": float(q[HUMAN]),
        "choice": choice,
    }


def lab_monte_carlo(config: Config) -> dict[str, float]:
    """Simulated request_evidence routes in the env (p = 0.25)."""
    env = gym.make(ENV_ID)
    result = evaluate(env, route(REQUEST), n_episodes=config.routes, seed=config.seed)
    exact = float(value_iteration(env).Q[NEW, REQUEST])
    abandoned = result.outcomes.get("abandoned", 0)
    show(
        f"Monte Carlo, {config.routes:,} request_evidence routes (p = 0.25)",
        ["figure", "simulated", "exact", "lesson (seed 7)"],
        [
            ["mean return", result.mean_discounted_return, exact, 30.33],
            ["standard error", result.discounted_return_se, 0.0, "-"],
            ["abandoned routes", abandoned, 0.25 * config.routes, 2537],
        ],
    )
    return {
        "mean": result.mean_discounted_return,
        "se": result.discounted_return_se,
        "abandoned": abandoned,
        "exact": exact,
    }


def lab_q_learning(config: Config) -> dict[str, Any]:
    """Q-learning through reset/step, epsilon 0.15, step size visits ** -0.6."""
    env = gym.make(ENV_ID)
    agent = train_q_learning(
        env, config.episodes, rng=np.random.default_rng(config.seed)
    )
    exact = value_iteration(env).Q[NEW]
    start_action = ACTIONS[int(agent.greedy_actions[NEW])]
    show(
        f"Q-learning, {config.episodes:,} episodes (p = 0.25)",
        ["action", "learned Q", "exact Q*", "lesson (seed 13)"],
        [
            [ACTIONS[a], float(agent.q_table[NEW, a]), float(exact[a]), lesson]
            for a, lesson in zip(START_ACTIONS, (-120.0, 30.5, 54.0), strict=True)
        ]
        + [["learned start action", start_action, "human_review", "human_review"]],
    )
    return {
        "q": [float(agent.q_table[NEW, a]) for a in START_ACTIONS],
        "start_action": start_action,
    }


def lab_exploration(config: Config) -> dict[float, dict[str, Any]]:
    """One-state epsilon-greedy over the exact first-action values (p = 0.25)."""
    values = value_iteration(gym.make(ENV_ID)).Q[NEW, list(START_ACTIONS)].tolist()
    rows, result = [], {}
    for epsilon in (0.0, 0.1):
        run = epsilon_greedy_bandit(
            values, config.pulls, epsilon, np.random.default_rng(config.seed)
        )
        selected = ACTIONS[START_ACTIONS[run.selected]]
        rows.append([epsilon, *run.visits, selected])
        result[epsilon] = {"visits": run.visits, "selected": selected}
    show(
        f"Exploration, {config.pulls} pulls of returns "
        + " / ".join(f"{v:g}" for v in values),
        ["epsilon", *(f"visits {ACTIONS[a]}" for a in START_ACTIONS), "selected"],
        rows,
    )
    print(
        "lesson: epsilon 0 locks onto request_evidence; "
        "epsilon 0.1 selects human_review"
    )
    return result


def lab_reward_specification(config: Config) -> dict[str, Any]:
    """Plan under the env's two reward presets."""
    rows, result = [], {}
    for preset, lesson in (
        ("speed_only", "auto_approve (100)"),
        ("outcome_aware", "human_review (54)"),
    ):
        plan = value_iteration(AccessReviewMDP(rewards=preset).workflow_arrays)
        choice = ACTIONS[int(plan.policy[NEW])]
        rows.append([preset, choice, float(plan.V[NEW]), lesson])
        result[preset] = {"choice": choice, "value": float(plan.V[NEW])}
    show(
        "Reward specification",
        ["rewards", "optimal first action", "value", "lesson"],
        rows,
    )
    return result


def lab_reinforce_update(config: Config) -> dict[str, list[float]]:
    """One policy-gradient step from equal probabilities, mean baseline, step 0.03."""
    returns = value_iteration(gym.make(ENV_ID)).Q[NEW, list(START_ACTIONS)]
    n_routes = len(START_ACTIONS)
    logits = np.zeros(n_routes)
    before = masked_softmax(logits, np.ones(n_routes))
    after = masked_softmax(
        policy_gradient_step(logits, np.arange(n_routes), returns, 0.03),
        np.ones(n_routes),
    )
    show(
        f"One REINFORCE update, returns {' / '.join(f'{r:g}' for r in returns)}",
        ["action", "before", "after", "lesson"],
        [
            [ACTIONS[action], float(before[i]), float(after[i]), lesson]
            for i, (action, lesson) in enumerate(
                zip(START_ACTIONS, (0.089, 0.403, 0.508), strict=True)
            )
        ],
    )
    return {"before": before.tolist(), "after": after.tolist()}


R = RiskState
RISK_POLICIES: dict[str, list[int]] = {
    # Action per state: new_required_review, new_clear_evidence, evidence_ready,
    # review_found_justified, review_found_unjustified, closed.
    "always_auto": [AUTO, AUTO, AUTO, RiskAction.APPROVE_ROTATION, DENY, AUTO],
    "always_review": [HUMAN, HUMAN, AUTO, RiskAction.APPROVE_ROTATION, DENY, AUTO],
    "risk_aware": [HUMAN, AUTO, AUTO, RiskAction.APPROVE_ROTATION, DENY, AUTO],
}
"""The held-out lab's policies on AccessReviewRisk-v0; after the first action
each finishes the request the best way it can."""


def lab_held_out_evaluation(config: Config) -> dict[str, dict[str, float]]:
    """Three policies on AccessReviewRisk-v0's two request kinds (u = 0).

    Exact values from the start distribution (half required_review, half
    clear_evidence), and the lesson's held-out sample: two sampled episodes of
    each kind (the kind fixed by ``clear_evidence_share`` 0 or 1).
    """
    held_out: dict[str, Any] = {"unjustified_share": 0.0}
    env = gym.make(RISK_ENV_ID, **held_out)
    optimum = value_iteration(env)
    start = env.unwrapped.mdp.start_distribution  # type: ignore[attr-defined]
    lesson = {
        "always_auto": (-25.0, 2),
        "always_review": (54.0, 0),
        "risk_aware": (62.0, 0),
    }
    rows, result = [], {}
    for name, table in RISK_POLICIES.items():
        exact = float(start @ policy_evaluation(env, np.array(table)).V)
        samples = [
            evaluate(
                gym.make(RISK_ENV_ID, **held_out, clear_evidence_share=share),
                table,
                n_episodes=2,
                seed=config.seed,
            )
            for share in (0.0, 1.0)
        ]
        returns = np.concatenate([sample.discounted_returns for sample in samples])
        severe = int(sum(sample.violations for sample in samples))
        rows.append([name, exact, float(returns.mean()), severe, *lesson[name]])
        result[name] = {
            "exact": exact,
            "mean": float(returns.mean()),
            "severe_errors": severe,
        }
    show(
        "Held-out evaluation on AccessReviewRisk-v0 (unjustified_share = 0): "
        "2 required_review + 2 clear_evidence requests",
        [
            "policy",
            "exact value",
            "held-out mean",
            "severe errors",
            "lesson mean",
            "lesson severe",
        ],
        rows,
    )
    optimal = [int(a) for a in optimum.policy[: len(R) - 1]]
    is_risk_aware = optimal == RISK_POLICIES["risk_aware"][: len(R) - 1]
    print(
        f"value iteration's optimal policy is risk_aware: {is_risk_aware} "
        f"({optimum.horizon_text})"
    )
    result["optimal_is_risk_aware"] = {"value": float(is_risk_aware)}
    return result


def lab_safety_constraint(config: Config) -> dict[str, dict[str, float]]:
    """Q-learning with and without the SafetyShield, on both tasks.

    The lesson's point: judge a constrained policy by its return and by the
    unsafe attempts it makes and the shield stops, not by the mean alone.
    Violations are counted while learning (``CostCounter``); with the shield's
    mask a mask-aware learner never tries an unsafe action, while with the
    env's own mask the shield must intercept its exploration.
    """
    setups: dict[str, dict[str, Any] | None] = {
        "none": None,
        "block": {"mode": "block"},
        "block, env's mask": {"mode": "block", "shield_mask": False},
        "reroute, env's mask": {"mode": "reroute", "shield_mask": False},
    }
    rows, result = [], {}
    for env_id in (ENV_ID, RISK_ENV_ID):
        for label, shield_kwargs in setups.items():
            counter = CostCounter(gym.make(env_id))
            env: gym.Env[Any, Any] = counter
            if shield_kwargs is not None:
                env = SafetyShield(counter, **shield_kwargs)
            agent = train_q_learning(
                env, config.episodes, rng=np.random.default_rng(config.seed)
            )
            violations = int(counter.total_cost)
            attempts = env.total_attempts if isinstance(env, SafetyShield) else 0
            score = evaluate(env, agent, n_episodes=1_000, seed=config.seed)
            rows.append(
                [
                    env_id,
                    label,
                    score.mean_discounted_return,
                    violations,
                    attempts,
                ]
            )
            result[f"{env_id} / {label}"] = {
                "mean_return": score.mean_discounted_return,
                "violations_in_training": float(violations),
                "intercepted_attempts": float(attempts),
            }
    show(
        f"Safety constraint: Q-learning, {config.episodes:,} episodes per row",
        [
            "task",
            "shield",
            "mean return (learned)",
            "violations in training",
            "intercepted attempts",
        ],
        rows,
    )
    print(
        "lesson: compare the return with the unsafe attempts, not the mean "
        "alone. The shield keeps every violation out of the workflow at no cost "
        "to the learned return; rerouting teaches a learner that an unsafe "
        "action is as good as the safe one it becomes, so it keeps trying it."
    )
    return result


def lab_abandonment_threshold(config: Config) -> dict[str, float]:
    """Where human_review overtakes request_evidence, by a sweep and by bisection."""

    def advantage(p: float) -> float:
        q = value_iteration(AccessReviewMDP(abandonment_prob=p).workflow_arrays).Q[NEW]
        return float(q[HUMAN] - q[REQUEST])

    sweep = np.linspace(0.0, 0.2, 201)
    first_above = float(sweep[np.argmax([advantage(p) > 0 for p in sweep])])
    low, high = 0.0, 1.0
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (low, middle) if advantage(middle) > 0 else (middle, high)
    slope = (
        value_iteration(AccessReviewMDP(abandonment_prob=1.0).workflow_arrays).Q[
            NEW, REQUEST
        ]
        - 59.0
    )
    show(
        "Abandonment threshold",
        ["figure", "package", "lesson"],
        [
            [
                "first p of the sweep where human_review wins",
                first_above,
                "just above 5/113",
            ],
            ["bisection", high, 5 / 113],
            ["request_evidence value at p = 1 minus at p = 0", float(slope), -113.0],
        ],
    )
    return {"sweep": first_above, "bisection": high}


def lab_time_ordered_held_out(config: Config) -> dict[str, Any]:
    """Practice task 4: a time-ordered held-out sample when the world drifts.

    A uniform router logs a year of AccessReview-v0 requests (in memory, so no
    extra is needed) while abandonment rises from 0 to 0.06 and crosses 5/113
    in October. A plan fitted on months 1-8 is scored on the held-out sample
    by doubly robust off-policy evaluation, beside its exact value on the last
    two months: a time-ordered split against a random one.
    """
    lab = time_ordered_lab(
        seed=config.seed, requests_per_month=config.requests_per_month
    )
    header, rows = lab.table()
    show(
        f"Time-ordered held-out sample: {lab.n_episodes:,} complete requests, "
        f"{lab.parameter} {lab.drift[0]:g} -> {lab.drift[-1]:g}",
        header,
        rows,
    )
    print(
        "lesson: evaluate on future data. The random split's held-out estimate "
        "agrees with what training promised and hides the drift (and it leaks "
        "the future); the time-ordered split exposes it before deployment. "
        "Refused as features at decision time: "
        + ", ".join(sorted(lab.rejected_features))
    )
    return {
        result.kind: {
            "promised": result.predicted,
            "held_out": result.held_out.value,
            "held_out_se": result.held_out.se,
            "exact_future": result.future,
            "leaks": result.leakage is not None,
        }
        for result in (lab.time, lab.random)
    } | {
        "rejected_features": sorted(lab.rejected_features),
        "optimal_first": [lab.monthly_optimal_first[0], lab.monthly_optimal_first[-1]],
    }


LABS: dict[str, Callable[[Config], Any]] = {
    "discounted_returns": lab_discounted_returns,
    "bellman_backup": lab_bellman_backup,
    "value_iteration": lab_value_iteration,
    "stochastic_backup": lab_stochastic_backup,
    "monte_carlo": lab_monte_carlo,
    "q_learning": lab_q_learning,
    "exploration": lab_exploration,
    "reward_specification": lab_reward_specification,
    "reinforce_update": lab_reinforce_update,
    "held_out_evaluation": lab_held_out_evaluation,
    "abandonment_threshold": lab_abandonment_threshold,
    "safety_constraint": lab_safety_constraint,
    "time_ordered_held_out": lab_time_ordered_held_out,
}


BYTES_PER_REQUEST = 640
"""Peak memory per logged request of the time-ordered lab: tracemalloc's peak
grew by 433 MiB from 20,000 to 80,000 requests a month (720,000 requests)."""


def build_parser() -> argparse.ArgumentParser:
    """The command line of the lesson's labs."""
    parser = arguments.job_parser(__doc__)
    parser.add_argument(
        "--lab", choices=list(LABS), action="append", help="repeatable; default: all"
    )
    parser.add_argument(
        "--seed", type=arguments.seed, default=Config.seed, help="sampled labs' seed"
    )
    parser.add_argument(
        "--routes",
        type=arguments.positive_int,
        default=Config.routes,
        help="Monte Carlo routes",
    )
    parser.add_argument(
        "--episodes",
        type=arguments.positive_int,
        default=Config.episodes,
        help="Q-learning episodes",
    )
    parser.add_argument(
        "--pulls",
        type=arguments.positive_int,
        default=Config.pulls,
        help="exploration pulls",
    )
    parser.add_argument(
        "--requests-per-month",
        type=arguments.positive_int,
        default=Config.requests_per_month,
        help="logged requests per month (time-ordered lab)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the labs named on the command line (all by default)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    config = Config(
        args.seed, args.routes, args.episodes, args.pulls, args.requests_per_month
    )
    if "time_ordered_held_out" in (args.lab or LABS):
        n_requests = len(DEFAULT_DRIFT) * config.requests_per_month
        arguments.refuse_if_too_large(
            parser,
            f"--requests-per-month {config.requests_per_month:,} ({n_requests:,} "
            f"requests, about {BYTES_PER_REQUEST} bytes each)",
            n_requests * BYTES_PER_REQUEST,
        )
    print(f"access-review-env {access_review_env.__version__}: the lesson's labs")
    for name in args.lab or LABS:
        LABS[name](config)
    return 0
