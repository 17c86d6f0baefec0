"""The README, the package's long description, links to what exists.

setup.cfg ships README.md as the long description that package indexes show,
where a relative path resolves to nothing: a picture must be an absolute URL
(the pictures live in the documentation site). Its links to the site's pages
are relative, for a clone and a repository browser, so each must lead to a
file of the clone. ``mkdocs build --strict`` checks the site's own links; the
README is not part of the site.
"""

from __future__ import annotations

import re
from pathlib import Path

import access_review_env

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

INLINE = re.compile(r"(!?)\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?[^)]*\)")
"""A Markdown link or image (leading ``!``) with its target, written inline."""
REFERENCE_USE = re.compile(r"(!?)\[[^\]]*\]\[([^\]]*)\]")
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[([^\]]+)\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
HTML_IMAGE = re.compile(r"<img\b[^>]*\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.I)
ABSOLUTE = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)
"""A URL with a scheme (https:, mailto:, ...), which a package index keeps."""


def sections(text: str) -> dict[str, str]:
    """The README by ``## `` section, the text before the first under ``""``."""
    parts = re.split(r"(?m)^(?=## )", text)
    return {
        (part.splitlines()[0] if part.startswith("## ") else ""): part for part in parts
    }


def without_code(text: str) -> str:
    """``text`` without fenced code blocks and inline code, where links are text."""
    text = re.sub(r"(?ms)^```.*?^```[^\n]*$", "", text)
    return re.sub(r"`[^`\n]*`", "", text)


def targets(text: str) -> list[tuple[bool, str]]:
    """``(is_image, target)`` of every link and image of Markdown ``text``."""
    text = without_code(text)
    definitions = {
        label.lower(): target for label, target in REFERENCE_DEFINITION.findall(text)
    }
    found = [(bang == "!", target) for bang, target in INLINE.findall(text)]
    for bang, label in REFERENCE_USE.findall(text):
        if label.lower() in definitions:
            found.append((bang == "!", definitions[label.lower()]))
    found += [(True, source) for source in HTML_IMAGE.findall(text)]
    return found


def test_the_readme_shows_no_picture_by_a_relative_path() -> None:
    """Every image of the README is an absolute URL (or there is none)."""
    shown = {
        heading: [target for is_image, target in targets(text) if is_image]
        for heading, text in sections(README.read_text(encoding="utf-8")).items()
    }
    relative = {
        heading: [target for target in images if not ABSOLUTE.match(target)]
        for heading, images in shown.items()
    }
    assert {heading: found for heading, found in relative.items() if found} == {}


def test_the_readme_names_every_queue_level_with_its_states() -> None:
    """The queue's levels, in the README's brief, are QUEUE_LEVELS in order."""
    brief = sections(README.read_text(encoding="utf-8"))["## The environments"]
    named = re.findall(r"`([a-z]+)` \(([\d,]+) states", " ".join(brief.split()))
    assert named == [
        (name, f"{level.n_states:,}")
        for name, level in access_review_env.QUEUE_LEVELS.items()
    ]


def test_every_relative_link_of_the_readme_leads_to_a_file() -> None:
    """Links and images by relative path name files of the clone."""
    readme = README.read_text(encoding="utf-8")
    relative = [
        target.split("#", 1)[0]
        for _, target in targets(readme)
        if not ABSOLUTE.match(target) and not target.startswith("#")
    ]
    assert relative, "the README links to no page of the site"
    assert [path for path in relative if not (ROOT / path).is_file()] == []


def test_the_link_finder_sees_every_form_of_picture() -> None:
    """Inline, reference and HTML pictures are found; code is not read."""
    text = (
        "![a](docs/a.png) [page](docs/x.md) ![b][ref] <img src='c.png'>\n\n"
        "[ref]: docs/b.png\n\n```\n![d](d.png)\n```\n`![e](e.png)`\n"
        "![f](https://example.org/f.png)\n"
    )
    assert targets(text) == [
        (True, "docs/a.png"),
        (False, "docs/x.md"),
        (True, "https://example.org/f.png"),
        (True, "docs/b.png"),
        (True, "c.png"),
    ]
