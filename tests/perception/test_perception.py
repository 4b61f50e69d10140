"""Perception: dataset shards, label encoding round trip, augmentation, mAP, training, checkpoints,
features."""

import json

import numpy as np
import pytest
import torch

from drivesim.perception.dataset import CollectConfig, collect, load_split
from drivesim.perception.evaluate import average_precision, detection_metrics, match_frame
from drivesim.perception.features import feature_layout, objects_to_features, oracle_features
from drivesim.perception.model import PerceptionNet
from drivesim.perception.targets import decode, encode
from drivesim.perception.train import TrainConfig, augment, batch_loss, load_checkpoint, save_checkpoint, to_batch, train

SMALL = CollectConfig(frames=100, batch=4, every=5, steps_per_shard=60)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("data")
    collect(out, SMALL, progress=False)
    return out


def test_collect_writes_shards_manifest_and_resumes(dataset):
    manifest = json.loads((dataset / "manifest.json").read_text())
    assert sum(s["frames"] for s in manifest["shards"]) >= SMALL.frames
    before = (dataset / manifest["shards"][0]["file"]).stat().st_mtime
    collect(dataset, SMALL, progress=False)  # nothing left to do: resumes, rewrites nothing
    assert (dataset / manifest["shards"][0]["file"]).stat().st_mtime == before
    with pytest.raises(ValueError, match="same settings"):
        collect(dataset, CollectConfig(frames=100, batch=8), progress=False)
    train_split, val_split = load_split(dataset, "train"), load_split(dataset, "val")
    assert len(train_split["frames"]) + len(val_split["frames"]) == sum(s["frames"] for s in manifest["shards"])
    assert set(train_split["seed"]).isdisjoint(set(val_split["seed"]))  # held out by seed
    assert train_split["frames"].dtype == np.uint8 and train_split["frames"].shape[1:] == (96, 96, 3)


def _perfect_outputs(t, h=24, w=24):
    """Network outputs that reproduce the targets exactly."""
    b = t.index.shape[0]
    out = {"heatmap": torch.logit(t.heatmap.clamp(1e-4, 1 - 1e-4)), "offset": torch.zeros(b, 2, h, w),
           "size": torch.zeros(b, 2, h, w), "heading": torch.zeros(b, 2, h, w), "light": torch.full((b, 3, h, w), -5.0)}
    for i, o in zip(*torch.nonzero(t.mask, as_tuple=True), strict=True):
        cy, cx = divmod(int(t.index[i, o]), w)
        out["offset"][i, :, cy, cx] = t.offset[i, o]
        out["size"][i, :, cy, cx] = t.size[i, o]
        out["heading"][i, :, cy, cx] = t.heading[i, o]
        if t.light[i, o] >= 0:
            out["light"][i, t.light[i, o], cy, cx] = 5.0
    return out


def test_encode_decode_round_trip_recovers_labels():
    cls = torch.tensor([[0, 1, 2, 0]])
    centre = torch.tensor([[[10.3, 20.7], [50.0, 60.2], [80.9, 12.1], [40.5, 88.0]]])
    size = torch.tensor([[[11.0, 5.0], [3.0, 3.0], [4.5, 4.5], [11.0, 5.0]]])
    angle = torch.tensor([[0.3, -1.0, 0.0, 2.5]])
    light = torch.tensor([[0, 0, 3, 0]])
    valid = torch.ones(1, 4, dtype=torch.bool)
    t = encode(cls, centre, size, angle, light, valid, 96, 96)
    det = decode(_perfect_outputs(t), k=8)
    keep = det.score[0] > 0.5
    assert keep.sum() == 4
    for c, xy, s, a in zip(cls[0], centre[0], size[0], angle[0], strict=True):
        i = torch.argmin(torch.linalg.norm(det.centre[0][keep] - xy, dim=-1))
        assert det.cls[0][keep][i] == c
        assert torch.allclose(det.centre[0][keep][i], xy, atol=1e-4)
        assert torch.allclose(det.size[0][keep][i], s, atol=1e-4)
        assert abs(float(det.angle[0][keep][i] - a)) < 1e-4
    light_det = det.light_probs[0][keep][det.cls[0][keep] == 2]
    assert int(light_det.argmax()) == 0  # red


def test_flip_augmentation_keeps_labels_on_objects(dataset):
    data = load_split(dataset, "train")
    idx = np.arange(min(16, len(data["frames"])))
    batch = to_batch(data, idx, torch.device("cpu"))
    before = {k: v.clone() for k, v in batch.items()}
    cfg = TrainConfig(flip=True, colour_jitter=0.0)
    flipped = augment(batch, cfg, torch.Generator().manual_seed(1))
    for b in range(len(idx)):
        for o in torch.nonzero(before["valid"][b]).flatten():
            u0, v0 = before["centre"][b, o].long().tolist()
            u1, v1 = flipped["centre"][b, o].clamp(max=95.0).long().tolist()
            if 1 <= u0 <= 94 and abs(u1 - (95 - u0)) <= 1:  # pixel (u, v) moved to (W-1-u, v)
                assert torch.allclose(before["frames"][b, :, v0, u0], flipped["frames"][b, :, v1, 95 - u0], atol=1e-6) or \
                       torch.allclose(before["frames"][b, :, v0, u0], flipped["frames"][b, :, v0, 95 - u0], atol=1e-6)


def test_average_precision_and_matching_by_hand():
    assert average_precision(np.array([0.9, 0.8]), np.array([True, True]), 2) == pytest.approx(1.0)
    assert average_precision(np.array([0.9, 0.8]), np.array([False, True]), 2) == pytest.approx(0.25)
    assert average_precision(np.array([]), np.array([], dtype=bool), 3) == 0.0
    m, which = match_frame(np.array([[0.0, 0.0], [5.0, 0.0]]), np.array([0.9, 0.8]), np.array([[0.4, 0.0]]), 0.5)
    assert m.tolist() == [True, False] and which.tolist() == [0, -1]
    gt = [{"cls": np.array([0, 1]), "centre": np.array([[10.0, 10.0], [50.0, 50.0]]), "light": np.array([0, 0])}]
    det = [{"cls": np.array([0, 1]), "centre": np.array([[10.5, 10.0], [58.0, 50.0]]), "score": np.array([0.9, 0.8]),
            "light_probs": np.zeros((2, 3))}]
    metrics = detection_metrics(det, gt, mpp=0.4)  # car off by 0.2 m, pedestrian by 3.2 m
    assert metrics["ap"]["car"] == pytest.approx(1.0)
    assert metrics["ap"]["pedestrian"] == pytest.approx(0.25)  # matched only at the 4 m threshold
    assert np.isnan(metrics["ap"]["traffic_light"])


def test_tiny_training_lowers_the_loss_and_resumes(dataset, tmp_path):
    data = load_split(dataset, "train")
    model = PerceptionNet()
    batch = to_batch(data, np.arange(min(16, len(data["frames"]))), torch.device("cpu"))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = float(batch_loss(model, batch)["total"].detach())
    for _ in range(25):
        loss = batch_loss(model, batch)["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(batch_loss(model, batch)["total"].detach()) < 0.5 * first
    cfg = TrainConfig(data=str(dataset), out=str(tmp_path / "run"), epochs=1, batch_size=16, max_steps_per_epoch=2)
    result = train(cfg, progress=False)
    assert len(result["history"]) == 1 and (tmp_path / "run" / "last.pt").exists()
    assert any((tmp_path / "run" / "tb").iterdir())  # TensorBoard event file
    assert len(train(cfg, progress=False)["history"]) == 1  # resumed: nothing left to train


def test_checkpoint_round_trip_and_clear_errors(tmp_path):
    model = PerceptionNet().eval()
    save_checkpoint(tmp_path / "m.pt", model, {"note": "x"})
    loaded, ckpt = load_checkpoint(tmp_path / "m.pt")
    x = torch.rand(2, 3, 96, 96)
    with torch.no_grad():
        assert torch.allclose(model(x)["heatmap"], loaded.eval()(x)["heatmap"])
    (tmp_path / "corrupt.pt").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="corrupt.pt"):
        load_checkpoint(tmp_path / "corrupt.pt")
    torch.save({"version": 1, "model_config": {"width": 24, "in_channels": 3}, "model": model.state_dict()},
               tmp_path / "mismatch.pt")
    with pytest.raises(ValueError, match="do not match"):
        load_checkpoint(tmp_path / "mismatch.pt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "none.pt")


def test_features_layout_sorted_and_padded():
    layout = feature_layout(k=2, n_beams=4, state_dim=3)
    assert layout["cars"] == slice(0, 16) and layout["state"] == slice(52, 55)
    cls = np.array([[0, 0, 0, 1]])
    pos = np.array([[[20.0, 0.0], [5.0, 1.0], [10.0, 0.0], [3.0, 3.0]]])
    feats = objects_to_features(cls, pos, np.zeros((1, 4)), np.ones((1, 4)), np.zeros((1, 4, 3)),
                                np.ones((1, 4), dtype=bool), k=2)
    cars = feats[0, :16].reshape(2, 8)
    assert cars[0, 0] == pytest.approx(5.0 / 30) and cars[1, 0] == pytest.approx(10.0 / 30)  # nearest first
    peds = feats[0, 16:32].reshape(2, 8)
    assert peds[0, 4] == 1.0 and (peds[1] == 0).all()  # padded
    labels = {"cls": cls, "position": pos, "angle": np.zeros((1, 4)), "light": np.zeros((1, 4), dtype=int),
              "visible": np.ones((1, 4), dtype=bool)}
    assert oracle_features(labels, np.zeros((1, 4)), np.zeros((1, 3)), k=2).shape == (1, 55)


def test_detections_to_features_maps_pixels_to_ego_frame():
    from drivesim.config import CameraConfig
    from drivesim.perception.features import detections_to_features

    cam = CameraConfig()
    det = [{"cls": np.array([0]), "centre": np.array([[cam.width / 2 - 10.0, cam.ego_row * cam.height - 25.0]]),
            "angle": np.array([0.0]), "score": np.array([0.8]), "light_probs": np.array([[0.1, 0.1, 0.8]])}]
    feats = detections_to_features(det, cam, np.zeros((1, 4)), np.zeros((1, 3)), k=2)
    car = feats[0, :8]
    assert car[0] == pytest.approx(25.0 * cam.metres_per_pixel / 30.0)  # forward
    assert car[1] == pytest.approx(10.0 * cam.metres_per_pixel / 30.0)  # left
    assert car[4] == pytest.approx(0.8) and (car[5:] == 0).all()  # no light probabilities on a car


def test_inference_copy_matches_the_trained_model():
    from drivesim.perception.model import for_inference

    model = PerceptionNet()
    model.train()
    with torch.no_grad():  # give BatchNorm non-trivial statistics
        for _ in range(3):
            model(torch.rand(8, 3, 96, 96))
    model.eval()
    x = torch.rand(4, 3, 96, 96)
    with torch.no_grad():
        ref = model(x)
        fast = for_inference(model)(x.contiguous(memory_format=torch.channels_last))
    for key in ref:
        assert torch.allclose(ref[key], fast[key], atol=1e-4), key
