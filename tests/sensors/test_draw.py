"""Rasterisation primitives of the camera kernel against OpenCV (the renderer they replaced)."""

import cv2
import numpy as np
import pytest
from numba import njit

from drivesim.sensors.draw import LANE_BITS, fill_box, fill_disc, index_rasters, warp_bilinear

BORDER = np.array([58, 92, 52])
COLOURS = np.array([[70, 130, 230]], dtype=np.int64)


@njit
def _warp(base, h, w, palette, mat, border, dst):
    warp_bilinear(base, h, w, palette, mat[0, 0], mat[0, 1], mat[0, 2], mat[1, 0], mat[1, 1], mat[1, 2], border, dst)


@njit
def _box(dst, cu, cv, length, width, angle, colours):
    fill_box(dst, cu, cv, length, width, angle, colours, 0)


@njit
def _disc(dst, cu, cv, radius, colours):
    fill_disc(dst, cu, cv, radius, colours, 0)


def _image(seed=0, shape=(120, 140)):
    """A map-like image: flat regions with sharp and blended edges."""
    rng = np.random.default_rng(seed)
    img = np.empty((*shape, 3), dtype=np.uint8)
    img[:] = (72, 72, 76)
    img[20:60, 30:90] = (168, 164, 156)
    img[70:75, :] = (235, 235, 235)
    img[:, 100:104] = (222, 204, 120)
    img[shape[0] - 30:shape[0] - 10, 10:40] = rng.integers(0, 256, (20, 30, 3))
    small = cv2.resize(img, (shape[1] // 2, shape[0] // 2), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def _unpack(p):
    mask = np.uint64((1 << LANE_BITS) - 1)
    return np.stack([p & mask, (p >> np.uint64(LANE_BITS)) & mask, (p >> np.uint64(2 * LANE_BITS)) & mask], -1)


def test_index_rasters_round_trip_and_flat_flags():
    images = [_image(0), _image(1, (90, 100))]
    base, sizes, palette = index_rasters(images, BORDER)
    assert base.dtype == np.uint16 and sizes.tolist() == [[120, 140], [90, 100]]
    flag = np.uint16(1 << 15)
    for m, img in enumerate(images):
        h, w = img.shape[:2]
        idx = base[m, :h + 2, :w + 2] & np.uint16(flag - 1)
        rgb = _unpack(palette[idx])
        assert np.array_equal(rgb[1:-1, 1:-1], img)
        assert (rgb[0] == BORDER).all() and (rgb[:, -1] == BORDER).all()  # the one-pixel frame
        flat = (base[m, :h + 1, :w + 1] & flag) > 0
        same = ((idx[:-1, :-1] == idx[:-1, 1:]) & (idx[:-1, :-1] == idx[1:, :-1]) & (idx[:-1, :-1] == idx[1:, 1:]))
        assert np.array_equal(flat, same)


@pytest.mark.parametrize("seed", range(4))
def test_warp_matches_opencv_bilinear_with_constant_border(seed):
    rng = np.random.default_rng(seed)
    img = _image(seed)
    base, sizes, palette = index_rasters([img], BORDER)
    worst, differing = 0, []
    for _ in range(25):
        yaw, k = rng.uniform(-np.pi, np.pi), rng.choice([1.0, rng.uniform(0.5, 1.5)])
        c, s = np.cos(yaw), np.sin(yaw)
        mat = np.array([[s * k, -c * k, rng.uniform(-40, 180)], [c * k, s * k, rng.uniform(-40, 160)]])  # edges included
        ours = np.empty((48, 64, 3), dtype=np.uint8)
        _warp(base[0], 120, 140, palette, mat, BORDER, ours)
        ref = cv2.warpAffine(img, mat, (64, 48), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=tuple(int(b) for b in BORDER))
        d = np.abs(ours.astype(int) - ref)
        worst = max(worst, d.max())
        differing.append((d > 0).mean())
    assert worst <= 2, "more than two levels from OpenCV's interpolation"
    assert np.mean(differing) < 0.05


def test_axis_aligned_box_covers_its_pixels_and_outline():
    dst = np.zeros((40, 40, 3), dtype=np.uint8)
    _box(dst, 20.0, 20.0, 10.0, 4.0, 0.0, COLOURS)  # 10 px tall (heading up), 4 px wide, centred on a pixel
    rows, cols = np.nonzero(dst[..., 0])
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (15, 25, 18, 22)  # edges on pixel centres are included
    assert (dst[rows, cols] == COLOURS[0]).all()


@pytest.mark.parametrize("seed", range(3))
def test_rotated_boxes_match_opencv_fill(seed):
    rng = np.random.default_rng(seed)
    ious = []
    for _ in range(100):
        cu, cv, angle = *rng.uniform(15, 25, 2), rng.uniform(-np.pi, np.pi)
        ours = np.zeros((40, 40, 3), dtype=np.uint8)
        _box(ours, cu, cv, 11.25, 4.75, angle, COLOURS)
        fwd, left = np.array([-np.sin(angle), -np.cos(angle)]), np.array([-np.cos(angle), np.sin(angle)])
        c, hl, hw = np.array([cu, cv]), 11.25 / 2, 4.75 / 2
        corners = np.stack([c + fwd * hl + left * hw, c - fwd * hl + left * hw, c - fwd * hl - left * hw,
                            c + fwd * hl - left * hw])
        ref = np.zeros((40, 40), dtype=np.uint8)
        cv2.fillConvexPoly(ref, np.round(corners * 16).astype(np.int32), 1, cv2.LINE_8, 4)
        a, b = ours[..., 0] > 0, ref > 0
        ious.append((a & b).sum() / (a | b).sum())
    assert np.mean(ious) > 0.92 and np.min(ious) > 0.7


def test_discs_are_round_and_as_large_as_opencv_circles():
    rng = np.random.default_rng(0)
    for radius in (1.5, 2.25, 5.0):
        counts, ref_counts = [], []
        for _ in range(100):
            cu, cv = rng.uniform(15, 25, 2)
            ours = np.zeros((40, 40, 3), dtype=np.uint8)
            _disc(ours, cu, cv, radius, COLOURS)
            mask = ours[..., 0] > 0
            rows, cols = np.nonzero(mask)
            assert cols.max() - cols.min() + 1 >= int(2 * radius)  # at least its diameter wide
            assert np.hypot(cols - cu, rows - cv).max() <= radius + 0.15 + 1e-9
            ref = np.zeros((40, 40), dtype=np.uint8)
            cv2.circle(ref, (int(round(cu * 16)), int(round(cv * 16))), int(round(radius * 16)), 1, -1, cv2.LINE_8, 4)
            counts.append(mask.sum())
            ref_counts.append(ref.sum())
        assert np.mean(counts) == pytest.approx(np.mean(ref_counts), rel=0.2), radius


def test_shapes_are_clipped_to_the_frame():
    dst = np.zeros((20, 20, 3), dtype=np.uint8)
    _box(dst, -3.0, 10.0, 12.0, 5.0, 0.7, COLOURS)
    _disc(dst, 21.0, 21.0, 3.0, COLOURS)
    _box(dst, 200.0, -50.0, 12.0, 5.0, 0.0, COLOURS)  # entirely outside: nothing
    assert dst[:, :3].any() and dst[18:, 18:].any() and not dst[5:15, 8:15].any()
