"""Finding an agent factory by name: built-in, SB3, or a user's ``module:callable``.

The SB3 agents are glue to an optional library, above the benchmark
(:mod:`agents.integrations.sb3`), so they are named here by reference, as
``"module:callable"``, and imported through :func:`load_factory` like a
user's agent: the benchmark never imports them, and a worker process given
the name ``sb3:PPO`` finds the same factory.
"""

from __future__ import annotations

import importlib

from agents.benchmark.factories import BUILT_IN, AgentFactory

SB3_AGENTS = {
    "PPO": "agents.integrations.sb3:sb3_ppo",
    "MaskablePPO": "agents.integrations.sb3:sb3_maskable_ppo",
    "A2C": "agents.integrations.sb3:sb3_a2c",
    "DQN": "agents.integrations.sb3:sb3_dqn",
}
"""The factory of each ``sb3:ALGORITHM`` agent (the ``sb3`` extra), by reference;
``sb3:ALGORITHM:stochastic`` is its ``_stochastic`` twin, scored by the model's
own action distribution instead of its greedy action."""


def load_factory(spec: str) -> AgentFactory:
    """Import an agent factory named ``"package.module:callable"``.

    The module is imported from ``sys.path``; the benchmark job puts the
    current folder there, as ``python -m`` would.

    Raises:
        ValueError: If ``spec`` is not of that form.
        ImportError: If the module cannot be imported, or importing it raised
            anything (``SystemExit`` from a module that parses the command
            line included; ``KeyboardInterrupt`` propagates).
        AttributeError: If the module has no such attribute.
        TypeError: If the attribute is not callable.
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute or ":" in attribute:
        raise ValueError(
            f"agent spec {spec!r} must look like 'package.module:callable'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ImportError(
            f"cannot import module {module_name!r} of agent spec {spec!r}: {error}"
        ) from error
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # the agent module's own code failed
        what = (
            f"it exited with status {error.code!r} (agent code must not call "
            "sys.exit or parse the command line)"
            if isinstance(error, SystemExit)
            else f"{type(error).__name__}: {error}"
        )
        raise ImportError(
            f"cannot import module {module_name!r} of agent spec {spec!r}: {what}"
        ) from error
    try:
        factory = getattr(module, attribute)
    except AttributeError:
        raise AttributeError(
            f"module {module_name!r} has no attribute {attribute!r} "
            f"(agent spec {spec!r})"
        ) from None
    if not callable(factory):
        raise TypeError(
            f"{spec!r} is a {type(factory).__name__}, not a callable factory(env, seed)"
        )
    return factory  # type: ignore[no-any-return]


def resolve_agent(name: str) -> AgentFactory:
    """A built-in agent, ``sb3:ALGORITHM[:stochastic]`` (the sb3 extra), or a spec.

    A spec is ``module:callable``.

    Raises:
        ValueError, ImportError, AttributeError, TypeError: As
            :func:`load_factory`, or for an unknown SB3 algorithm (ImportError
            without the ``sb3`` extra).
    """
    if name in BUILT_IN:
        return BUILT_IN[name]
    if name.startswith("sb3:"):
        algorithm, _, mode = name.removeprefix("sb3:").partition(":")
        if algorithm not in SB3_AGENTS:
            raise ValueError(
                f"unknown algorithm {algorithm!r}; choose from {', '.join(SB3_AGENTS)}"
            )
        if mode not in ("", "stochastic"):
            raise ValueError(
                f"unknown scoring mode {mode!r} in {name!r}: sb3:{algorithm} is "
                f"scored greedily, sb3:{algorithm}:stochastic by its action "
                "distribution"
            )
        return load_factory(SB3_AGENTS[algorithm] + ("_" + mode if mode else ""))
    if ":" not in name:
        raise ValueError(
            f"unknown agent {name!r}: built-in agents are {', '.join(BUILT_IN)}; "
            "SB3 agents look like sb3:PPO (the sb3 extra); your own agent spec "
            "must look like 'package.module:callable'"
        )
    return load_factory(name)
