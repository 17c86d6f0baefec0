"""The manual's snippets for other frameworks run as written, and do what it says.

Each snippet follows a ``<!-- interop: NAME -->`` line in README.md or a page
of the documentation site (``docs/**/*.md``). It runs in a fresh namespace in
a temporary folder; the test then checks what the snippet left behind, so the
manual cannot drift from working code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parents[2]


def manual() -> dict[str, str]:
    """The text of README.md and of every page of the site, by path."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return {
        page.relative_to(ROOT).as_posix(): page.read_text(encoding="utf-8")
        for page in pages
    }


def snippet(name: str) -> tuple[str, str]:
    """``(page, code)``: the Python block right after ``<!-- interop: name -->``."""
    found = [
        (page, code)
        for page, text in manual().items()
        for code in re.findall(
            rf"^<!-- interop: {re.escape(name)} -->\n```python\n(.*?)^```$",
            text,
            flags=re.DOTALL | re.MULTILINE,
        )
    ]
    assert len(found) == 1, f"the manual has {len(found)} snippets named {name!r}"
    return found[0]


def run_snippet(
    name: str, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """Run the snippet ``name`` in ``folder``; return the names it defined."""
    monkeypatch.chdir(folder)
    # Recorded, so that a folder the snippet sets is undone after the test.
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(folder))
    namespace: dict[str, Any] = {"__name__": f"readme_{name.replace('-', '_')}"}
    page, code = snippet(name)
    exec(compile(code, f"{page} ({name})", "exec"), namespace)
    return namespace


def test_every_interop_snippet_is_tested() -> None:
    """A snippet added to the manual without a test here fails this test."""
    names = [
        name
        for text in manual().values()
        for name in re.findall(r"^<!-- interop: (\S+) -->$", text, re.M)
    ]
    tested = {
        name.removeprefix("test_").removesuffix("_snippet").replace("_", "-")
        for name in globals()
        if name.startswith("test_") and name.endswith("_snippet")
    }
    assert sorted(names) == sorted(tested)


def test_record_video_snippet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """RecordVideo writes one video of the episode's three 64x256 frames."""
    from moviepy import VideoFileClip

    run_snippet("record-video", tmp_path, monkeypatch)
    videos = sorted((tmp_path / "videos").glob("*.mp4"))
    assert [video.name for video in videos] == ["rl-video-episode-0.mp4"]
    clip = VideoFileClip(str(videos[0]))
    try:
        frames = list(clip.iter_frames())
    finally:
        clip.close()
    assert len(frames) == 3 and clip.fps == 4
    assert all(frame.shape == (64, 256, 3) for frame in frames)


@pytest.mark.slow
@pytest.mark.processes
def test_torchrl_snippet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Masked random actions are all valid; the cost read is the violations'."""
    names = run_snippet("torchrl", tmp_path, monkeypatch)
    rollout = names["rollout"]
    assert (rollout["action"].bool() & rollout["action_mask"]).any(-1).all()
    approvals = rollout["action"].argmax(-1) == 0
    at_start = rollout["observation"].argmax(-1) == 0
    # auto_approve at new_request is the one unsupported approval
    assert int(rollout["next", "cost"].sum()) == int((approvals & at_start).sum()) > 0


@pytest.mark.slow
def test_tianshou_snippet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DQN's greedy policy is optimal in every state, V(new_request) near 54."""
    check = run_snippet("tianshou", tmp_path, monkeypatch)["check"]
    assert check.agrees, check
    assert check.greedy[0] == 2  # human_review
    assert check.regret == 0.0
    assert abs(check.start_value - check.exact_start_value) < 1.0


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`(author|author_email|code_permalink)` is set")
def test_d3rlpy_snippet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CQL on the exported log recovers the optimal policy, regret 0."""
    check = run_snippet("d3rlpy", tmp_path, monkeypatch)["check"]
    assert check.agrees, check
    assert check.greedy[0] == 2  # human_review
    assert check.regret == 0.0
    assert (tmp_path / "datasets" / "access-review" / "uniform-v0").is_dir()
