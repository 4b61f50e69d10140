"""The perception CNN's input: the current camera frame and the camera's history frame (the scene
HISTORY steps earlier, drawn by the simulator from the current pose: `CameraConfig.history`), side
by side in every cell. What stands still lines up in the two frames and what moves shows how far it
went, so the CNN reads velocities in one pass, with no tracker and no image warp.

`stack_frames` (compiled, `prange` over frames) writes both frames in space-to-depth order: output
cell (i, j) holds the 4x4 pixels of both frames under it, (B, H/4, W/4, 96) uint8, which the CNN's
first layer (a 1x1 convolution) reads in place. This module needs numpy and numba only (no torch).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numba import prange

from drivesim.config import CameraConfig
from drivesim.jit import parallel_kernel

HISTORY = 5  # [steps] between the two frames (0.5 s at 10 Hz): a walking pedestrian moves ~1.75 px
PATCH = 4  # [px] space-to-depth cell: the CNN's stride
FRAMES = 2  # current, history
CHANNELS = PATCH * PATCH * FRAMES * 3  # input channels of the CNN's first layer


def perception_camera(camera: CameraConfig) -> CameraConfig:
    """The camera settings perception needs: the same camera with a HISTORY-step history frame."""
    return dataclasses.replace(camera, history=HISTORY)


def stack_frames(current: np.ndarray, history: np.ndarray, out: np.ndarray | None = None, shift: int = 0
                 ) -> np.ndarray:
    """current, history (B, H, W, 3) uint8 -> (B, H/4, W/4, 96) uint8, channel
    ((dv * 4 + du) * 2 + frame) * 3 + rgb for pixel (4i + dv, 4j + du); each pixel value shifted
    right by `shift` bits (the int8 network takes 7-bit pixels: `PerceptionRuntime.shift`)."""
    if current.ndim != 4 or current.shape[-1] != 3 or current.dtype != np.uint8:
        raise ValueError(f"stack_frames: frames must be (B, H, W, 3) uint8, got {current.shape} {current.dtype}")
    b, h, w, _ = current.shape
    if history.shape != current.shape or history.dtype != np.uint8:
        raise ValueError(f"stack_frames: history frames {history.shape} {history.dtype} must match the frames "
                         f"{current.shape} uint8")
    if h % PATCH or w % PATCH:
        raise ValueError(f"camera frames of {w}x{h} px: width and height must be multiples of {PATCH}")
    shape = (b, h // PATCH, w // PATCH, CHANNELS)
    if out is None:
        out = np.empty(shape, dtype=np.uint8)
    elif out.shape != shape or out.dtype != np.uint8 or not out.flags.c_contiguous:
        raise ValueError(f"stack_frames: out must be a C-contiguous {shape} uint8 array, got {out.shape} {out.dtype}")
    if not 0 <= shift < 8:
        raise ValueError(f"stack_frames: shift must be 0..7 bits, got {shift}")
    _stack_batch(np.ascontiguousarray(current), np.ascontiguousarray(history), out, shift)
    return out


@parallel_kernel
def _stack_batch(current: np.ndarray, history: np.ndarray, out: np.ndarray, shift: int) -> None:
    """Output cell by output cell, so that the writes run through `out` in order (96 bytes per
    cell) and the reads stay within a 4-row band of each frame."""
    for index in prange(current.shape[0]):
        k = np.int64(index)  # prange counts in uint64: back to int64
        for i in range(out.shape[1]):
            for j in range(out.shape[2]):
                cell = out[k, i, j]
                for dv in range(PATCH):
                    v = i * PATCH + dv
                    for du in range(PATCH):
                        u, base = j * PATCH + du, (dv * PATCH + du) * FRAMES * 3
                        for ch in range(3):
                            cell[base + ch] = current[k, v, u, ch] >> shift
                            cell[base + 3 + ch] = history[k, v, u, ch] >> shift
