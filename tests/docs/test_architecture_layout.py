"""The Layout (docs/architecture.md) names every module of both packages."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
PACKAGES = ("access_review_env", "agents")
DESCRIPTION_COLUMN = 30
"""Entries start left of this column; wrapped descriptions start at it."""


def _layout_block() -> list[str]:
    page = ARCHITECTURE.read_text(encoding="utf-8")
    section = page.split("\n## Layout\n", 1)[1]
    return section.split("```\n", 2)[1].splitlines()


def _layout_paths() -> set[str]:
    """Every path the Layout tree names, built from its indentation."""
    parents: list[str] = []
    paths = set()
    for line in _layout_block():
        indent = len(line) - len(line.lstrip(" "))
        if not line.strip() or indent >= DESCRIPTION_COLUMN:
            continue
        name = line.split()[0]
        depth = indent // 2
        parents = parents[:depth]
        path = "".join(parents) + name
        paths.add(path.rstrip("/"))
        if name.endswith("/"):
            parents.append(name)
    return paths


def _package_paths() -> set[str]:
    """Every module (but ``__init__.py``) and sub-folder of the two packages."""
    paths = set(PACKAGES)
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            relative = path.relative_to(ROOT).as_posix()
            if path.name == "__init__.py":
                continue
            if path.suffix == ".py" or (path.is_dir() and any(path.glob("*.py"))):
                paths.add(relative)
    return paths


def test_the_layout_names_every_module_and_folder_where_it_is() -> None:
    """A module missing from the Layout, or listed where it is not, fails here."""
    listed = {p for p in _layout_paths() if p.split("/")[0] in PACKAGES}
    actual = _package_paths()
    assert sorted(actual - listed) == [], "modules missing from the Layout"
    assert sorted(listed - actual) == [], "the Layout lists what does not exist"


def test_the_layout_names_every_script() -> None:
    """The scripts entry lists exactly the scripts of scripts/, by stem.

    The list is what follows the colon of ``scripts/``'s description, comma
    separated; a parenthesis says what a script runs.
    """
    block = "\n".join(_layout_block())
    scripts_text = block.split("\nscripts/", 1)[1].split("\ndocs/", 1)[0]
    listed_text = re.sub(r"\([^)]*\)", "", scripts_text.split(":", 1)[1])
    listed = {item.strip() for item in " ".join(listed_text.split()).split(",")}
    stems = {path.stem for path in (ROOT / "scripts").glob("*.py")}
    assert listed == stems
