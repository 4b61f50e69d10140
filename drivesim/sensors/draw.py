"""Rasterisation primitives for the camera kernel (compiled, no allocation): an affine bilinear warp
of an RGB raster, and filled convex quads and discs.

They follow OpenCV's conventions, so the compiled camera draws what `cv2.warpAffine` +
`cv2.fillConvexPoly` / `cv2.circle` drew before it (tests compare against OpenCV as an oracle):

- pixel (u, v) has its centre at the integer coordinates (u, v);
- the warp maps destination pixels to source coordinates (`WARP_INVERSE_MAP`); bilinear, with
  neighbours outside the source taking the border colour (`BORDER_CONSTANT`). It runs in fixed
  point on palette-indexed rasters whose colours are packed in three 21-bit lanes of a uint64 (one
  multiply weighs all channels), with weights in 1/64 steps: within two levels of OpenCV's float
  interpolation;
- a filled box covers the pixels whose centre lies inside it grown by what an 8-connected outline
  adds (half a pixel along the axis closer to its edge; OpenCV's filled polygons include their
  outline), a disc the pixels within its radius + DISC_GROW (OpenCV's small filled circles are
  polygons of a few integer vertices; this matches their pixel count on average).
"""

from __future__ import annotations

import math

import numpy as np

from drivesim.jit import inner

FRAC_BITS = 16  # fractional bits of the warp's source coordinates (fixed point, exact increments)
WEIGHT_BITS = 6  # bilinear weights in 1/64 steps
LANE_BITS = 21  # packed pixel: R | G << 21 | B << 42 (room for 255 x 64 x 64 per lane)
_ONE = 1 << FRAC_BITS
_W = 1 << WEIGHT_BITS
_LANE_MASK = (1 << LANE_BITS) - 1
_ROUND = 1 << (2 * WEIGHT_BITS - 1)
DISC_GROW = 0.15  # [px]
_ROUND_LANES = _ROUND | (_ROUND << LANE_BITS) | (_ROUND << 2 * LANE_BITS)  # rounding, added to every lane
_LANES_MASK = 0xFF | (0xFF << LANE_BITS) | (0xFF << 2 * LANE_BITS)  # after the shift: 8 bits per lane


def _pack(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 -> (...) uint64: R | G << 21 | B << 42."""
    rgb = rgb.astype(np.uint64)
    return rgb[..., 0] | (rgb[..., 1] << np.uint64(LANE_BITS)) | (rgb[..., 2] << np.uint64(2 * LANE_BITS))


def index_rasters(images: list[np.ndarray], border: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RGB images [(H_i, W_i, 3) uint8] -> (index rasters (M, Hp, Wp), sizes (M, 2) int64, palette (N,)
    uint64).

    Each image becomes indices into one shared palette of packed colours (`_pack`), with a one-pixel
    frame of `border` (so bilinear samples at the edge blend with the border colour, as OpenCV's
    BORDER_CONSTANT does). A map raster has only ~1,000 distinct colours, so 2-byte indices hold it
    in a quarter of the memory of packed pixels, and the warp, which is bound by cache misses on
    the raster, runs ~2x faster. The top bit of an index is set when the pixel and its right, lower
    and lower-right neighbours are equal: a sample there is that colour, with no interpolation."""
    framed = []
    for rgb in images:
        out = np.empty((rgb.shape[0] + 2, rgb.shape[1] + 2, 3), dtype=np.uint8)
        out[:] = np.asarray(border, dtype=np.uint8)
        out[1:-1, 1:-1] = rgb
        framed.append(out[..., 0].astype(np.uint32) | (out[..., 1].astype(np.uint32) << 8)
                      | (out[..., 2].astype(np.uint32) << 16))  # 24-bit colour codes
    present = np.zeros(1 << 24, dtype=bool)  # (a table is much faster than np.unique on millions of pixels)
    for codes in framed:
        present[codes] = True
    colours = np.flatnonzero(present).astype(np.uint32)
    rgb = np.stack([colours & 0xFF, (colours >> 8) & 0xFF, colours >> 16], axis=-1).astype(np.uint8)
    palette = _pack(rgb)
    dtype = np.uint16 if len(palette) < 1 << 15 else np.uint32
    flag = 1 << (8 * np.dtype(dtype).itemsize - 1)
    hp, wp = max(f.shape[0] for f in framed), max(f.shape[1] for f in framed)
    base = np.zeros((len(framed), hp, wp), dtype=dtype)
    for m, codes in enumerate(framed):
        idx = np.searchsorted(colours, codes).astype(dtype)
        flat = np.zeros(codes.shape, dtype=bool)
        flat[:-1, :-1] = ((codes[:-1, :-1] == codes[:-1, 1:]) & (codes[:-1, :-1] == codes[1:, :-1])
                          & (codes[:-1, :-1] == codes[1:, 1:]))
        base[m, :codes.shape[0], :codes.shape[1]] = idx | (flat.astype(dtype) * dtype(flag))
    sizes = np.array([[img.shape[0], img.shape[1]] for img in images], dtype=np.int64)
    return base, sizes, palette


@inner
def _put_packed(dst: np.ndarray, v: int, u: int, p: np.uint64) -> None:
    dst[v, u, 0] = p & np.uint64(_LANE_MASK)
    dst[v, u, 1] = (p >> np.uint64(LANE_BITS)) & np.uint64(_LANE_MASK)
    dst[v, u, 2] = (p >> np.uint64(2 * LANE_BITS)) & np.uint64(_LANE_MASK)


@inner
def warp_bilinear(src: np.ndarray, src_h: int, src_w: int, palette: np.ndarray, m00: float, m01: float, m02: float,
                  m10: float, m11: float, m12: float, border: np.ndarray, dst: np.ndarray) -> None:
    """dst[v, u] = src sampled at (col, row) = (m00 u + m01 v + m02, m10 u + m11 v + m12), bilinear.

    src: an index raster of `index_rasters` for an image src_h x src_w (plus its frame; may be
    padded further), palette its colours; dst (H, W, 3) uint8; border (3,) int64, the colour
    outside the image. Coordinates are 16.16 fixed point (exact per-pixel increments), weights in
    1/64 px; the weighted sum of packed colours weighs all three channels in one multiply."""
    height, width = dst.shape[0], dst.shape[1]
    bits = src.itemsize * 8 - 1
    flag, index = 1 << bits, (1 << bits) - 1
    dxu, dyu = int(np.rint(m00 * _ONE)), int(np.rint(m10 * _ONE))
    half = 1 << (FRAC_BITS - WEIGHT_BITS - 1)  # round the coordinate to the nearest 1/64
    for v in range(height):
        xs = int(np.rint((m01 * v + m02 + 1.0) * _ONE)) + half  # + 1: the frame
        ys = int(np.rint((m11 * v + m12 + 1.0) * _ONE)) + half
        for u in range(width):
            col, row = xs >> FRAC_BITS, ys >> FRAC_BITS
            if 0 <= col < src_w + 1 and 0 <= row < src_h + 1:
                q = int(src[row, col])
                if q & flag:  # flat neighbourhood: its colour
                    _put_packed(dst, v, u, palette[q & index])
                else:
                    fx = (xs >> (FRAC_BITS - WEIGHT_BITS)) & (_W - 1)
                    fy = (ys >> (FRAC_BITS - WEIGHT_BITS)) & (_W - 1)
                    acc = ((palette[q & index] * np.uint64((_W - fx) * (_W - fy))
                            + palette[int(src[row, col + 1]) & index] * np.uint64(fx * (_W - fy)))
                           + (palette[int(src[row + 1, col]) & index] * np.uint64((_W - fx) * fy)
                              + palette[int(src[row + 1, col + 1]) & index] * np.uint64(fx * fy)))
                    _put_packed(dst, v, u, ((acc + np.uint64(_ROUND_LANES)) >> np.uint64(2 * WEIGHT_BITS))
                                & np.uint64(_LANES_MASK))
            else:
                dst[v, u, 0], dst[v, u, 1], dst[v, u, 2] = border[0], border[1], border[2]
            xs += dxu
            ys += dyu


@inner
def fill_box(dst: np.ndarray, cu: float, cv: float, length: float, width: float, angle: float,
             colours: np.ndarray, colour: int) -> None:
    """Fill the oriented box centred at (cu, cv) [px], `length` along the image heading `angle`
    (0 = up, counter-clockwise) and `width` across, with colours[colour]. dst (H, W, 3) uint8."""
    height, w_px = dst.shape[0], dst.shape[1]
    fu, fv = -math.sin(angle), -math.cos(angle)  # heading direction in the image
    grow = 0.5 * max(abs(fu), abs(fv))  # an 8-connected outline covers this much beyond the edge
    hl, hw = length / 2 + grow, width / 2 + grow
    reach_u, reach_v = hl * abs(fu) + hw * abs(fv), hl * abs(fv) + hw * abs(fu)
    v0, v1 = max(int(math.ceil(cv - reach_v)), 0), min(int(math.floor(cv + reach_v)), height - 1)
    u0, u1 = max(int(math.ceil(cu - reach_u)), 0), min(int(math.floor(cu + reach_u)), w_px - 1)
    r, g, b = colours[colour, 0], colours[colour, 1], colours[colour, 2]
    for v in range(v0, v1 + 1):
        dv = v - cv
        for u in range(u0, u1 + 1):
            du = u - cu
            if abs(du * fu + dv * fv) <= hl and abs(-du * fv + dv * fu) <= hw:
                dst[v, u, 0], dst[v, u, 1], dst[v, u, 2] = r, g, b


@inner
def fill_disc(dst: np.ndarray, cu: float, cv: float, radius: float, colours: np.ndarray, colour: int) -> None:
    """Fill the disc of `radius` [px] around (cu, cv) [px] with colours[colour]. dst (H, W, 3) uint8."""
    height, w_px = dst.shape[0], dst.shape[1]
    reach = radius + DISC_GROW
    v0, v1 = max(int(math.ceil(cv - reach)), 0), min(int(math.floor(cv + reach)), height - 1)
    u0, u1 = max(int(math.ceil(cu - reach)), 0), min(int(math.floor(cu + reach)), w_px - 1)
    r, g, b = colours[colour, 0], colours[colour, 1], colours[colour, 2]
    for v in range(v0, v1 + 1):
        for u in range(u0, u1 + 1):
            if (u - cu) ** 2 + (v - cv) ** 2 <= reach * reach:
                dst[v, u, 0], dst[v, u, 1], dst[v, u, 2] = r, g, b
