"""The page in a real headless browser: Chromium from the OS packages, driven by Selenium.

It loads a shared link, trains, and checks what a learner sees: the loss falls, the decision
boundary's heatmap changes (its canvas pixels), a step through one example shows for a
clicked neuron the δ that ``bp.trace`` gives on the downloaded model for that example, and a
clicked weight its ∂J/∂W. Screenshots are written to ``tests/playground/artifacts/``
(git-ignored). ``.ci/run`` installs Chromium and its driver and sets
``BACKPROP_REQUIRE_BROWSER_TEST=1``, so that in CI their absence fails the test; elsewhere it skips.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import backprop as bp

selenium = pytest.importorskip("selenium", reason="selenium (the dev extra) is not installed")
uvicorn = pytest.importorskip("uvicorn", reason="the playground extra (uvicorn) is not installed")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from backprop.playground import create_app  # noqa: E402
from backprop.playground.session import Session  # noqa: E402
from backprop.playground.settings import parse_settings  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DRIVERS = ("chromedriver",)

pytestmark = pytest.mark.slow


def _found(names):
    return next((path for path in map(shutil.which, names) if path), None)


@pytest.fixture(scope="module")
def server():
    """The app served by uvicorn on a free port, in a thread of this process."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    instance = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert instance.started, "the playground server did not start"
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    chromium, driver = _found(BROWSERS), _found(DRIVERS)
    if chromium is None or driver is None:
        reason = ("Chromium and chromedriver are not installed (apt-get install chromium chromium-driver; "
                  ".ci/run does it)")
        if os.environ.get("BACKPROP_REQUIRE_BROWSER_TEST") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1450",
                     "--disable-gpu"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    instance = webdriver.Chrome(service=Service(driver), options=options)
    yield instance
    instance.quit()


def js(browser, script, *args):
    return browser.execute_script(script, *args)


def heatmap_pixels(browser) -> np.ndarray:
    """Every 4th pixel of every 4th row of the output heatmap, RGB."""
    pixels = js(browser, """
        const c = document.getElementById('heatmap'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height);
        const out = [];
        for (let y = 0; y < c.height; y += 4) for (let x = 0; x < c.width; x += 4) {
            const i = 4 * (y * c.width + x); out.push(d.data[i], d.data[i + 1], d.data[i + 2]);
        }
        return out;""")
    return np.array(pixels, dtype=np.int16)


def wait_for(browser, script, timeout=60):
    WebDriverWait(browser, timeout, poll_frequency=0.1).until(lambda b: js(b, script))


def test_the_page_trains_steps_one_example_and_shows_bp_traces_delta(server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    setup = {"dataset": "circle", "optimizer": "adam", "lr": 0.03, "seed": 3,
             "layers": [{"neurons": 4, "activation": "tanh"}, {"neurons": 3, "activation": "relu"}]}
    browser.get(f"{server}/#{urllib.parse.quote(json.dumps(setup))}")  # a shared link
    wait_for(browser, "return window.playground && window.playground.session !== null")
    session = js(browser, "return window.playground.session")
    assert session["settings"]["optimizer"] == "adam" and session["sizes"] == [2, 4, 3, 2]
    assert len(browser.find_elements(By.CSS_SELECTOR, ".neuron")) == 2 + 4 + 3 + 2
    before = heatmap_pixels(browser)

    browser.find_element(By.ID, "play").click()
    wait_for(browser, "return window.playground.state.epoch >= 15")
    browser.save_screenshot(str(ARTIFACTS / "playground-training.png"))  # mid-training
    wait_for(browser, "return window.playground.state.epoch >= 60")
    browser.find_element(By.ID, "play").click()  # pause
    wait_for(browser, "return !window.playground.busy")

    history = js(browser, "return window.playground.state.history")
    settings = js(browser, "return window.playground.settings")
    curve = [round(v, 4) for v in history["loss"]]  # (in the messages: a bad run or a bad page?)
    # The page shows the library's run: the curve of a Session with the page's settings trained
    # here for as many epochs (a run is deterministic however the page's requests split it).
    reference = Session(parse_settings(settings))
    reference.train(len(history["loss"]), budget_s=math.inf)
    assert history["loss"] == pytest.approx(reference.trainer.history.history["loss"], rel=1e-6), (curve, settings)
    # The loss fell by epoch 60, the epoch waited for; not necessarily at the last one. The
    # pause lands some requests later (how many depends on the machine's load), and with these
    # settings Adam's loss, about 0.001 by epoch 100, jumps to 0.26, 0.66 and 0.32 at epochs
    # 105–107 before it falls again: a pause there showed a last loss above the first.
    assert history["loss"][59] < 0.5 * history["loss"][0], (curve, settings)
    assert float(browser.find_element(By.ID, "train-loss").text) == pytest.approx(history["loss"][-1], rel=1e-3)
    assert int(browser.find_element(By.ID, "epoch").text) == len(history["loss"])
    after = heatmap_pixels(browser)
    assert np.abs(after - before).max() > 50 and np.abs(after - before).mean() > 5  # the boundary moved

    index = browser.find_element(By.ID, "example-index")
    index.clear()
    index.send_keys("5")
    browser.find_element(By.ID, "trace-button").click()
    wait_for(browser, "return document.getElementById('example-info') !== null")
    browser.find_element(By.CSS_SELECTOR, '.neuron[data-layer="1"][data-neuron="2"]').click()
    shown_delta = float(browser.find_element(By.CSS_SELECTOR, "#detail .delta").get_attribute("data-value"))
    info = browser.find_element(By.ID, "example-info")
    x = np.array(json.loads(info.get_attribute("data-x")))
    target = json.loads(info.get_attribute("data-target"))
    assert info.get_attribute("data-split") == "train" and info.get_attribute("data-index") == "5"

    # The library, on the model file the page offers for download, for the example the page shows.
    sid = session["id"]
    with urllib.request.urlopen(f"{server}/api/sessions/{sid}/model.safetensors", timeout=30) as response:
        (ARTIFACTS / "playground.safetensors").write_bytes(response.read())
    model = bp.load(ARTIFACTS / "playground.safetensors")
    expected = bp.trace(model, x.astype(np.float32), np.array(target), loss=session["loss"])
    assert shown_delta == pytest.approx(float(expected.layers[0].delta[2]), rel=1e-6, abs=1e-12)
    assert shown_delta != 0

    # Click a weight W²_jk of layer 2 (its wide, invisible hit line), one whose gradient is not 0.
    j, k = np.unravel_index(np.argmax(np.abs(expected.layers[1].dW)), expected.layers[1].dW.shape)
    js(browser, f"""document.querySelector('#edges line.hit[data-layer="2"][data-row="{j}"][data-col="{k}"]')
                    .dispatchEvent(new MouseEvent('click', {{bubbles: true}}));""")
    shown_dW = float(browser.find_element(By.CSS_SELECTOR, "#detail .dw").get_attribute("data-value"))
    assert shown_dW == pytest.approx(float(expected.layers[1].dW[j, k]), rel=1e-6, abs=1e-12)
    assert shown_dW != 0
    browser.save_screenshot(str(ARTIFACTS / "playground-step.png"))

    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not severe, severe
