"""Perception: dataset shards, label encoding and decoding (velocities, crowds), augmentation,
metrics (mAP, crowd AP, velocity error), training, checkpoints, the int8 runtime, features."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from drivesim.config import CameraConfig
from drivesim.perception.dataset import CROWD, DATA_VERSION, CollectConfig, collect, load_split
from drivesim.perception.decode import decode
from drivesim.perception.evaluate import average_precision, detection_metrics, ground_truth, match_frame
from drivesim.perception.features import (
    ACCEL_FIELD,
    FeatureLayout,
    FeatureSpec,
    detections_to_features,
    objects_to_features,
    oracle_features,
    path_coordinates,
)
from drivesim.perception.inputs import CHANNELS, stack_frames
from drivesim.perception.model import HEAD_CHANNELS, SUB, PerceptionNet, fold_batchnorm, stack_tensors
from drivesim.perception.runtime import OUTPUT_MODULE, PerceptionRuntime, calibrate, int8_available
from drivesim.perception.targets import encode
from drivesim.perception.train import (
    TrainConfig,
    batch_loss,
    load_checkpoint,
    mirror,
    save_checkpoint,
    to_batch,
    train,
)
from drivesim.sensors.waypoints import WAYPOINT_DISTANCES

SMALL = CollectConfig(frames=100, batch=4, every=5, steps_per_shard=60)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("data")
    collect(out, SMALL, progress=False)
    return out


def test_collect_writes_shards_manifest_and_resumes(dataset):
    manifest = json.loads((dataset / "manifest.json").read_text())
    assert manifest["version"] == DATA_VERSION
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
    assert train_split["history"].shape == train_split["frames"].shape
    assert train_split["velocity"].shape == train_split["centre"].shape
    moving = np.linalg.norm(train_split["velocity"], axis=-1)[train_split["valid"]]
    assert (moving > 1.0).any()  # some labelled objects move
    assert set(train_split["source"]) <= {s["source"] for s in manifest["shards"]}


def test_collect_cycles_through_the_suite_and_crowded_crosswalks():
    from drivesim.perception.dataset import shard_configs

    sources = [name for _, (_, name, _) in zip(range(14), shard_configs(SMALL), strict=False)]
    assert sources[10] == CROWD and sources[12] == CROWD and len(set(sources)) == 12
    config = next(c for _, n, c in shard_configs(SMALL) if n == CROWD)
    assert config.traffic.n_pedestrians >= 80 and config.camera.history == 5


def test_old_datasets_get_a_clear_error(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"collect": {}, "camera": None, "shards": []}))
    with pytest.raises(ValueError, match="older drivesim"):
        load_split(tmp_path, "train")


def _raw_outputs(t):
    """The network's last layer (before the pixel shuffle) that reproduces the targets exactly."""
    m = t.mask[:, None].float()
    light = torch.where(F.one_hot(t.light.clamp(min=0), 3).permute(0, 3, 1, 2).bool() & t.mask[:, None], 5.0, -5.0)
    out = {"heatmap": torch.logit(t.heatmap.clamp(1e-4, 1 - 1e-4)), "offset": t.offset * m, "size": t.size * m,
           "heading": t.heading * m, "light": light, "velocity": t.velocity * m}
    return F.pixel_unshuffle(torch.cat([out[name] for name in HEAD_CHANNELS], dim=1), SUB)


def _labels(cls, centre, size, angle, light, velocity):
    t = lambda x, dtype=torch.float32: torch.tensor(x, dtype=dtype)[None]  # noqa: E731
    return {"cls": t(cls, torch.long), "centre": t(centre), "size": t(size), "angle": t(angle),
            "light": t(light, torch.long), "velocity": t(velocity), "valid": torch.ones(1, len(cls), dtype=torch.bool)}


def test_encode_decode_round_trip_recovers_labels_and_velocities():
    labels = _labels([0, 1, 2, 0], [[10.3, 20.7], [50.0, 60.2], [80.9, 12.1], [40.5, 88.0]],
                     [[11.0, 5.0], [3.0, 3.0], [4.5, 4.5], [11.0, 5.0]], [0.3, -1.0, 0.0, 2.5], [0, 0, 3, 0],
                     [[8.0, -0.5], [0.3, 1.3], [0.0, 0.0], [-4.0, 2.0]])
    det = decode(_raw_outputs(encode(labels, 96, 96)), k=8, threshold=0.5)
    assert det.valid[0].sum() == 4
    found = det.frame(0)
    for c, xy, s, a, v in zip(labels["cls"][0], labels["centre"][0], labels["size"][0], labels["angle"][0],
                              labels["velocity"][0], strict=True):
        i = int(np.argmin(np.linalg.norm(found["centre"] - xy.numpy(), axis=1)))
        assert found["cls"][i] == c
        np.testing.assert_allclose(found["centre"][i], xy.numpy(), atol=1e-4)
        np.testing.assert_allclose(found["size"][i], s.numpy(), atol=1e-4)
        np.testing.assert_allclose(found["velocity"][i], v.numpy(), atol=1e-4)
        assert abs(found["angle"][i] - float(a)) < 1e-4
    assert int(found["light_probs"][found["cls"] == 2].argmax()) == 0  # red
    assert (np.diff(det.score[0][det.valid[0]]) <= 0).all()  # sorted by confidence


def test_decode_keeps_pedestrians_standing_one_metre_apart():
    """Two pedestrians 1 m (2.5 px) apart fall in different 2-px output cells and both are found."""
    labels = _labels([1, 1], [[40.0, 50.0], [42.5, 50.0]], [[3.0, 3.0], [3.0, 3.0]], [0.0, 0.0], [0, 0],
                     [[0.0, 0.0], [1.4, 0.0]])
    t = encode(labels, 96, 96)
    found = decode(_raw_outputs(t), k=8, threshold=0.5).frame(0)
    assert len(found["cls"]) == 2
    np.testing.assert_allclose(np.sort(found["centre"][:, 0]), [40.0, 42.5], atol=1e-4)


def test_decode_threshold_and_limit():
    raw = torch.zeros(2, 56, 24, 24)
    raw[:, :12] = -10.0  # heatmap logits (3 classes x 4 sub-cells)
    raw[0, 0, 3, 4] = 2.0  # one car-class peak in frame 0 (sub-cell 0 of cell (3, 4))
    det = decode(raw, k=3, threshold=0.3)
    assert det.valid.sum() == 1 and det.cls[0, 0] == 0
    assert det.centre[0, 0].tolist() == pytest.approx([4 * 2 * 2 - 0.5, 3 * 2 * 2 - 0.5])
    assert decode(raw, k=3, threshold=0.95).valid.sum() == 0


@pytest.mark.parametrize("channels_last", [True, False])
def test_decode_reads_a_quantized_layer_as_its_dequantized_values(channels_last):
    """The int8 network's last layer comes quantized; decode reads its uint8 codes in place (or a
    copy where it is not channels-last) through torch's values of the codes: the same detections as
    from the dequantized floats, to the bit."""
    rng = np.random.default_rng(3)
    raw = torch.from_numpy(rng.normal(0.0, 2.0, (3, 56, 24, 24)).astype(np.float32))
    raw[:, :12] -= 4.0  # most heatmap logits low, some peaks through
    q = torch.quantize_per_tensor(raw, 0.11, 120, torch.quint8)
    if channels_last:
        q = q.contiguous(memory_format=torch.channels_last)
    got, want = decode(q, k=16, threshold=0.3), decode(q.dequantize(), k=16, threshold=0.3)
    assert got.valid.sum() > 10
    for name, a, b in zip(got._fields, got, want):
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_mirror_flips_frames_and_labels_together():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (2, 96, 96, 3), dtype=np.uint8)
    history = rng.integers(0, 255, (2, 96, 96, 3), dtype=np.uint8)
    labels = {"centre": np.array([[[10.0, 20.0]], [[30.0, 40.0]]]), "angle": np.array([[0.5], [0.5]]),
              "velocity": np.array([[[3.0, 1.0]], [[3.0, 1.0]]])}
    flip = np.array([True, False])
    f, h, lab = mirror(frames, history, labels, flip)
    assert (f[0] == frames[0, :, ::-1]).all() and (h[0] == history[0, :, ::-1]).all() and (f[1] == frames[1]).all()
    assert lab["centre"][0, 0].tolist() == [85.0, 20.0] and lab["centre"][1, 0].tolist() == [30.0, 40.0]
    assert lab["angle"][0, 0] == -0.5 and lab["velocity"][0, 0].tolist() == [3.0, -1.0]
    # a pixel and its label stay together: the frame value under the label centre moves with it
    assert (f[0, 20, 85] == frames[0, 20, 10]).all()


def test_stacking_in_numba_and_torch_agree():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 255, (3, 96, 96, 3), dtype=np.uint8)
    b = rng.integers(0, 255, (3, 96, 96, 3), dtype=np.uint8)
    stacked = stack_frames(a, b)
    assert stacked.shape == (3, 24, 24, CHANNELS)
    assert (stacked[1, 2, 5, :3] == a[1, 8, 20]).all() and (stacked[1, 2, 5, 3:6] == b[1, 8, 20]).all()
    to_t = lambda x: torch.from_numpy(x).permute(0, 3, 1, 2).float()  # noqa: E731
    ref = torch.from_numpy(stacked).permute(0, 3, 1, 2).float()
    assert torch.equal(stack_tensors(to_t(a), to_t(b)), ref)
    assert np.array_equal(stack_frames(a, b, shift=1), stacked >> 1)  # the int8 network's 7-bit pixels


@pytest.mark.parametrize("frames, history, out, message", [
    (np.zeros((2, 96, 96, 3)), np.zeros((2, 96, 96, 3)), None, "uint8"),  # floats would truncate to black
    (np.zeros((96, 96, 3), np.uint8), np.zeros((96, 96, 3), np.uint8), None, r"\(B, H, W, 3\)"),
    (np.zeros((2, 96, 96, 3), np.uint8), np.zeros((1, 96, 96, 3), np.uint8), None, "history frames"),
    (np.zeros((2, 96, 96, 3), np.uint8), np.zeros((2, 96, 96, 3), np.uint8), np.zeros((1, 24, 24, 96), np.uint8),
     "out must be"),
    (np.zeros((1, 90, 96, 3), np.uint8), np.zeros((1, 90, 96, 3), np.uint8), None, "multiples of 4"),
])
def test_stacking_rejects_bad_frames_with_a_clear_error(frames, history, out, message):
    with pytest.raises(ValueError, match=message):
        stack_frames(frames, history, out)


def test_metrics_by_hand_ap_crowd_ap_and_velocity_errors():
    assert average_precision(np.array([0.9, 0.8]), np.array([True, True]), 2) == pytest.approx(1.0)
    assert average_precision(np.array([0.9, 0.8]), np.array([False, True]), 2) == pytest.approx(0.25)
    assert average_precision(np.array([]), np.array([], dtype=bool), 3) == 0.0
    m, which = match_frame(np.array([[0.0, 0.0], [5.0, 0.0]]), np.array([0.9, 0.8]), np.array([[0.4, 0.0]]), 0.5)
    assert m.tolist() == [True, False] and which.tolist() == [0, -1]
    # an ignored ground truth nearer than a counted one within the threshold: the counted one is taken
    gts = np.array([[0.1, 0.0], [0.4, 0.0]])
    assert match_frame(np.zeros((1, 2)), np.array([0.9]), gts, 0.5)[1].tolist() == [0]
    assert match_frame(np.zeros((1, 2)), np.array([0.9]), gts, 0.5, np.array([False, True]))[1].tolist() == [1]
    assert match_frame(np.zeros((1, 2)), np.array([0.9]), gts, 0.3, np.array([False, True]))[1].tolist() == [0]
    # two pedestrians 1 m apart (a crowd) and one alone; the detector finds one of the pair and the lone one
    data = {"frames": np.zeros((1, 96, 96, 3)), "valid": np.ones((1, 4), dtype=bool),
            "cls": np.array([[0, 1, 1, 1]]), "centre": np.array([[[10.0, 10.0], [50.0, 50.0], [52.5, 50.0], [80.0, 20.0]]]),
            "light": np.zeros((1, 4), dtype=int), "velocity": np.array([[[5.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]]),
            "position": np.array([[[8.0, 15.0], [8.8, -0.8], [8.8, -1.8], [20.8, -12.8]]])}
    gt = ground_truth(data)
    assert gt[0]["crowd"].tolist() == [False, True, True, False]
    det = [{"cls": np.array([0, 1, 1]), "centre": np.array([[10.5, 10.0], [50.0, 50.0], [80.0, 28.0]]),
            "score": np.array([0.9, 0.8, 0.7]), "light_probs": np.zeros((3, 3)),
            "velocity": np.array([[4.0, 0.0], [1.5, 0.0], [0.0, 0.0]])}]
    metrics = detection_metrics(det, gt, mpp=0.4)
    assert metrics["ap"]["car"] == pytest.approx(1.0)  # off by 0.2 m
    assert metrics["crowd_ap"] == pytest.approx(0.5)  # one of the two crowded pedestrians, at every threshold
    assert metrics["crowd_ap_strict"] == pytest.approx(0.5)  # the stray detection scores below the crowd's
    # a confident stray pedestrian detection far from the crowd (12 m): the pedestrian AP's false positive,
    # not the crowd's (COCO-style); the strict variant counts it against the crowd
    stray = {k: np.concatenate([v, v[-1:]]) for k, v in det[0].items()}
    stray["centre"][-1], stray["score"][-1] = (20.0, 80.0), 0.95
    far = detection_metrics([stray], gt, mpp=0.4)
    assert far["crowd_ap"] == pytest.approx(0.5)
    assert far["crowd_ap_strict"] == pytest.approx(0.25)  # precision 1/2 at recall 1/2
    # the same detection inside the crowd (1.2 m from one of the pair, matching nothing at <= 1 m): it counts
    stray["centre"][-1] = (50.0, 53.0)
    near = detection_metrics([stray], gt, mpp=0.4)["crowd_ap_by_threshold"]
    assert near["0.5"] == pytest.approx(0.25) and near["1.0"] == pytest.approx(0.25)
    assert np.isnan(metrics["ap"]["traffic_light"])
    assert metrics["velocity"]["car"]["median"] == pytest.approx(1.0)
    assert metrics["velocity"]["pedestrian"]["median"] == pytest.approx(0.5)  # the lone one's match is 3.2 m off


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
    _, best = load_checkpoint(tmp_path / "run" / "best.pt")
    assert ("int8_observers" in best) == int8_available()
    assert len(train(cfg, progress=False)["history"]) == 1  # resumed: nothing left to train


def test_checkpoint_round_trip_and_clear_errors(tmp_path):
    model = PerceptionNet().eval()
    save_checkpoint(tmp_path / "m.pt", model, {"note": "x"})
    loaded, ckpt = load_checkpoint(tmp_path / "m.pt")
    x = torch.rand(2, CHANNELS, 24, 24)
    with torch.no_grad():
        assert torch.allclose(model(x)["heatmap"], loaded.eval()(x)["heatmap"])
    (tmp_path / "corrupt.pt").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="corrupt.pt"):
        load_checkpoint(tmp_path / "corrupt.pt")
    torch.save({"version": 1, "model_config": {"width": 32, "in_channels": 3}, "model": {}}, tmp_path / "old.pt")
    with pytest.raises(ValueError, match="version 1.*train it again"):
        load_checkpoint(tmp_path / "old.pt")
    torch.save({"version": 2, "model_config": {"width": 24}, "model": model.state_dict()}, tmp_path / "mismatch.pt")
    with pytest.raises(ValueError, match="do not match"):
        load_checkpoint(tmp_path / "mismatch.pt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "none.pt")
    torch.save({"version": 2, "model": model.state_dict()}, tmp_path / "shapeless.pt")
    with pytest.raises(ValueError, match="shapeless.pt: no model_config"):
        load_checkpoint(tmp_path / "shapeless.pt")
    torch.save({"version": 2, "model_config": {"depth": 9}, "model": model.state_dict()}, tmp_path / "odd.pt")
    with pytest.raises(ValueError, match="odd.pt: model_config .* does not describe"):
        load_checkpoint(tmp_path / "odd.pt")


def _trained_like(seed=0):
    """A network with non-trivial BatchNorm statistics."""
    torch.manual_seed(seed)
    model = PerceptionNet()
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(8, CHANNELS, 24, 24))
    return model.eval()


def test_folded_batchnorm_matches_the_trained_model():
    model = _trained_like()
    x = torch.rand(4, CHANNELS, 24, 24)
    with torch.no_grad():
        ref, fast = model.raw(x), fold_batchnorm(model).raw(x)
    assert torch.allclose(ref, fast, atol=1e-4)


@pytest.mark.skipif(not int8_available(), reason="this PyTorch has no FX quantization with the x86 backend")
def test_int8_runtime_follows_the_float_checkpoint(dataset):
    """The int8 network is rebuilt from the checkpoint's float weights and stored observers; on real
    frames its outputs stay within INT8_TOLERANCE of the float network's (logit / regression units:
    a few hundredths of a heatmap logit, of an offset cell, a few tenths of a m/s)."""
    data = load_split(dataset, "train")
    stacked = stack_frames(data["frames"][:32], data["history"][:32])
    model = _trained_like()
    observers = calibrate(model, [torch.from_numpy(stacked).permute(0, 3, 1, 2).float() / 255.0])
    int8 = PerceptionRuntime(model, torch.device("cpu"), "int8", observers)
    fp32 = PerceptionRuntime(model, torch.device("cpu"), "fp32")
    assert int8.precision == "int8" and fp32.precision == "fp32"
    a, b = int8(stacked), fp32(stacked)
    scale = b.abs().max()
    assert (a - b).abs().mean() < 0.02 * scale and (a - b).abs().max() < 0.15 * scale
    # the output layer feeds nothing, so it has all 8 bits (the activations inside have 7: no 16-bit overflow)
    assert (b.max() - b.min()) / getattr(int8.net, OUTPUT_MODULE).scale > 200
    with pytest.raises(ValueError, match="int8_observers"):
        PerceptionRuntime(model, torch.device("cpu"), "int8", None)


def test_explicit_int8_without_fx_quantization_says_so(monkeypatch):
    import drivesim.perception.runtime as runtime

    monkeypatch.setattr(runtime, "_fx", lambda: None)
    model = _trained_like()
    with pytest.raises(RuntimeError, match="--precision int8 needs"):
        runtime.PerceptionRuntime(model, torch.device("cpu"), "int8", {})
    assert runtime.PerceptionRuntime(model, torch.device("cpu"), "auto", {}).precision == "fp32"


def test_feature_layout_with_velocities_sorted_and_padded():
    layout = FeatureLayout(k=2, n_beams=4, state_dim=3)
    assert layout.per_object == 10 and layout.size == 3 * 2 * 10 + 7
    assert layout.slices()["cars"] == slice(0, 20) and layout.slices()["state"] == slice(64, 67)
    assert FeatureLayout(k=2, n_beams=4, state_dim=3, velocities=False).size == 3 * 2 * 8 + 7
    cls = np.array([[0, 0, 0, 1]])
    pos = np.array([[[20.0, 0.0], [5.0, 1.0], [10.0, 0.0], [3.0, 3.0]]])
    vel = np.array([[[1.0, 0.0], [-5.0, 2.0], [3.0, 0.0], [0.0, 1.4]]])
    feats = objects_to_features(cls, pos, np.zeros((1, 4)), vel, np.ones((1, 4)), np.zeros((1, 4, 3)),
                                np.ones((1, 4), dtype=bool), layout)
    cars = feats[0, :20].reshape(2, 10)
    assert cars[0, 0] == pytest.approx(5.0 / 30) and cars[1, 0] == pytest.approx(10.0 / 30)  # nearest first
    assert cars[0, 4:6].tolist() == pytest.approx([-0.5, 0.2])  # its velocity / 10 m/s
    peds = feats[0, 20:40].reshape(2, 10)
    assert peds[0, 5] == pytest.approx(0.14) and peds[0, 6] == 1.0 and (peds[1] == 0).all()  # padded
    labels = {"cls": cls, "position": pos, "angle": np.zeros((1, 4)), "light": np.zeros((1, 4), dtype=int),
              "velocity": vel, "visible": np.ones((1, 4), dtype=bool)}
    obs = {"lidar": np.zeros((1, 4)), "state": np.zeros((1, 3))}
    oracle = oracle_features(labels, obs, layout)
    assert oracle.shape == (1, layout.size) and np.allclose(oracle[0, :40], feats[0, :40])


def test_feature_layout_with_route_waypoints_appends_them_last():
    layout = FeatureLayout(k=1, n_beams=2, state_dim=3, route_dim=4)
    assert layout.size == 3 * 10 + 2 + 3 + 4 and layout.slices()["route"] == slice(35, 39)
    assert layout.observations == ("camera", "lidar", "state", "route")
    labels = {"cls": np.zeros((1, 1), dtype=int), "position": np.zeros((1, 1, 2)), "angle": np.zeros((1, 1)),
              "light": np.zeros((1, 1), dtype=int), "velocity": np.zeros((1, 1, 2)), "visible": np.zeros((1, 1), dtype=bool)}
    obs = {"lidar": np.full((1, 2), 0.5), "state": np.full((1, 3), 0.25), "route": np.array([[0.1, 0.0, 0.2, 0.05]])}
    feats = oracle_features(labels, obs, layout)
    assert feats[0, layout.slices()["route"]].tolist() == pytest.approx([0.1, 0.0, 0.2, 0.05])
    assert feats[0, layout.slices()["lidar"]].tolist() == [0.5, 0.5] and (feats[0, :30] == 0).all()



def test_feature_layout_with_the_clock_appends_it_after_the_route():
    layout = FeatureLayout(k=1, n_beams=2, state_dim=3, route_dim=4, clock_dim=2)
    assert layout.size == 3 * 10 + 2 + 3 + 4 + 2 and layout.slices()["clock"] == slice(39, 41)
    assert layout.observations == ("camera", "lidar", "state", "route", "clock")
    assert "clock" not in FeatureLayout(k=1, n_beams=2, state_dim=3).observations
    labels = {"cls": np.zeros((1, 1), dtype=int), "position": np.zeros((1, 1, 2)), "angle": np.zeros((1, 1)),
              "light": np.zeros((1, 1), dtype=int), "velocity": np.zeros((1, 1, 2)), "visible": np.zeros((1, 1), dtype=bool)}
    obs = {"lidar": np.full((1, 2), 0.5), "state": np.full((1, 3), 0.25), "route": np.full((1, 4), 0.1),
           "clock": np.array([[0.75, 0.5]])}
    feats = oracle_features(labels, obs, layout)
    assert feats[0, layout.slices()["clock"]].tolist() == [0.75, 0.5]
    assert feats[0, layout.slices()["route"]].tolist() == pytest.approx([0.1] * 4)


def test_feature_layout_with_the_junction_appends_it_last():
    layout = FeatureLayout(k=1, n_beams=2, state_dim=3, route_dim=4, clock_dim=2, junction_dim=3)
    assert layout.size == 3 * 10 + 2 + 3 + 4 + 2 + 3 and layout.slices()["junction"] == slice(41, 44)
    assert layout.observations == ("camera", "lidar", "state", "route", "clock", "junction")
    without_clock = FeatureLayout(k=1, n_beams=2, state_dim=3, route_dim=4, junction_dim=3)
    assert without_clock.slices()["junction"] == slice(39, 42) and "clock" not in without_clock.observations
    labels = {"cls": np.zeros((1, 1), dtype=int), "position": np.zeros((1, 1, 2)), "angle": np.zeros((1, 1)),
              "light": np.zeros((1, 1), dtype=int), "velocity": np.zeros((1, 1, 2)), "visible": np.zeros((1, 1), dtype=bool)}
    obs = {"lidar": np.full((1, 2), 0.5), "state": np.full((1, 3), 0.25), "route": np.full((1, 4), 0.1),
           "junction": np.array([[1.0, 0.25, 0.5]])}
    feats = oracle_features(labels, obs, without_clock)
    assert feats.shape == (1, 42) and feats[0, 39:].tolist() == [1.0, 0.25, 0.5]
    assert feats[0, without_clock.slices()["route"]].tolist() == pytest.approx([0.1] * 4)


def test_feature_layout_with_the_signal_appends_it_after_the_junction():
    layout = FeatureLayout(k=1, n_beams=2, state_dim=3, route_dim=4, junction_dim=3, signal_dim=2)
    assert layout.size == 3 * 10 + 2 + 3 + 4 + 3 + 2 and layout.slices()["signal"] == slice(42, 44)
    assert layout.observations == ("camera", "lidar", "state", "route", "junction", "signal")
    labels = {"cls": np.zeros((1, 1), dtype=int), "position": np.zeros((1, 1, 2)), "angle": np.zeros((1, 1)),
              "light": np.zeros((1, 1), dtype=int), "velocity": np.zeros((1, 1, 2)), "visible": np.zeros((1, 1), dtype=bool)}
    obs = {"lidar": np.full((1, 2), 0.5), "state": np.full((1, 3), 0.25), "route": np.full((1, 4), 0.1),
           "junction": np.array([[1.0, 0.25, 0.5]]), "signal": np.array([[0.125, 0.75]])}
    feats = oracle_features(labels, obs, layout)
    assert feats.shape == (1, 44) and feats[0, 39:].tolist() == [1.0, 0.25, 0.5, 0.125, 0.75]


def test_feature_layout_with_the_stopping_vector_appends_it_after_the_signal():
    layout = FeatureLayout(k=1, n_beams=2, state_dim=3, route_dim=4, signal_dim=2, stopping_dim=2)
    assert layout.size == 3 * 10 + 2 + 3 + 4 + 2 + 2 and layout.slices()["stopping"] == slice(41, 43)
    assert layout.observations == ("camera", "lidar", "state", "route", "signal", "stopping")
    spec = FeatureSpec(signal=True, stopping=True, surface=True)
    assert spec.vectors == ("route", "signal", "stopping", "surface")  # the layout's order, the surface grid last
    labels = {"cls": np.zeros((1, 1), dtype=int), "position": np.zeros((1, 1, 2)), "angle": np.zeros((1, 1)),
              "light": np.zeros((1, 1), dtype=int), "velocity": np.zeros((1, 1, 2)), "visible": np.zeros((1, 1), dtype=bool)}
    obs = {"lidar": np.full((1, 2), 0.5), "state": np.full((1, 3), 0.25), "route": np.full((1, 4), 0.1),
           "signal": np.array([[0.125, 0.75]]), "stopping": np.array([[0.5, 0.25]])}
    feats = oracle_features(labels, obs, layout)
    assert feats.shape == (1, 43) and feats[0, 39:].tolist() == [0.125, 0.75, 0.5, 0.25]


def _route(turn_after: float | None = None) -> np.ndarray:
    """The route observation (ROUTE_DIM,) of a straight road, or one turning left (90 degrees) `turn_after` m ahead."""
    points = [(d, 0.0) if turn_after is None or d <= turn_after else (turn_after, d - turn_after)
              for d in WAYPOINT_DISTANCES]
    return np.array(points).ravel() / 30.0


def test_path_coordinates_of_hand_placed_objects_on_a_straight_and_a_turning_route():
    route = np.stack([_route(), _route(turn_after=6.0)])
    position = np.array([[[8.0, 1.0], [-3.0, 0.5]], [[7.0, 4.0], [3.0, 0.0]]])  # (B=2, O=2, 2) ego frame [m]
    velocity = np.array([[[0.0, -1.4], [1.0, 0.0]], [[-1.0, 0.0], [0.0, 0.0]]])
    s, d, across = np.moveaxis(path_coordinates(position, velocity, route), -1, 0)
    # straight: 8 m along, 1 m left, walking right (towards the path) at 1.4 m/s; behind the car: s = 0
    assert [s[0, 0], d[0, 0], across[0, 0]] == pytest.approx([8.0, 1.0, -1.4])
    assert [s[0, 1], d[0, 1]] == pytest.approx([0.0, 0.5])
    # the route turns left after 6 m: (7, 4) is 6 + 4 m along it and 1 m to its right, and walking
    # in -x it moves towards its left; (3, 0) is on the route 3 m ahead
    assert [s[1, 0], d[1, 0], across[1, 0]] == pytest.approx([10.0, -1.0, 1.0])
    assert [s[1, 1], d[1, 1], across[1, 1]] == pytest.approx([3.0, 0.0, 0.0])


def test_path_features_in_the_layout_and_past_the_goal():
    layout = FeatureLayout(k=1, n_beams=2, state_dim=3, route_dim=20, path=True)
    assert layout.per_object == 13 and layout.size == 3 * 13 + 2 + 3 + 20
    with pytest.raises(ValueError, match="path needs"):
        FeatureLayout(k=1, n_beams=2, state_dim=3, path=True)  # no route to measure along
    goal = np.tile([0.1, 0.0], 10)  # past the goal every waypoint sits at the route's end, 3 m ahead
    labels = {"cls": np.array([[1]]), "position": np.array([[[5.0, -2.0]]]), "angle": np.zeros((1, 1)),
              "light": np.zeros((1, 1), dtype=int), "velocity": np.array([[[0.0, 2.0]]]),
              "visible": np.ones((1, 1), dtype=bool)}
    obs = {"lidar": np.zeros((1, 2)), "state": np.zeros((1, 3)), "route": goal[None]}
    ped = oracle_features(labels, obs, layout)[0, layout.slices()["pedestrians"]]
    # along the only real segment (ego -> end): s clipped at its 3 m end, d = -2 m (right), moving left
    assert ped[6:9].tolist() == pytest.approx([3.0 / 30, -2.0 / 5, 0.2])
    assert ped[9] == 1.0  # confidence follows


def test_hide_accel_zeroes_only_the_previous_action_in_the_state():
    state = np.arange(1, 17, dtype=np.float32)[None]  # (1, STATE_DIM)
    labels = {"cls": np.zeros((1, 0), dtype=int), "position": np.zeros((1, 0, 2)), "angle": np.zeros((1, 0)),
              "light": np.zeros((1, 0), dtype=int), "velocity": np.zeros((1, 0, 2)), "visible": np.zeros((1, 0), bool)}
    obs = {"lidar": np.zeros((1, 2)), "state": state}
    for hide in (False, True):
        layout = FeatureLayout(k=1, n_beams=2, state_dim=16, hide_accel=hide)
        got = oracle_features(labels, obs, layout)[0, layout.slices()["state"]]
        want = state[0].copy()
        if hide:
            want[ACCEL_FIELD] = 0.0
        assert got.tolist() == want.tolist()
    assert obs["state"][0, ACCEL_FIELD] != 0  # the env's observation itself is untouched


def test_detections_to_features_maps_pixels_and_velocities_to_the_ego_frame():
    cam = CameraConfig()
    raw = torch.full((1, 56, 24, 24), -10.0)
    det = decode(raw, k=2, threshold=0.5)  # empty detections, then one car filled in by hand
    det.valid[0, 0], det.cls[0, 0], det.score[0, 0] = True, 0, 0.8
    det.centre[0, 0] = [cam.width / 2 - 10.0, cam.ego_row * cam.height - 25.0]
    det.velocity[0, 0] = [6.0, -1.0]
    det.light_probs[0, 0] = [0.1, 0.1, 0.8]
    feats = detections_to_features(det, cam, {"lidar": np.zeros((1, 4)), "state": np.zeros((1, 3))}, FeatureLayout(2, 4, 3))
    car = feats[0, :10]
    assert car[0] == pytest.approx(25.0 * cam.metres_per_pixel / 30.0)  # forward
    assert car[1] == pytest.approx(10.0 * cam.metres_per_pixel / 30.0)  # left
    assert car[4:6].tolist() == pytest.approx([0.6, -0.1])
    assert car[6] == pytest.approx(0.8) and (car[7:] == 0).all()  # no light probabilities on a car
