"""Perception features for agents: a fixed-size vector per frame (B, F).

Layout (`FeatureLayout.slices`): for each class (car, pedestrian, traffic light) the K nearest
objects in the ego frame, sorted by distance, each (x forward / 30 m, y left / 30 m, sin heading,
cos heading, [vx forward / 10 m/s, vy left / 10 m/s,] confidence, p_red, p_yellow, p_green) — light
probabilities are zero for cars and pedestrians, velocities are over the ground and only present
with `velocities` — padded with zeros; then the lidar ranges (N), the state vector (16) and, with
`route`, the route's next waypoints in the ego frame (`route` observation, 20). The same layout is
filled from the CNN's detections (`detections_to_features`) or from ground-truth labels
(`oracle_features`, confidence 1), so a policy can be trained on either. Everything is vectorised
over the batch (no Python loop over frames or objects).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drivesim.config import CameraConfig
from drivesim.perception.decode import Detections
from drivesim.perception.model import N_CLASSES

POSITION_SCALE = 30.0  # [m]
SPEED_SCALE = 10.0  # [m/s]
CLASS_BLOCKS = ("cars", "pedestrians", "traffic_lights")


@dataclass(frozen=True)
class FeatureLayout:
    """What the feature vector holds: K objects per class (with velocities or not), N lidar beams,
    the state vector."""

    k: int = 4  # nearest objects per class
    n_beams: int = 64  # lidar ranges
    state_dim: int = 16  # state vector
    velocities: bool = True  # each object carries its velocity (layouts before issue 14 had none)
    route_dim: int = 0  # the route observation's waypoints (0: not in the layout, as before issue 12)

    @property
    def per_object(self) -> int:
        return 10 if self.velocities else 8

    @property
    def size(self) -> int:
        return N_CLASSES * self.k * self.per_object + self.n_beams + self.state_dim + self.route_dim

    @property
    def observations(self) -> tuple[str, ...]:
        """The env observations the layout is built from (the camera for the objects)."""
        return ("camera", "lidar", "state", "route") if self.route_dim else ("camera", "lidar", "state")

    def slices(self) -> dict[str, slice]:
        """Named slices of the feature vector."""
        out, start = {}, 0
        for name in CLASS_BLOCKS:
            out[name] = slice(start, start + self.k * self.per_object)
            start += self.k * self.per_object
        out["lidar"] = slice(start, start + self.n_beams)
        out["state"] = slice(start + self.n_beams, start + self.n_beams + self.state_dim)
        start += self.n_beams + self.state_dim
        out["route"] = slice(start, start + self.route_dim)
        return out


def objects_to_features(cls: np.ndarray, position: np.ndarray, heading: np.ndarray, velocity: np.ndarray,
                        score: np.ndarray, light_probs: np.ndarray, valid: np.ndarray, layout: FeatureLayout
                        ) -> np.ndarray:
    """(B, N_CLASSES * k * per_object) from per-object arrays (B, O): cls, position (B, O, 2) [m] ego
    frame, heading [rad] ego frame, velocity (B, O, 2) [m/s] ego frame, score, light_probs (B, O, 3), valid."""
    b, k = len(cls), layout.k
    dist = np.hypot(position[..., 0], position[..., 1])
    out = np.zeros((b, N_CLASSES, k, layout.per_object), dtype=np.float32)
    rows = np.arange(b)[:, None]
    for c in range(N_CLASSES):  # three classes, not a loop over objects
        d = np.where(valid & (cls == c), dist, np.inf)
        order = np.argsort(d, axis=1, kind="stable")[:, :k]
        ok = np.isfinite(d[rows, order])[..., None]
        parts = [position[rows, order] / POSITION_SCALE, np.sin(heading[rows, order])[..., None],
                 np.cos(heading[rows, order])[..., None]]
        if layout.velocities:
            parts.append(velocity[rows, order] / SPEED_SCALE)
        parts += [score[rows, order][..., None], light_probs[rows, order]]
        out[:, c, : order.shape[1]] = np.where(ok, np.concatenate(parts, axis=-1), 0.0)
    return out.reshape(b, -1)


def _with_sensors(objects: np.ndarray, obs: dict[str, np.ndarray], layout: FeatureLayout) -> np.ndarray:
    parts = [objects, obs["lidar"], obs["state"]] + ([obs["route"]] if layout.route_dim else [])
    return np.concatenate([p.astype(np.float32, copy=False) for p in parts], axis=1)


def oracle_features(labels: dict[str, np.ndarray], obs: dict[str, np.ndarray], layout: FeatureLayout) -> np.ndarray:
    """Ground-truth ("oracle") perception in the same layout: the camera's labels (B, O) arrays and
    the lidar, state (and route) observations."""
    light = labels["light"]
    probs = np.stack([light == 3, light == 2, light == 1], axis=-1).astype(np.float32)
    objects = objects_to_features(labels["cls"], labels["position"], labels["angle"], labels["velocity"],
                                  np.ones(labels["cls"].shape, dtype=np.float32), probs, labels["visible"], layout)
    return _with_sensors(objects, obs, layout)


def pixels_to_ego(centre: np.ndarray, camera: CameraConfig) -> np.ndarray:
    """Pixel centres (..., 2) (u, v) -> ego-frame positions (..., 2) (forward, left) [m]."""
    mpp = camera.metres_per_pixel
    return np.stack([(camera.ego_row * camera.height - centre[..., 1]) * mpp,
                     (camera.width / 2 - centre[..., 0]) * mpp], axis=-1)


def detections_to_features(det: Detections, camera: CameraConfig, obs: dict[str, np.ndarray], layout: FeatureLayout
                           ) -> np.ndarray:
    """Perception features from the CNN's detections on frames of `camera`, and the lidar, state
    (and route) observations."""
    probs = np.where((det.cls == 2)[..., None], det.light_probs, 0.0)
    objects = objects_to_features(det.cls, pixels_to_ego(det.centre, camera), det.angle, det.velocity, det.score,
                                  probs, det.valid, layout)
    return _with_sensors(objects, obs, layout)
