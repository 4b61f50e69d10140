"""Detection metrics for PerceptionNet (`drivesim eval-perception`).

Average precision per class with centre-distance matching at 0.5, 1, 2 and 4 m (as nuScenes
does; distances in the ground plane, pixels x metres-per-pixel), their mean (mAP), light-state
accuracy and confusion matrix on matched traffic lights; velocity errors of matched cars and
pedestrians within VELOCITY_RANGE of the ego; crowd AP (pedestrians
within CROWD_DISTANCE of another one, the others ignored, as COCO ignores out-of-range objects:
detections matched to them count neither way, and an unmatched detection is a false positive only
inside the crowd, within CROWD_DISTANCE of a crowd pedestrian, as COCO ignores unmatched detections
outside an area range; elsewhere it is the pedestrian AP's false positive), and the strict variant
that counts every unmatched pedestrian detection of every frame against the crowd;
the same per source (suite scenario or crowded crosswalks); and the throughput of the whole
pipeline (stacking the two frames, the network, decoding) at batch 1 and 256, in int8 and fp32 on
the CPU and on CUDA when there is one.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from drivesim.perception.dataset import load_split
from drivesim.perception.detector import Detector
from drivesim.perception.model import count_macs, count_parameters
from drivesim.perception.runtime import int8_available
from drivesim.perception.train import load_checkpoint, pick_device

CLASS_NAMES = ("car", "pedestrian", "traffic_light")
THRESHOLDS = (0.5, 1.0, 2.0, 4.0)  # [m] centre distance for a match
LIGHT_NAMES = ("red", "yellow", "green")
MIN_SCORE = 0.05  # detections below are dropped before matching
VELOCITY_RANGE = 20.0  # [m] velocity errors are measured on objects this close to the ego
VELOCITY_MATCH = 1.0  # [m] centre distance of the matches whose velocities are compared
CROWD_DISTANCE = 1.5  # [m] a pedestrian this close to another one is in a crowd


def average_precision(scores: np.ndarray, matched: np.ndarray, n_gt: int) -> float:
    """All-point interpolated AP from detection scores and whether each matched a ground truth."""
    if n_gt == 0:
        return float("nan")
    if len(scores) == 0:
        return 0.0
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(matched[order])
    fp = np.cumsum(~matched[order])
    recall = tp / n_gt
    precision = tp / np.maximum(tp + fp, 1e-9)
    precision = np.maximum.accumulate(precision[::-1])[::-1]  # monotone envelope
    recall = np.concatenate([[0.0], recall])
    return float(np.sum((recall[1:] - recall[:-1]) * precision))


def match_frame(det_xy: np.ndarray, det_score: np.ndarray, gt_xy: np.ndarray, threshold: float,
                counted: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Greedy matching by descending score to the nearest unmatched ground truth within threshold;
    with `counted` (bool per ground truth) a detection takes a counted one within the threshold
    before an ignored one (as COCO does with its ignore flags). Returns (matched flag per
    detection, index of the matched ground truth or -1)."""
    matched = np.zeros(len(det_xy), dtype=bool)
    which = np.full(len(det_xy), -1)
    taken = np.zeros(len(gt_xy), dtype=bool)
    for i in np.argsort(-det_score, kind="stable"):
        if len(gt_xy) == 0:
            break
        d = np.where(taken, np.inf, np.linalg.norm(gt_xy - det_xy[i], axis=1))
        if counted is not None and np.any(counted & (d <= threshold)):
            d = np.where(counted, d, np.inf)
        j = int(np.argmin(d))
        if d[j] <= threshold:
            matched[i], which[i], taken[j] = True, j, True
    return matched, which


def class_ap(dets: list[dict[str, np.ndarray]], gts: list[dict[str, np.ndarray]], c: int, threshold: float,
             mpp: float, counted: str | None = None, region: float | None = None) -> float:
    """AP of class c at a centre-distance threshold [m]. With `counted` (a boolean ground-truth field),
    only those ground truths count; detections matched to the others are ignored (neither right nor
    wrong); unmatched detections are false positives, with `region` [m] only those within that
    distance of a counted ground truth (the others are ignored)."""
    scores, flags, n_gt = [], [], 0
    for det, gt in zip(dets, gts, strict=True):
        dk, gk = det["cls"] == c, gt["cls"] == c
        ok = gt[counted][gk] if counted is not None else None
        det_xy, gt_xy = det["centre"][dk] * mpp, gt["centre"][gk] * mpp
        matched, which = match_frame(det_xy, det["score"][dk], gt_xy, threshold, ok)
        keep = np.ones(len(matched), dtype=bool)
        if ok is not None:
            keep = ~matched | (ok[np.maximum(which, 0)] if len(ok) else False)
            if region is not None:
                near = (np.linalg.norm(det_xy[:, None] - gt_xy[ok][None], axis=-1) <= region).any(axis=1)
                keep &= matched | near
            n_gt += int(ok.sum())
        else:
            n_gt += int(gk.sum())
        scores.append(det["score"][dk][keep])
        flags.append(matched[keep])
    return average_precision(np.concatenate(scores), np.concatenate(flags), n_gt)


def detection_metrics(dets: list[dict[str, np.ndarray]], gts: list[dict[str, np.ndarray]], mpp: float
                      ) -> dict[str, Any]:
    """dets/gts: per frame dicts with cls (n,), centre (n, 2) [px], score (det), light (gt: Light
    value; det: light_probs (n, 3)), velocity (n, 2) [m/s]; gts also position (n, 2) [m] and crowd
    (n,) bool."""
    ap = {name: {thr: class_ap(dets, gts, c, thr, mpp) for thr in THRESHOLDS} for c, name in enumerate(CLASS_NAMES)}
    crowd = {thr: class_ap(dets, gts, 1, thr, mpp, counted="crowd", region=CROWD_DISTANCE) for thr in THRESHOLDS}
    strict = {thr: class_ap(dets, gts, 1, thr, mpp, counted="crowd") for thr in THRESHOLDS}
    confusion = np.zeros((3, 3), dtype=np.int64)  # rows: true red/yellow/green, cols: predicted
    for det, gt in zip(dets, gts, strict=True):
        dk, gk = det["cls"] == 2, gt["cls"] == 2
        m, which = match_frame(det["centre"][dk] * mpp, det["score"][dk], gt["centre"][gk] * mpp, 2.0)
        _confuse(confusion, det["light_probs"][dk][m], gt["light"][gk][which[m]])
    per_class = {name: _mean(list(v.values())) for name, v in ap.items()}
    total = confusion.sum()
    n_crowd = int(sum(g["crowd"].sum() for g in gts))
    return {"mAP": _mean(list(per_class.values())), "ap": per_class,
            "ap_by_threshold": {n: {str(t): v for t, v in d.items()} for n, d in ap.items()},
            "crowd_ap": _mean(list(crowd.values())),
            "crowd_ap_by_threshold": {str(t): v for t, v in crowd.items()}, "crowd_pedestrians": n_crowd,
            "crowd_ap_strict": _mean(list(strict.values())),
            "crowd_ap_strict_by_threshold": {str(t): v for t, v in strict.items()},
            "light_state_accuracy": float(np.trace(confusion) / total) if total else float("nan"),
            "light_confusion": confusion.tolist(), "light_labels": list(LIGHT_NAMES),
            "velocity": velocity_errors(dets, gts, mpp)}


def _mean(values: list[float]) -> float:
    """Mean of the values that are not NaN (a class absent from the frames has a NaN AP); NaN if none."""
    finite = [v for v in values if not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def velocity_errors(dets: list[dict[str, np.ndarray]], gts: list[dict[str, np.ndarray]], mpp: float
                    ) -> dict[str, dict[str, float]]:
    """Velocity error |v_detected - v_true| [m/s] of cars and pedestrians matched within
    VELOCITY_MATCH, within VELOCITY_RANGE of the ego: median, mean, 90th percentile and count per
    class; also the median over objects that stand (< 0.2 m/s) and that move."""
    out = {}
    for c, name in enumerate(CLASS_NAMES[:2]):
        errors, speeds = [], []
        for det, gt in zip(dets, gts, strict=True):
            dk, gk = det["cls"] == c, gt["cls"] == c
            m, which = match_frame(det["centre"][dk] * mpp, det["score"][dk], gt["centre"][gk] * mpp, VELOCITY_MATCH)
            true = gt["velocity"][gk][which[m]]
            near = np.hypot(*gt["position"][gk][which[m]].T) <= VELOCITY_RANGE
            errors.append(np.linalg.norm(det["velocity"][dk][m] - true, axis=1)[near])
            speeds.append(np.linalg.norm(true, axis=1)[near])
        e, v = np.concatenate(errors), np.concatenate(speeds)
        stats = {"median": np.median(e), "mean": e.mean(), "p90": np.percentile(e, 90)} if len(e) else {}
        stats |= {"median_standing": np.median(e[v < 0.2]) if (v < 0.2).any() else np.nan,
                  "median_moving": np.median(e[v >= 0.2]) if (v >= 0.2).any() else np.nan}
        out[name] = {k: float(x) for k, x in stats.items()} | {"count": len(e)}
    return out


def _confuse(confusion: np.ndarray, probs: np.ndarray, true_light: np.ndarray) -> None:
    true_idx = {3: 0, 2: 1, 1: 2}
    for p, t in zip(probs, true_light, strict=True):
        if int(t) in true_idx:
            confusion[true_idx[int(t)], int(np.argmax(p))] += 1


def predict(detector: Detector, data: dict[str, np.ndarray], batch_size: int = 256) -> list[dict[str, np.ndarray]]:
    """Detections (confidence >= the detector's threshold) per frame as numpy dicts."""
    out: list[dict[str, np.ndarray]] = []
    for start in range(0, len(data["frames"]), batch_size):
        sl = slice(start, start + batch_size)
        det = detector(data["frames"][sl], data["history"][sl])
        out.extend(det.frame(b) for b in range(len(det.score)))
    return out


def ground_truth(data: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    """Per frame: the visible labels, with `crowd` (a pedestrian within CROWD_DISTANCE of another one)."""
    out = []
    for i in range(len(data["frames"])):
        keep = data["valid"][i]
        gt = {k: data[k][i][keep] for k in ("cls", "centre", "light", "velocity", "position")}
        ped = gt["cls"] == 1
        xy = gt["position"][ped]
        d = np.linalg.norm(xy[:, None] - xy[None], axis=-1) + np.eye(len(xy)) * 1e9
        crowd = np.zeros(len(gt["cls"]), dtype=bool)
        crowd[ped] = (d < CROWD_DISTANCE).any(axis=1) if len(xy) else False
        gt["crowd"] = crowd
        out.append(gt)
    return out


def throughput(detector: Detector, frames: np.ndarray, history: np.ndarray, batch: int, seconds: float = 2.0
               ) -> float:
    """Frames per second of the whole pipeline (stacking the two frames, network, decoding) at a batch
    size, on real frames (decoding costs more with more objects; noise would be all objects)."""
    idx = np.arange(batch) % len(frames)
    frames, history = np.ascontiguousarray(frames[idx]), np.ascontiguousarray(history[idx])
    start = time.perf_counter()
    while time.perf_counter() - start < min(1.0, seconds):  # warm up (kernels for this batch size, caches)
        detector(frames, history)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        detector(frames, history)
        n += batch
    return n / (time.perf_counter() - start)


def evaluate(weights: str, data_dir: str, out: str, frames: int = 0, device: str = "auto",
             fps_seconds: float = 2.0, precision: str = "auto", origin: str | None = None) -> dict[str, Any]:
    """Evaluate on the held-out split of `data_dir`; write metrics.json and report.md into `out`.
    `origin` says in the report where the frames came from (default: the held-out split of `data_dir`)."""
    dev = pick_device(device)
    model, _ = load_checkpoint(weights, "cpu")
    manifest = json.loads((Path(data_dir) / "manifest.json").read_text())
    mpp = float(manifest["camera"]["metres_per_pixel"])
    data = load_split(data_dir, "val")
    if frames:
        data = {k: v[:frames] for k, v in data.items()}
    if len(data["frames"]) == 0:
        raise ValueError(f"{data_dir}: the validation split is empty; collect more frames")
    detector = Detector(weights, device, threshold=MIN_SCORE, precision=precision)
    dets, gts = predict(detector, data), ground_truth(data)
    metrics = detection_metrics(dets, gts, mpp)
    metrics["by_source"] = {}
    for source in np.unique(data["source"]):
        sel = np.flatnonzero(data["source"] == source)
        m = detection_metrics([dets[i] for i in sel], [gts[i] for i in sel], mpp)
        metrics["by_source"][str(source)] = {"frames": len(sel), "mAP": m["mAP"], "ap": m["ap"], "crowd_ap": m["crowd_ap"],
                                             "crowd_pedestrians": m["crowd_pedestrians"]}
    h, w = data["frames"].shape[1:3]
    metrics["fps"] = fps_table(weights, dev, data["frames"][:256], data["history"][:256], fps_seconds)
    metrics.update({"frames": len(data["frames"]), "weights": _shown(weights), "device": str(dev),
                    "origin": origin or f"the held-out split of `{_shown(data_dir)}`",
                    "precision": detector.precision, "parameters": count_parameters(model),
                    "macs_per_frame": count_macs(model, h, w), "torch_threads": torch.get_num_threads()})
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    _examples(data, dets, out_dir / "examples.png", mpp)
    (out_dir / "report.md").write_text(markdown(metrics))
    return metrics


def fps_table(weights: str, device: torch.device, frames: np.ndarray, history: np.ndarray, seconds: float
              ) -> dict[str, dict[str, float]]:
    """Pipeline frames/s at batch 1 and 256: int8 and fp32 on the CPU, fp16 on CUDA when present."""
    runs = {"cpu_int8": ("cpu", "int8"), "cpu_fp32": ("cpu", "fp32")}
    if device.type == "cuda":
        runs["cuda_fp16"] = ("cuda", "fp32")
    table = {}
    for name, (dev, precision) in runs.items():
        if precision == "int8" and not (int8_available() and "int8_observers" in load_checkpoint(weights)[1]):
            continue  # no int8 here: this PyTorch lacks FX quantization or the checkpoint its observers
        det = Detector(weights, dev, precision=precision)
        table[name] = {"batch_1": throughput(det, frames, history, 1, seconds),
                       "batch_256": throughput(det, frames, history, 256, seconds)}
    return table


def _shown(path: str) -> str:
    """A path as the report shows it: relative to the working directory when it lies under it."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(Path.cwd())) if resolved.is_relative_to(Path.cwd()) else str(path)


def markdown(m: dict[str, Any]) -> str:
    rows = "\n".join(f"| {n} | {m['ap'][n]:.3f} | " + " | ".join(f"{m['ap_by_threshold'][n][str(t)]:.3f}"
                                                              for t in THRESHOLDS) + " |" for n in CLASS_NAMES)
    crowd = (f"| pedestrian, crowd (within {CROWD_DISTANCE} m of another; {m['crowd_pedestrians']} of them) | "
             f"{m['crowd_ap']:.3f} | " + " | ".join(f"{m['crowd_ap_by_threshold'][str(t)]:.3f}" for t in THRESHOLDS) + " |\n"
             "| pedestrian, crowd, strict (every unmatched pedestrian detection of every frame a false positive) | "
             f"{m['crowd_ap_strict']:.3f} | "
             + " | ".join(f"{m['crowd_ap_strict_by_threshold'][str(t)]:.3f}" for t in THRESHOLDS) + " |")
    nan = float("nan")
    vel = "\n".join(f"| {n} | {v.get('median', nan):.2f} | {v.get('mean', nan):.2f} | {v.get('p90', nan):.2f} | "
                    f"{v['median_standing']:.2f} | {v['median_moving']:.2f} | {v['count']} |"
                    for n, v in m["velocity"].items())
    fps = "\n".join(f"| {name} | {v['batch_1']:,.0f} | {v['batch_256']:,.0f} |" for name, v in m["fps"].items())
    sources = "\n".join(f"| {name} | {v['frames']} | {v['mAP']:.3f} | {v['ap']['car']:.3f} | {v['ap']['pedestrian']:.3f} | "
                        f"{v['ap']['traffic_light']:.3f} | {v['crowd_ap']:.3f} ({v['crowd_pedestrians']}) |"
                        for name, v in m["by_source"].items())
    return (f"# Perception evaluation\n\n{m['frames']} frames ({m.get('origin', 'held out')}), "
            f"weights `{m['weights']}`, device {m['device']} "
            f"({m['precision']}).\n\n"
            f"mAP **{m['mAP']:.3f}**, crowd AP **{m['crowd_ap']:.3f}** (strict {m['crowd_ap_strict']:.3f}), "
            "light-state accuracy "
            f"**{m['light_state_accuracy']:.3f}**; {m['parameters']:,} parameters, {m['macs_per_frame'] / 1e6:.1f} M "
            "multiply-adds per frame.\n\n"
            "| class | AP | " + " | ".join(f"AP@{t} m" for t in THRESHOLDS) + " |\n|---|---|" + "---|" * len(THRESHOLDS)
            + f"\n{rows}\n{crowd}\n\n"
            f"Velocity error [m/s] of matched objects within {VELOCITY_RANGE:.0f} m:\n\n"
            "| class | median | mean | p90 | median standing | median moving | objects |\n"
            f"|---|---|---|---|---|---|---|\n{vel}\n\n"
            f"Light-state confusion (rows true, columns predicted; red, yellow, green): {m['light_confusion']}\n\n"
            f"Frames/s of the whole pipeline (stacking, network, decoding; {m['torch_threads']} threads):\n\n"
            f"| runtime | batch 1 | batch 256 |\n|---|---|---|\n{fps}\n\n"
            "By source:\n\n| source | frames | mAP | car | pedestrian | light | crowd AP (pedestrians) |\n"
            f"|---|---|---|---|---|---|---|\n{sources}\n\n![examples](examples.png)\n")


def _examples(data: dict[str, np.ndarray], dets: list[dict[str, np.ndarray]], path: Path, mpp: float,
              n: int = 6) -> None:
    """Predictions (coloured by class, with a line to where the detected velocity takes them in 1 s)
    drawn over ground truth (white circles) on a few frames, enlarged 3x."""
    import cv2

    colours = [(255, 220, 0), (0, 240, 255), (255, 60, 255)]
    at = lambda u, v: (int(round(3 * u + 1)), int(round(3 * v + 1)))  # noqa: E731  pixel centres at integers
    tiles = []
    for i in np.linspace(0, len(dets) - 1, n).astype(int):
        img = cv2.resize(data["frames"][i], None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST)
        for (u, v) in data["centre"][i][data["valid"][i]]:
            cv2.circle(img, at(u, v), 9, (255, 255, 255), 1)
        d = dets[i]
        for c, s, (u, v), (vx, vy) in zip(d["cls"], d["score"], d["centre"], d["velocity"], strict=True):
            if s >= 0.3:
                cv2.drawMarker(img, at(u, v), colours[int(c)], cv2.MARKER_CROSS, 10, 2)
                cv2.line(img, at(u, v), at(u - vy / mpp, v - vx / mpp), colours[int(c)], 1)
        tiles.append(img)
    cv2.imwrite(str(path), np.concatenate(tiles, axis=1)[:, :, ::-1])


