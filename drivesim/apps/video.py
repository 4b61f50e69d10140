"""The one video writer of the apps (demo, play, evaluate): H.264 MP4s that play in browsers, and GIF
previews for READMEs and reports.

MP4: libx264, yuv420p (the pixel format every browser decodes), `+faststart` (the index at the
front, so a browser starts playing before the whole file has arrived), through the ffmpeg binary
that the `imageio-ffmpeg` wheel ships (no system ffmpeg needed). Frames are RGB uint8 (H, W, 3) of
one fixed size with even sides (yuv420p halves the chroma resolution).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

MIN_FPS, MAX_FPS = 1, 120
GIF_MAX_FRAMES = 2000


class VideoError(ValueError):
    """A video that cannot be written: bad path, frame size or rate (the message names which)."""


def _writable(path: Path) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab"):
            pass
    except OSError as err:
        raise VideoError(f"{path}: cannot write a video there ({err.strerror or err})") from None
    return path


def _check_fps(fps: float) -> float:
    if not (isinstance(fps, int | float) and np.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):
        raise VideoError(f"frame rate must be in [{MIN_FPS}, {MAX_FPS}] frames/s, got {fps!r}")
    return float(fps)


def _check_frame(frame: np.ndarray, size: tuple[int, int] | None, path: Path, even: bool = True) -> tuple[int, int]:
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise VideoError(f"{path}: frames must be RGB uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
    h, w = frame.shape[:2]
    if size is None:
        if even and (h % 2 or w % 2 or h < 16 or w < 16):
            raise VideoError(f"{path}: frame size {w}x{h} must be even and at least 16x16 (H.264 yuv420p)")
        return h, w
    if (h, w) != size:
        raise VideoError(f"{path}: frame size {w}x{h} differs from the video's {size[1]}x{size[0]}")
    return size


class Mp4Writer:
    """`writer.write(frame)` appends an RGB frame; `close()` finishes the file (also as a context
    manager). The size is fixed by the first frame."""

    def __init__(self, path: str | Path, fps: float = 10, quality: int = 23) -> None:
        self.fps = _check_fps(fps)
        self.path = _writable(Path(path))
        self.crf = int(quality)  # x264 constant rate factor: 18 visually lossless, 23 default, 28 small
        self.size: tuple[int, int] | None = None
        self.frames = 0
        self._gen: Any = None

    def write(self, frame: np.ndarray) -> None:
        self.size = _check_frame(frame, self.size, self.path)
        if self._gen is None:
            import imageio_ffmpeg

            self._gen = imageio_ffmpeg.write_frames(
                str(self.path), (self.size[1], self.size[0]), fps=self.fps, codec="libx264", pix_fmt_in="rgb24",
                pix_fmt_out="yuv420p", macro_block_size=2, ffmpeg_log_level="error",
                output_params=["-crf", str(self.crf), "-movflags", "+faststart", "-preset", "veryfast"])
            self._gen.send(None)
        self._gen.send(np.ascontiguousarray(frame))
        self.frames += 1

    def close(self) -> None:
        if self._gen is not None:
            self._gen.close()
            self._gen = None

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_mp4(path: str | Path, frames: list[np.ndarray], fps: float = 10) -> Path:
    """All `frames` (RGB uint8, one size) to an H.264 MP4 at `path`."""
    if not frames:
        raise VideoError(f"{path}: no frames to write")
    with Mp4Writer(path, fps) as writer:
        for frame in frames:
            writer.write(frame)
    return writer.path


def write_gif(path: str | Path, frames: list[np.ndarray], fps: float = 10) -> Path:
    """An animated GIF preview (palette per frame, loops forever)."""
    fps = _check_fps(fps)
    path = _writable(Path(path))
    if not frames:
        raise VideoError(f"{path}: no frames to write")
    if len(frames) > GIF_MAX_FRAMES:
        raise VideoError(f"{path}: {len(frames)} frames is too many for a GIF preview (at most {GIF_MAX_FRAMES})")
    size = None
    for frame in frames:
        size = _check_frame(frame, size, path, even=False)
    from PIL import Image  # pillow comes with matplotlib

    images = [Image.fromarray(np.asarray(f)) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], optimize=True, duration=int(round(1000 / fps)),
                   loop=0)
    return path


def probe(path: str | Path) -> dict[str, Any]:
    """Codec, pixel format, size, frame count and duration of a video file, read back by the bundled
    ffmpeg (decoding it all): {"codec", "pix_fmt", "width", "height", "frames", "duration_s"}."""
    import imageio_ffmpeg

    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: no such video")
    exe = imageio_ffmpeg.get_ffmpeg_exe()
    out = subprocess.run([exe, "-hide_banner", "-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "null", "-"],
                         capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
    info = _parse_stream(out.stderr)
    frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(path))
    return {**info, "frames": int(frames), "duration_s": float(seconds)}


def _parse_stream(log: str) -> dict[str, Any]:
    """The first video stream line of ffmpeg's banner, e.g. `Stream #0:0[0x1](und): Video: h264 (High)
    (avc1 / 0x31637661), yuv420p(progressive), 480x480, ...`."""
    for line in log.splitlines():
        if "Video:" in line:
            spec = line.split("Video:", 1)[1]
            parts = [p.strip() for p in _split_top(spec)]
            codec = parts[0].split()[0]
            pix_fmt = parts[1].split("(")[0] if len(parts) > 1 else ""
            width = height = 0
            for p in parts[2:]:
                token = p.split()[0] if p else ""
                if "x" in token and token.replace("x", "").isdigit():
                    width, height = (int(v) for v in token.split("x"))
                    break
            return {"codec": codec, "pix_fmt": pix_fmt, "width": width, "height": height}
    raise VideoError(f"no video stream found: {json.dumps(log[-300:])}")


def _split_top(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts
