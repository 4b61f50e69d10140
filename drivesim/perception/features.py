"""Perception features for agents: a fixed-size vector per frame (B, F).

Layout (`feature_layout`): for each class (car, pedestrian, traffic light) the K nearest detections
in the ego frame, sorted by distance, each (x forward / 30 m, y left / 30 m, sin heading,
cos heading, confidence, p_red, p_yellow, p_green) — light probabilities are zero for cars and
pedestrians — padded with zeros; then the lidar ranges (N) and the state vector (16). The same
layout can be filled from ground-truth labels ("oracle perception") with confidence 1.
"""

from __future__ import annotations

import numpy as np

from drivesim.perception.model import N_CLASSES

PER_OBJECT = 8  # x, y, sin, cos, confidence, p_red, p_yellow, p_green
POSITION_SCALE = 30.0  # [m]


def feature_layout(k: int, n_beams: int, state_dim: int) -> dict[str, slice]:
    """Named slices of the feature vector."""
    names = ("cars", "pedestrians", "traffic_lights")
    out, start = {}, 0
    for name in names:
        out[name] = slice(start, start + k * PER_OBJECT)
        start += k * PER_OBJECT
    out["lidar"] = slice(start, start + n_beams)
    out["state"] = slice(start + n_beams, start + n_beams + state_dim)
    return out


def objects_to_features(cls: np.ndarray, position: np.ndarray, heading: np.ndarray, score: np.ndarray,
                        light_probs: np.ndarray, valid: np.ndarray, k: int) -> np.ndarray:
    """(B, N_CLASSES * k * PER_OBJECT) from per-object arrays (B, O): cls, position (B, O, 2) [m]
    ego frame, heading [rad] ego frame, score, light_probs (B, O, 3), valid."""
    b = len(cls)
    dist = np.hypot(position[..., 0], position[..., 1])
    out = np.zeros((b, N_CLASSES, k, PER_OBJECT), dtype=np.float32)
    for c in range(N_CLASSES):  # three classes, not a loop over objects
        d = np.where(valid & (cls == c), dist, np.inf)
        order = np.argsort(d, axis=1, kind="stable")[:, :k]
        rows = np.arange(b)[:, None]
        ok = np.isfinite(d[rows, order])
        block = np.concatenate([position[rows, order] / POSITION_SCALE, np.sin(heading[rows, order])[..., None],
                                np.cos(heading[rows, order])[..., None], score[rows, order][..., None],
                                light_probs[rows, order]], axis=-1)
        out[:, c, : order.shape[1]] = np.where(ok[..., None], block, 0.0)
    return out.reshape(b, -1)


def oracle_features(labels: dict[str, np.ndarray], lidar: np.ndarray, state: np.ndarray, k: int) -> np.ndarray:
    """Ground-truth ("oracle") perception in the same layout: labels from the camera (B, O) arrays."""
    light = labels["light"]
    probs = np.stack([light == 3, light == 2, light == 1], axis=-1).astype(np.float32)
    objects = objects_to_features(labels["cls"], labels["position"], labels["angle"],
                                  np.ones(labels["cls"].shape, dtype=np.float32), probs, labels["visible"], k)
    return np.concatenate([objects, lidar.astype(np.float32), state.astype(np.float32)], axis=1)


def detections_to_features(detections: list[dict[str, np.ndarray]], camera, lidar: np.ndarray, state: np.ndarray,
                           k: int) -> np.ndarray:
    """Perception features from Detector output (pixels) for frames of a camera with `camera`
    (a CameraConfig): positions go from pixels to the ego frame (x forward, y left) [m]."""
    n = max((len(d["cls"]) for d in detections), default=0)
    b = len(detections)
    cls = np.full((b, max(n, 1)), -1)
    pos = np.zeros((b, max(n, 1), 2))
    heading, score = np.zeros((b, max(n, 1))), np.zeros((b, max(n, 1)))
    probs, valid = np.zeros((b, max(n, 1), 3)), np.zeros((b, max(n, 1)), dtype=bool)
    for i, d in enumerate(detections):  # a few detections per frame: pack into padded arrays
        m = len(d["cls"])
        u, v = d["centre"][:, 0], d["centre"][:, 1]
        cls[i, :m], heading[i, :m], score[i, :m], probs[i, :m], valid[i, :m] = (
            d["cls"], d["angle"], d["score"], d["light_probs"], True)
        pos[i, :m, 0] = (camera.ego_row * camera.height - v) * camera.metres_per_pixel
        pos[i, :m, 1] = (camera.width / 2 - u) * camera.metres_per_pixel
    probs = np.where((cls == 2)[..., None], probs, 0.0)
    objects = objects_to_features(cls, pos, heading, score, probs, valid, k)
    return np.concatenate([objects, lidar.astype(np.float32), state.astype(np.float32)], axis=1)
