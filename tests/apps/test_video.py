"""The one video writer: H.264 yuv420p MP4s with every frame, GIF previews, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivesim.apps.video import Mp4Writer, VideoError, probe, write_gif, write_mp4


def _frames(n: int, h: int = 64, w: int = 96) -> list[np.ndarray]:
    return [np.full((h, w, 3), (10 * i) % 256, dtype=np.uint8) for i in range(n)]


def test_mp4_is_browser_h264_with_every_frame(tmp_path: Path) -> None:
    path = write_mp4(tmp_path / "sub" / "v.mp4", _frames(25), fps=10)
    info = probe(path)
    assert info == {"codec": "h264", "pix_fmt": "yuv420p", "width": 96, "height": 64, "frames": 25,
                    "duration_s": pytest.approx(2.5, abs=0.05)}


def test_gif_preview(tmp_path: Path) -> None:
    path = write_gif(tmp_path / "p.gif", _frames(5, 31, 17), fps=5)  # odd sizes are fine for a GIF
    assert path.read_bytes()[:6] in (b"GIF87a", b"GIF89a")


@settings(max_examples=20, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40))
def test_bad_frame_sizes_name_the_problem(tmp_path_factory: pytest.TempPathFactory, h: int, w: int) -> None:
    path = tmp_path_factory.mktemp("v") / "v.mp4"
    frame = np.zeros((h, w, 3), dtype=np.uint8)
    if h % 2 == 0 and w % 2 == 0 and h >= 16 and w >= 16:
        write_mp4(path, [frame])
    else:
        with pytest.raises(VideoError, match=f"{path}.*frame size {w}x{h}"):
            write_mp4(path, [frame])


def test_frames_must_keep_one_size_and_be_rgb(tmp_path: Path) -> None:
    with Mp4Writer(tmp_path / "v.mp4") as writer:
        writer.write(_frames(1)[0])
        with pytest.raises(VideoError, match="differs from the video's 96x64"):
            writer.write(np.zeros((32, 32, 3), dtype=np.uint8))
        with pytest.raises(VideoError, match="RGB uint8"):
            writer.write(np.zeros((64, 96), dtype=np.uint8))


@pytest.mark.parametrize("fps", [0, -5, 1000, float("nan")])
def test_bad_frame_rate(tmp_path: Path, fps: float) -> None:
    with pytest.raises(VideoError, match="frame rate"):
        Mp4Writer(tmp_path / "v.mp4", fps)


def test_unwritable_path_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(VideoError, match="cannot write a video there"):
        write_mp4(blocker / "v.mp4", _frames(2))
    with pytest.raises(VideoError, match="no frames"):
        write_mp4(tmp_path / "empty.mp4", [])
