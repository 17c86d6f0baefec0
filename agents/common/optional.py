"""Optional dependencies: whether one is installed, and which extra brings it."""

from __future__ import annotations

import importlib

EXTRAS = {
    "matplotlib": "plots",
    "numba": "fast",
    "tqdm": "progress",
    "stable_baselines3": "sb3",
    "sb3_contrib": "sb3",
    "pyarrow": "offline",
    "minari": "minari",
    "ray": "ray",
}
"""The extra of ``access-review-env`` that installs each optional module."""


def available(module: str) -> bool:
    """Whether ``module`` can be imported (it is imported to find out)."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def install_hint(module: str) -> str:
    """How to install ``module``: ``pip install 'access-review-env[extra]'``."""
    return f"pip install 'access-review-env[{EXTRAS[module]}]'"
