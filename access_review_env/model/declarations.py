"""Each task declared once: its keyword arguments and the model they build.

A :class:`TaskDeclaration` is the one place a task's keywords live. The model
classes, the envs, the vector envs and the registration all read them from
here, and the envs' manuals get their ``## Arguments`` section from them, so
no keyword list is written twice.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from access_review_env.model.task_model import OBSERVATION_MODES, TaskModel
from access_review_env.tasks.format import Parameter

MODEL_PARAMETERS = (
    Parameter(
        "rewards",
        "outcome_aware",
        "spec",
        'reward specification: a preset name ("outcome_aware" is the default) '
        "or a mapping overriding single rewards by name",
    ),
    Parameter(
        "invalid_action",
        "penalize",
        "choice",
        '"penalize": an invalid action leaves the request where it is and pays '
        'invalid_action_reward; "raise": step raises InvalidActionError',
        choices=("penalize", "raise"),
    ),
    Parameter(
        "invalid_action_reward",
        -10.0,
        "real",
        'the reward of a penalized invalid action under "penalize"',
    ),
)
"""Keywords every task's model takes."""

ENV_PARAMETERS = (
    Parameter(
        "exploring_starts",
        False,
        "flag",
        "start every episode in a uniformly random non-terminal state",
    ),
    Parameter(
        "observation",
        "index",
        "choice",
        '"index": the state\'s index (Discrete, for tabular agents); '
        '"features": a Box of features in [0, 1] (for function approximation)',
        choices=OBSERVATION_MODES,
    ),
    Parameter(
        "render_mode",
        None,
        "choice",
        '"ansi" returns text, "human" prints it, "rgb_array" returns an image '
        "(64 pixels high) for video recorders",
        choices=(None, "ansi", "human", "rgb_array"),
    ),
)
"""Keywords every single env takes besides its task's."""


@dataclass(frozen=True)
class TaskDeclaration:
    """A task's keywords and how they build its model.

    Attributes:
        env_id: The registered id.
        parameters: The model's keywords, task-specific ones first, then
            :data:`MODEL_PARAMETERS`.
        build: Builds the model from every keyword's checked value.
        max_episode_steps: The registered time limit.
        reward_threshold: The registered reward threshold, or None.
    """

    env_id: str
    parameters: tuple[Parameter, ...]
    build: Callable[..., TaskModel]
    max_episode_steps: int
    reward_threshold: float | None = None

    def model(self, **arguments: Any) -> TaskModel:
        """The model for ``arguments`` (defaults for the rest).

        Raises:
            TypeError: For an unknown keyword, naming the allowed ones.
            TypeError, ValueError: For a value its declaration refuses.
        """
        return self.build(**bind(self.env_id, self.parameters, arguments))


def bind(
    owner: str, parameters: Sequence[Parameter], arguments: Mapping[str, Any]
) -> dict[str, Any]:
    """Every declared keyword's checked value: given, else its default.

    Raises:
        TypeError: For a keyword not declared (in Python's wording, "got an
            unexpected keyword argument 'name'"), naming the allowed ones.
        TypeError, ValueError: For a value its declaration refuses.
    """
    names = [parameter.name for parameter in parameters]
    unknown = sorted(repr(str(name)) for name in arguments if name not in names)
    if unknown:
        # Python's own wording, which callers such as TorchRL's GymEnv match
        # to retry without a keyword the env does not take.
        got = (
            f"an unexpected keyword argument {unknown[0]}"
            if len(unknown) == 1
            else f"unexpected keyword arguments {', '.join(unknown)}"
        )
        raise TypeError(f"{owner} got {got}; allowed: {', '.join(names)}")
    return {
        parameter.name: parameter.check(
            arguments.get(parameter.name, parameter.default)
        )
        for parameter in parameters
    }


def split(
    arguments: Mapping[str, Any], *groups: Sequence[Parameter]
) -> list[dict[str, Any]]:
    """``arguments`` divided among ``groups``; unknown keywords go to the first."""
    names = [{parameter.name for parameter in group} for group in groups]
    parts: list[dict[str, Any]] = [{} for _ in groups]
    for key, value in arguments.items():
        index = next((i for i, group in enumerate(names) if key in group), 0)
        parts[index][key] = value
    return parts


def signature(
    *groups: Sequence[Parameter], leading: Sequence[inspect.Parameter] = ()
) -> inspect.Signature:
    """A keyword-only signature of the declared parameters, for ``help()``."""
    return inspect.Signature(
        [
            *leading,
            *(
                inspect.Parameter(
                    parameter.name,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=parameter.default,
                )
                for group in groups
                for parameter in group
            ),
        ]
    )


def arguments_section(
    call: str, *groups: Sequence[Parameter], leading: Sequence[str] = ()
) -> str:
    """The manual's ``## Arguments`` text: a ``gym.make`` call and one line each.

    Args:
        call: The first lines of the call, up to the env id.
        groups: The parameters, in order.
        leading: Lines of the call before the keywords (such as ``num_envs``).
    """
    parameters = [parameter for group in groups for parameter in group]
    lines = ["```python", call, *leading]
    lines += [f"    {p.name}={p.default!r}," for p in parameters]
    lines += [")", "```", ""]
    lines += [f"* `{p.name}={p.default!r}`: {p.doc}." for p in parameters]
    return "\n".join(lines) + "\n"
