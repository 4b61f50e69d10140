"""Smoke runs of the CLI with tiny budgets (subprocess, as a user would run them)."""

import json
import subprocess
import sys

import cv2
import pytest

from drivesim.apps.video import probe


def _run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "drivesim.apps.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_bench_json():
    out = _run("bench", "--seconds", "0.05", "--batch-sizes", "1,4", "--obs", "state,camera+lidar+state", "--json",
               "--no-extras")
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)["results"]
    assert len(results) == 2 * 3  # per mode: single + two batch sizes
    assert all(r["env_steps_per_s"] > 0 and r["peak_rss_mb"] > 0 for r in results)


def test_bench_extras_expert_suite_labels_and_cold_compile():
    out = _run("bench", "--seconds", "0.05", "--batch-sizes", "2", "--obs", "state", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["results"]
    results = {r["env"]: r for r in rows}
    assert results["expert"]["batch_size"] == 256 and results["expert"]["env_steps_per_s"] > 0
    assert results["suite"]["env_steps_per_s"] > 0
    labels = {r["observations"]: r["env_steps_per_s"] for r in rows if r["env"] == "labels"}
    assert set(labels) == {"camera+lidar+state", "camera+lidar+state+labels"} and min(labels.values()) > 0
    assert results["compile"]["seconds"] > 0  # measured in a fresh process with an empty cache


def test_bench_rejects_unknown_observation():
    out = _run("bench", "--obs", "radar")
    assert out.returncode != 0 and "radar" in out.stderr


def test_demo_writes_video_and_table(tmp_path):
    out = _run("demo", "--agent", "expert", "--scenarios", "red_light,jaywalker", "--episodes", "2", "--max-steps", "25",
               "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "| red_light | 2 |" in out.stdout and "| jaywalker | 2 |" in out.stdout
    video = cv2.VideoCapture(str(tmp_path / "demo.mp4"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 2 * 25  # world 0's episode of each scenario
    assert (tmp_path / "demo.gif").stat().st_size > 0 and (tmp_path / "report.md").is_file()
    info = probe(tmp_path / "demo.mp4")
    assert (info["codec"], info["pix_fmt"], info["width"], info["height"]) == ("h264", "yuv420p", 480, 480)
    assert info["frames"] == 50 and info["duration_s"] == pytest.approx(5.0, abs=0.2)  # 10 frames/s
    assert "<video" in (tmp_path / "report.html").read_text() and "src='demo.mp4'" in (tmp_path / "report.html").read_text()


def test_demo_default_runs_the_shipped_policy_headless(tmp_path):
    out = _run("demo", "--scenarios", "red_light", "--episodes", "1", "--max-steps", "30", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "agent ppo" in out.stdout and "| red_light | 1 |" in out.stdout
    video = cv2.VideoCapture(str(tmp_path / "demo.mp4"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 30


@pytest.mark.slow
def test_bench_train_rows():
    out = _run("bench", "--seconds", "0.05", "--batch-sizes", "2", "--obs", "state", "--no-extras", "--train", "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["observations"]: r for r in json.loads(out.stdout)["results"] if r["env"] == "ppo"}
    assert set(rows) == {"oracle", "perception"} and min(r["env_steps_per_s"] for r in rows.values()) > 0
    assert {r["detail"] for r in rows.values()} <= {"update bf16", "update fp32"}


def test_eval_perception_on_fresh_seeds_reports_and_leaves_no_frames(tmp_path):
    out = _run("eval-perception", "--seed", "777", "--frames", "24", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    report = (tmp_path / "report.md").read_text()
    assert "24 frames (fresh worlds seeded from 777, never trained on)" in report and "crowd AP" in report
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert 0.0 <= metrics["mAP"] <= 1.0 and set(metrics["fps"]) >= {"cpu_fp32"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["examples.png", "metrics.json", "report.md"]  # frames: temp
