"""Network output -> detections: a compiled kernel (`prange` over frames) that reads the network's
last layer as it comes out, before the pixel shuffle (`model.split_heads`), so nothing is copied.

Every cell whose confidence sigmoid(logit) reaches the threshold proposes an object at its
predicted centre (the cell plus its offset: the cells around an object all regress its centre,
`perception.targets`), with the other heads read at that cell. Proposals are kept strongest first
unless a kept one of the same class lies within NMS_RADIUS of their centre (circle NMS, as
CenterPoint does): the cells of one object agree on its centre and merge, while two pedestrians a
metre apart, even in neighbouring cells, stay two. Per frame the K most confident, sorted.

Raw layout: (B, h, w, 14 * SUB^2) channels-last, channel (head channel) * SUB^2 + dv * SUB + du for
output cell (SUB * i + dv, SUB * j + du) of body cell (i, j); head channels in `HEAD_CHANNELS` order.
The int8 network's last layer comes quantized (uint8 codes, one scale and zero point): the kernel
reads the codes in place through a 256-entry table of torch's own dequantized values, so the
values are torch's to the bit without a float copy of the batch (`_read`).
"""

from __future__ import annotations

import ctypes
import math
from typing import Any, NamedTuple

import numpy as np
from numba import prange, types
from numba.extending import overload

from drivesim.jit import inner, parallel_kernel
from drivesim.perception.model import HEAD_CHANNELS, N_CLASSES, SIZE_SCALE, STRIDE, SUB, VELOCITY_SCALE


def _first_channels() -> dict[str, int]:
    out, start = {}, 0
    for name, n in HEAD_CHANNELS.items():
        out[name] = start
        start += n
    return out


_FIRST = _first_channels()
_OFFSET, _SIZE, _HEADING, _LIGHT, _VELOCITY = (_FIRST[k] for k in ("offset", "size", "heading", "light", "velocity"))
_SUB2 = SUB * SUB
# [px] per class (car, pedestrian, light): 1.6 m, 0.28 m, 1.6 m at 0.4 m/px. The pedestrians' radius was
# chosen on the training data's held-out split (0.5-1.25 px swept; 0.6-0.7 best for pedestrian and crowd AP):
# the cells of one pedestrian agree on its centre within a few tenths of a pixel, while the cells between
# two people a metre apart regress centres pulled towards each other, which a wider radius merges.
NMS_RADIUS = np.array([4.0, 0.7, 4.0])
MAX_PROPOSALS = 256  # per frame, strongest first


class Detections(NamedTuple):
    """Detections of a batch, K per frame sorted by confidence (`valid` marks the real ones)."""

    cls: np.ndarray  # (B, K) int64: 0 car, 1 pedestrian, 2 traffic light
    score: np.ndarray  # (B, K) float32 in [0, 1]
    centre: np.ndarray  # (B, K, 2) float32 [px] (u, v), pixel centres at integers
    size: np.ndarray  # (B, K, 2) float32 [px] (length, width)
    angle: np.ndarray  # (B, K) float32 [rad] heading in the image
    light_probs: np.ndarray  # (B, K, 3) float32 red, yellow, green
    velocity: np.ndarray  # (B, K, 2) float32 [m/s] over the ground, ego frame (forward, left)
    valid: np.ndarray  # (B, K) bool

    def frame(self, b: int) -> dict[str, np.ndarray]:
        """The valid detections of frame b as a dict of arrays (n, ...)."""
        keep = self.valid[b]
        return {name: getattr(self, name)[b][keep] for name in self._fields if name != "valid"}


def decode(raw: object, k: int, threshold: float) -> Detections:
    """raw: the network's last layer (B, 14 * SUB^2, h, w), a torch tensor (float, or quantized as the
    int8 network gives it) or a numpy array -> the detections with confidence >= threshold (at most
    k per frame)."""
    table = _NO_TABLE
    if getattr(raw, "is_quantized", False):  # uint8 codes, read through the table of their values
        values, table = _codes(raw), _dequantized_table(raw)  # `raw` keeps the codes' memory alive
    elif hasattr(raw, "detach"):  # a torch tensor (any device): channels-last numpy, without a copy where possible
        values = raw.detach().permute(0, 2, 3, 1).float().cpu().contiguous().numpy()
    else:
        values = np.ascontiguousarray(np.asarray(raw, dtype=np.float32).transpose(0, 2, 3, 1))
    b = values.shape[0]
    out = Detections(np.zeros((b, k), dtype=np.int64), np.zeros((b, k), dtype=np.float32),
                  np.zeros((b, k, 2), dtype=np.float32), np.zeros((b, k, 2), dtype=np.float32),
                  np.zeros((b, k), dtype=np.float32), np.zeros((b, k, 3), dtype=np.float32),
                  np.zeros((b, k, 2), dtype=np.float32), np.zeros((b, k), dtype=bool))
    min_logit = math.log(threshold / (1.0 - threshold)) if 0.0 < threshold < 1.0 else (-np.inf if threshold <= 0 else np.inf)
    proposals = np.empty((b, MAX_PROPOSALS, 4))  # logit, class, row, column
    _decode_batch(values, table, min_logit, NMS_RADIUS, proposals, out)
    return out


_NO_TABLE = np.zeros(0, dtype=np.float32)


def _codes(q: Any) -> np.ndarray:
    """The uint8 codes of a quantized CPU tensor (B, C, h, w) as a channels-last numpy array (B, h, w,
    C): a view of its memory where it is channels-last already (the x86 int8 convolutions' output;
    torch gives no numpy view of quantized tensors, so by address: the caller must hold the tensor
    while it uses the view), else a copy."""
    nhwc = q.permute(0, 2, 3, 1)
    if nhwc.is_contiguous():
        return np.ctypeslib.as_array((ctypes.c_uint8 * q.numel()).from_address(q.data_ptr())).reshape(nhwc.shape)
    return nhwc.int_repr().contiguous().numpy()


def _dequantized_table(q: Any) -> np.ndarray:
    """(256,) float32: torch's dequantized value of every uint8 code at q's scale and zero point."""
    import torch  # only reached with a torch tensor

    codes = torch.arange(256, dtype=torch.uint8)
    return torch._make_per_tensor_quantized_tensor(codes, q.q_scale(), q.q_zero_point()).dequantize().numpy()


def _read(raw: np.ndarray, table: np.ndarray, f: int, i: int, j: int, c: int) -> float:
    """raw[f, i, j, c] as a float: the value itself, or for uint8 codes the table's value of the code."""
    return table[raw[f, i, j, c]] if raw.dtype == np.uint8 else raw[f, i, j, c]


@overload(_read, inline="always")
def _read_compiled(raw, table, f, i, j, c):  # noqa: ANN001, ANN202 (numba matches these names, unannotated)
    if isinstance(raw.dtype, types.Integer):
        return lambda raw, table, f, i, j, c: table[raw[f, i, j, c]]
    return lambda raw, table, f, i, j, c: raw[f, i, j, c]


@parallel_kernel
def _decode_batch(raw: np.ndarray, table: np.ndarray, min_logit: float, radius: np.ndarray, proposals: np.ndarray,
                  out: Detections) -> None:
    for index in prange(raw.shape[0]):
        f = np.int64(index)
        n = _propose(raw, table, f, min_logit, proposals[f])
        _select(raw, table, f, proposals[f], n, radius, out)


@inner
def _logit(raw: np.ndarray, table: np.ndarray, f: int, c: int, y: int, x: int) -> float:
    """Heatmap logit of class c at output cell (y, x) of frame f."""
    return _read(raw, table, f, y // SUB, x // SUB, c * _SUB2 + (y % SUB) * SUB + x % SUB)


@inner
def _propose(raw: np.ndarray, table: np.ndarray, f: int, min_logit: float, proposals: np.ndarray) -> int:
    """The cells of frame f with logit >= min_logit, strongest first (at most len(proposals)):
    proposals (M, 4) rows (logit, class, row, column); returns how many."""
    h, w = raw.shape[1] * SUB, raw.shape[2] * SUB
    size, n = proposals.shape[0], 0
    for c in range(N_CLASSES):
        for y in range(h):
            for x in range(w):
                value = _logit(raw, table, f, c, y, x)
                if value < min_logit or (n == size and value <= proposals[n - 1, 0]):
                    continue
                pos = min(n, size - 1)  # insert, dropping the weakest when full
                while pos > 0 and proposals[pos - 1, 0] < value:
                    for j in range(4):
                        proposals[pos, j] = proposals[pos - 1, j]
                    pos -= 1
                proposals[pos, 0], proposals[pos, 1], proposals[pos, 2], proposals[pos, 3] = value, c, y, x
                n = min(n + 1, size)
    return n


@inner
def _select(raw: np.ndarray, table: np.ndarray, f: int, proposals: np.ndarray, n: int, radius: np.ndarray,
            out: Detections) -> None:
    """Circle NMS over the proposals (strongest first) into the K detection slots of frame f."""
    kept, k_max = 0, out.score.shape[1]
    for i in range(n):
        c, y, x = np.int64(proposals[i, 1]), np.int64(proposals[i, 2]), np.int64(proposals[i, 3])
        row, col, sub = y // SUB, x // SUB, (y % SUB) * SUB + x % SUB
        u = (x + _read(raw, table, f, row, col, _OFFSET * _SUB2 + sub)) * STRIDE - 0.5
        v = (y + _read(raw, table, f, row, col, (_OFFSET + 1) * _SUB2 + sub)) * STRIDE - 0.5
        near = False
        for j in range(kept):
            du, dv = out.centre[f, j, 0] - u, out.centre[f, j, 1] - v
            near |= out.cls[f, j] == c and du * du + dv * dv < radius[c] * radius[c]
        if near:
            continue
        out.cls[f, kept], out.centre[f, kept, 0], out.centre[f, kept, 1] = c, u, v
        _fill(raw, table, f, row, col, sub, proposals[i, 0], kept, out)
        kept += 1
        if kept == k_max:
            return


@inner
def _fill(raw: np.ndarray, table: np.ndarray, f: int, row: int, col: int, sub: int, logit: float, i: int,
          out: Detections) -> None:
    """Detection i of frame f (class and centre already set): confidence and every other head read
    at its cell (body cell (row, col) of `raw`, `sub`: the output cell within it)."""
    at = lambda channel: _read(raw, table, f, row, col, channel * _SUB2 + sub)  # noqa: E731
    out.score[f, i] = 1.0 / (1.0 + math.exp(-logit))
    out.valid[f, i] = True
    out.size[f, i, 0], out.size[f, i, 1] = at(_SIZE) * SIZE_SCALE, at(_SIZE + 1) * SIZE_SCALE
    out.angle[f, i] = math.atan2(at(_HEADING), at(_HEADING + 1))
    top = max(at(_LIGHT), at(_LIGHT + 1), at(_LIGHT + 2))
    total = 0.0
    for j in range(3):
        out.light_probs[f, i, j] = math.exp(at(_LIGHT + j) - top)
        total += out.light_probs[f, i, j]
    for j in range(3):
        out.light_probs[f, i, j] /= total
    out.velocity[f, i, 0], out.velocity[f, i, 1] = at(_VELOCITY) * VELOCITY_SCALE, at(_VELOCITY + 1) * VELOCITY_SCALE
