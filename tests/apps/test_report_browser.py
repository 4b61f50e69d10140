"""report.html in a real browser: headless Chromium (Debian's chromium + chromedriver, driven by
Selenium) opens an evaluation report with videos; every plot and video loads, every video has a
duration. Skips with the reason where no browser is installed; .ci/run installs one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from drivesim.apps.video import probe

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")


def _browser():
    if CHROMIUM is None or CHROMEDRIVER is None:
        reason = "no headless browser: install Debian's chromium and chromium-driver (.ci/run does)"
        if os.environ.get("DRIVESIM_REQUIRE_BROWSER"):  # CI: a missing browser is a failure, not a skip
            pytest.fail(reason)
        pytest.skip(reason)
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--autoplay-policy=no-user-gesture-required", "--window-size=1200,1600"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("eval")
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy"}
    proc = subprocess.run([sys.executable, "-m", "drivesim.apps.cli", "evaluate", "--agent", "expert", "--scenarios",
                           "red_light,jaywalker", "--episodes", "2", "--max-steps", "40", "--video", "--no-progress",
                           "--out", str(out)], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr
    return out


def test_evaluate_videos_are_browser_h264(report: Path) -> None:
    for name in ("red_light", "jaywalker"):
        info = probe(report / "videos" / f"{name}.mp4")
        assert (info["codec"], info["pix_fmt"]) == ("h264", "yuv420p")
        assert info["frames"] == 40


def test_report_renders_in_headless_chromium(report: Path) -> None:
    driver = _browser()
    try:
        driver.get((report / "report.html").as_uri())
        assert "Evaluation of expert" in driver.title
        rows = driver.find_elements("css selector", "#summary tr")
        assert len(rows) == 1 + 2 + 1  # header, two scenarios, all
        assert len(driver.find_elements("css selector", "#episodes tr")) == 1 + 4
        images = driver.find_elements("css selector", "img")
        assert len(images) == 2
        assert all(driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", i) > 0
                   for i in images)
        videos = driver.find_elements("css selector", "video")
        assert len(videos) == 2
        durations = [driver.execute_async_script(_WAIT_FOR_METADATA, v) for v in videos]
        assert all(isinstance(d, float | int) and d > 0 for d in durations), durations
        played = [driver.execute_async_script(_PLAY, v) for v in videos]
        assert all(isinstance(t, float | int) and t > 0 for t in played), played  # decoded and playing
        assert driver.get_screenshot_as_png()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        driver.quit()


def test_demo_film_plays_in_headless_chromium(tmp_path: Path) -> None:
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy"}
    proc = subprocess.run([sys.executable, "-m", "drivesim.apps.cli", "demo", "--agent", "expert", "--scenarios",
                           "red_light", "--episodes", "1", "--max-steps", "30", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr
    driver = _browser()
    try:
        driver.get((tmp_path / "report.html").as_uri())
        images = driver.find_elements("css selector", "img")
        assert len(images) == 2 and all(
            driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", i) > 0 for i in images)
        (video,) = driver.find_elements("css selector", "video")
        assert driver.execute_async_script(_WAIT_FOR_METADATA, video) == pytest.approx(3.0, abs=0.2)  # 30 frames
        assert driver.execute_async_script(_PLAY, video) > 0
    finally:
        driver.quit()


# resolves with the video's duration once its metadata has loaded, or with the error code
_WAIT_FOR_METADATA = """
const [video, done] = arguments;
const finish = () => done(video.error ? 'error ' + video.error.code : video.duration);
if (video.readyState >= 1 || video.error) { finish(); return; }
video.addEventListener('loadedmetadata', finish);
video.addEventListener('error', finish);
video.load();
setTimeout(() => done('timeout, readyState ' + video.readyState), 15000);
"""

# resolves with currentTime once playback has advanced (muted autoplay is allowed), or an error
_PLAY = """
const [video, done] = arguments;
video.muted = true;
video.addEventListener('error', () => done('error ' + video.error.code));
video.play().catch(e => done('play failed: ' + e));
const poll = setInterval(() => {
  if (video.currentTime > 0.2 || video.ended) { clearInterval(poll); done(video.currentTime); }
}, 50);
setTimeout(() => done('timeout at ' + video.currentTime), 15000);
"""
