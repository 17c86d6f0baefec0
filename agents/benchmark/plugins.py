"""Finding an agent factory by name: built-in, SB3, or a user's ``module:callable``."""

from __future__ import annotations

import importlib

from agents.benchmark.factories import BUILT_IN, AgentFactory


def load_factory(spec: str) -> AgentFactory:
    """Import an agent factory named ``"package.module:callable"``.

    The module is imported from ``sys.path``; the benchmark job puts the
    current folder there, as ``python -m`` would.

    Raises:
        ValueError: If ``spec`` is not of that form.
        ImportError: If the module cannot be imported.
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
    """A built-in agent, ``sb3:ALGORITHM`` (the ``sb3`` extra), or ``module:callable``.

    Raises:
        ValueError, ImportError, AttributeError, TypeError: As
            :func:`load_factory`, or for an unknown SB3 algorithm.
    """
    if name in BUILT_IN:
        return BUILT_IN[name]
    if name.startswith("sb3:"):
        from agents.integrations.sb3 import sb3_agent

        return sb3_agent(name.removeprefix("sb3:"))
    if ":" not in name:
        raise ValueError(
            f"unknown agent {name!r}: built-in agents are {', '.join(BUILT_IN)}; "
            "SB3 agents look like sb3:PPO (the sb3 extra); your own agent spec "
            "must look like 'package.module:callable'"
        )
    return load_factory(name)
