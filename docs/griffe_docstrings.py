"""A griffe extension: the docstrings as Python sees them, in Markdown.

mkdocs.yml loads it for mkdocstrings' Python handler, which reads source files
and renders docstrings as Markdown. Once a package is loaded, every docstring
in it is rewritten:

* a task's env and vector env classes name their task's declaration, and
  ``__init_subclass__`` writes the ``## Arguments`` section of their docstring
  from it at import time (the keywords are declared once). In the source that
  section is still empty, so every class that names a ``declaration`` in its
  own body gets the imported class's ``__doc__``;
* docstrings cross-reference with Sphinx roles (``:func:`value_iteration```),
  which Markdown would show as text: each becomes inline code of its target
  (after ``~``, the last name only), and a ``.. code-block::`` line gives way
  to the indented block that follows it.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Iterator
from typing import Any

import griffe

ROLE = re.compile(r":(?:attr|class|data|exc|func|meth|mod|obj):`(~?)([^`]+)`")
CODE_BLOCK = re.compile(r"^[ \t]*\.\. code-block::[^\n]*\n", re.M)


def markdown_roles(text: str) -> str:
    """``text`` with each Sphinx role as inline code and no code-block lines."""

    def code(match: re.Match[str]) -> str:
        shorten, target = match.groups()
        return f"`{target.rsplit('.', 1)[-1] if shorten else target}`"

    return ROLE.sub(code, CODE_BLOCK.sub("", text))


def runtime_docstring(cls: griffe.Class) -> str | None:
    """The imported class's ``__doc__`` if the class names a declaration."""
    if "declaration" not in cls.members:
        return None
    module = importlib.import_module(cls.module.path)
    doc = getattr(module, cls.name).__doc__
    return inspect.cleandoc(doc) if doc else None


def objects(obj: griffe.Object) -> Iterator[griffe.Object]:
    """``obj`` and every object defined in it, recursively (aliases left out)."""
    yield obj
    for member in obj.members.values():
        if isinstance(member, griffe.Object):
            yield from objects(member)


class MarkdownDocstrings(griffe.Extension):
    """Rewrite every docstring of a loaded package as described above."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Rewrite the docstrings of ``pkg`` and everything in it."""
        for obj in objects(pkg):
            if obj.docstring is None:
                continue
            if isinstance(obj, griffe.Class):
                obj.docstring.value = runtime_docstring(obj) or obj.docstring.value
            obj.docstring.value = markdown_roles(obj.docstring.value)
