"""The documentation site says what the code holds, where the build cannot check.

``mkdocs build --strict`` (in .ci/run) fails on a broken link, a page missing
from the navigation or a module it cannot find; these tests fail when a module
has no place in the API reference, or the queue's page drifts from its levels.
"""

from __future__ import annotations

import re
from pathlib import Path

import access_review_env
from access_review_env.tasks import access_review_queue

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PACKAGES = ("access_review_env", "agents")


def api_directives() -> list[str]:
    """Every object an API reference page renders (``::: name``), in page order."""
    return [
        name
        for page in sorted((DOCS / "api").glob("*.md"))
        for name in re.findall(r"^::: (\S+)$", page.read_text(encoding="utf-8"), re.M)
    ]


def modules() -> set[str]:
    """Every package and module of both packages, dotted."""
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


def test_every_module_has_one_place_in_the_api_reference() -> None:
    """A module added without its ``:::`` line, or listed twice, fails here."""
    listed = api_directives()
    assert sorted(modules() - set(listed)) == [], "modules missing from docs/api/"
    assert sorted(set(listed) - modules()) == [], "docs/api/ names what does not exist"
    assert sorted({name for name in listed if listed.count(name) > 1}) == []


def test_the_queue_page_lists_every_level_as_the_task_declares_it() -> None:
    """The level tables and the task's defaults are QUEUE_LEVELS and PARAMETERS."""
    page = (DOCS / "envs" / "access-review-queue.md").read_text(encoding="utf-8")
    level_rows = [
        line for line in page.splitlines() if re.match(r"^\| `[a-z]+` \|", line)
    ]
    rows = [line for line in level_rows if line.split(" | ")[2].startswith("`")]
    measured = [line for line in level_rows if line not in rows]
    assert [row.split(" | ")[1] for row in measured] == [
        f"{level.n_states:,}" for level in access_review_env.QUEUE_LEVELS.values()
    ]
    expected = [
        f"| `{name}` | {level.n_states:,} | "
        + ", ".join(f"`{key}={value!r}`" for key, value in level.parameters.items())
        + f" | {level.probes} |"
        for name, level in access_review_env.QUEUE_LEVELS.items()
    ]
    assert rows == expected
    defaults = ", ".join(
        f"`{parameter.name}={parameter.default!r}`"
        for parameter in access_review_queue.PARAMETERS
    )
    assert f"\nTask defaults: {defaults}.\n" in page
