"""Detection metrics for PerceptionNet (`drivesim eval-perception`).

Average precision per class with centre-distance matching at 0.5, 1, 2 and 4 m (as nuScenes
does; distances in the ground plane, pixels x metres-per-pixel), their mean (mAP), light-state
accuracy and confusion matrix on matched traffic lights, and inference throughput.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from drivesim.perception.dataset import load_split
from drivesim.perception.model import count_macs, count_parameters, for_inference
from drivesim.perception.targets import Detections, decode
from drivesim.perception.train import load_checkpoint, pick_device

CLASS_NAMES = ("car", "pedestrian", "traffic_light")
THRESHOLDS = (0.5, 1.0, 2.0, 4.0)  # [m] centre distance for a match
LIGHT_NAMES = ("red", "yellow", "green")
MIN_SCORE = 0.05  # detections below are dropped before matching


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


def match_frame(det_xy: np.ndarray, det_score: np.ndarray, gt_xy: np.ndarray, threshold: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Greedy matching by descending score to the nearest unmatched ground truth within threshold.
    Returns (matched flag per detection, index of the matched ground truth or -1)."""
    matched = np.zeros(len(det_xy), dtype=bool)
    which = np.full(len(det_xy), -1)
    taken = np.zeros(len(gt_xy), dtype=bool)
    for i in np.argsort(-det_score, kind="stable"):
        if len(gt_xy) == 0:
            break
        d = np.where(taken, np.inf, np.linalg.norm(gt_xy - det_xy[i], axis=1))
        j = int(np.argmin(d))
        if d[j] <= threshold:
            matched[i], which[i], taken[j] = True, j, True
    return matched, which


def detection_metrics(dets: list[dict[str, np.ndarray]], gts: list[dict[str, np.ndarray]], mpp: float
                      ) -> dict[str, Any]:
    """dets/gts: per frame dicts with cls (n,), centre (n, 2) [px], score (det), light (gt: Light
    value; det: light_probs (n, 3))."""
    ap = {name: {} for name in CLASS_NAMES}
    confusion = np.zeros((3, 3), dtype=np.int64)  # rows: true red/yellow/green, cols: predicted
    for c, name in enumerate(CLASS_NAMES):
        for thr in THRESHOLDS:
            scores, flags, n_gt = [], [], 0
            for det, gt in zip(dets, gts, strict=True):
                dk, gk = det["cls"] == c, gt["cls"] == c
                m, which = match_frame(det["centre"][dk] * mpp, det["score"][dk], gt["centre"][gk] * mpp, thr)
                scores.append(det["score"][dk])
                flags.append(m)
                n_gt += int(gk.sum())
                if name == "traffic_light" and thr == 2.0:
                    _confuse(confusion, det["light_probs"][dk][m], gt["light"][gk][which[m]])
            ap[name][thr] = average_precision(np.concatenate(scores), np.concatenate(flags), n_gt)
    per_class = {name: float(np.nanmean(list(v.values()))) for name, v in ap.items()}
    total = confusion.sum()
    return {"mAP": float(np.nanmean(list(per_class.values()))), "ap": per_class,
            "ap_by_threshold": {n: {str(t): v for t, v in d.items()} for n, d in ap.items()},
            "light_state_accuracy": float(np.trace(confusion) / total) if total else float("nan"),
            "light_confusion": confusion.tolist(), "light_labels": list(LIGHT_NAMES)}


def _confuse(confusion: np.ndarray, probs: np.ndarray, true_light: np.ndarray) -> None:
    true_idx = {3: 0, 2: 1, 1: 2}
    for p, t in zip(probs, true_light, strict=True):
        if int(t) in true_idx:
            confusion[true_idx[int(t)], int(np.argmax(p))] += 1


def predict(model: torch.nn.Module, frames: np.ndarray, device: torch.device, batch_size: int = 256,
            k: int = 48) -> list[dict[str, np.ndarray]]:
    """Detections per frame (score >= MIN_SCORE) as numpy dicts."""
    model = for_inference(model)
    out: list[dict[str, np.ndarray]] = []
    with torch.no_grad():
        for start in range(0, len(frames), batch_size):
            x = torch.from_numpy(frames[start:start + batch_size]).to(device).permute(0, 3, 1, 2).float() / 255.0
            x = x.contiguous(memory_format=torch.channels_last)
            det: Detections = decode(model(x), k)
            for b in range(len(x)):
                keep = det.score[b] >= MIN_SCORE
                out.append({"cls": det.cls[b][keep].cpu().numpy(), "score": det.score[b][keep].cpu().numpy(),
                            "centre": det.centre[b][keep].cpu().numpy(), "size": det.size[b][keep].cpu().numpy(),
                            "angle": det.angle[b][keep].cpu().numpy(),
                            "light_probs": det.light_probs[b][keep].cpu().numpy()})
    return out


def ground_truth(data: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    return [{"cls": data["cls"][i][data["valid"][i]], "centre": data["centre"][i][data["valid"][i]],
             "light": data["light"][i][data["valid"][i]]} for i in range(len(data["frames"]))]


def throughput(model: torch.nn.Module, shape: tuple[int, int], device: torch.device, batch: int,
               seconds: float = 2.0) -> float:
    """Frames per second of model forward + decode at a batch size (inference copy: BatchNorm
    folded, channels-last)."""
    model = for_inference(model)
    x = torch.rand(batch, 3, *shape, device=device).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        decode(model(x))
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            decode(model(x))
            n += batch
        if device.type == "cuda":
            torch.cuda.synchronize()
    return n / (time.perf_counter() - start)


def evaluate(weights: str, data_dir: str, out: str, frames: int = 0, device: str = "auto",
             fps_seconds: float = 2.0) -> dict[str, Any]:
    """Evaluate on the held-out split of `data_dir`; write metrics.json and report.md into `out`."""
    dev = pick_device(device)
    model, _ = load_checkpoint(weights, dev)
    manifest = json.loads((Path(data_dir) / "manifest.json").read_text())
    mpp = float(manifest["camera"]["metres_per_pixel"])
    data = load_split(data_dir, "val")
    if frames:
        data = {k: v[:frames] for k, v in data.items()}
    if len(data["frames"]) == 0:
        raise ValueError(f"{data_dir}: the validation split is empty; collect more frames")
    dets = predict(model, data["frames"], dev)
    metrics = detection_metrics(dets, ground_truth(data), mpp)
    h, w = data["frames"].shape[1:3]
    metrics["fps"] = {"batch_1": throughput(model, (h, w), dev, 1, fps_seconds),
                      "batch_256": throughput(model, (h, w), dev, 256, fps_seconds)}
    metrics.update({"frames": len(data["frames"]), "weights": str(weights), "device": str(dev),
                    "parameters": count_parameters(model), "macs_per_frame": count_macs(model, h, w)})
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    _examples(data, dets, out_dir / "examples.png")
    (out_dir / "report.md").write_text(markdown(metrics))
    return metrics


def markdown(m: dict[str, Any]) -> str:
    rows = "\n".join(f"| {n} | {m['ap'][n]:.3f} | " + " | ".join(f"{m['ap_by_threshold'][n][str(t)]:.3f}"
                                                             for t in THRESHOLDS) + " |" for n in CLASS_NAMES)
    return (f"# Perception evaluation\n\n{m['frames']} held-out frames, weights `{m['weights']}`, device {m['device']}.\n\n"
            f"mAP **{m['mAP']:.3f}**, light-state accuracy **{m['light_state_accuracy']:.3f}**, "
            f"{m['fps']['batch_1']:.0f} frames/s at batch 1, {m['fps']['batch_256']:.0f} at batch 256; "
            f"{m['parameters']:,} parameters, {m['macs_per_frame'] / 1e6:.1f} M multiply-adds per frame.\n\n"
            "| class | AP | " + " | ".join(f"AP@{t} m" for t in THRESHOLDS) + " |\n|---|---|" + "---|" * len(THRESHOLDS)
            + f"\n{rows}\n\nLight-state confusion (rows true, columns predicted; red, yellow, green): "
            f"{m['light_confusion']}\n\n![examples](examples.png)\n")


def _examples(data: dict[str, np.ndarray], dets: list[dict[str, np.ndarray]], path: Path, n: int = 6) -> None:
    """Predictions (coloured by class) drawn over ground truth (white) on a few frames."""
    import cv2

    colours = [(255, 220, 0), (0, 240, 255), (255, 60, 255)]
    tiles = []
    for i in np.linspace(0, len(dets) - 1, n).astype(int):
        img = cv2.resize(data["frames"][i], None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST)
        for (u, v) in data["centre"][i][data["valid"][i]]:
            cv2.circle(img, (int(u * 3), int(v * 3)), 9, (255, 255, 255), 1)
        for c, s, (u, v) in zip(dets[i]["cls"], dets[i]["score"], dets[i]["centre"], strict=True):
            if s >= 0.3:
                cv2.drawMarker(img, (int(u * 3), int(v * 3)), colours[int(c)], cv2.MARKER_CROSS, 10, 2)
        tiles.append(img)
    cv2.imwrite(str(path), np.concatenate(tiles, axis=1)[:, :, ::-1])


