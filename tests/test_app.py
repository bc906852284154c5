"""The teaching app in a real browser: Debian's headless Chromium, driven by Playwright.

A module fixture serves ``sim/app/app.py`` with ``solara run`` on a free local port and
stops it afterwards. Each test opens a fresh page (a fresh Solara session), works
the sidebar and the play panel as a student would, and checks what the page shows
against the same model run in this process. The runs also write the README's
screenshots to ``docs/img/``.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from sim.app.app import captions
from sim.app.app_model import CONTROLS, METRIC_ROWS, TeachingModel, control_defaults, month_summary
from sim.output.dashboard import militant_groups

ROOT = Path(__file__).resolve().parents[1]
IMG_DIR = ROOT / "docs" / "img"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic"]
START_TIMEOUT_S = 90  # generous: a cold start on a busy 2-core machine
UI_TIMEOUT_MS = 30_000  # waits for the page to show something, never assertions on speed
VIEWPORT = {"width": 1500, "height": 1100}
PLOTS = ("relations", "trade", "refugees", "violence")
SCREENSHOT_MARGIN, SCREENSHOT_MAX_HEIGHT = 80, 4000  # pixels

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent: run scripts/ensure_chromium.sh "
                                                      "(apt-get install chromium) to run the browser tests"),
]


expect.set_options(timeout=UI_TIMEOUT_MS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    log = tempfile.TemporaryFile()
    solara = Path(sys.executable).parent / "solara"
    proc = subprocess.Popen([str(solara), "run", "sim/app/app.py", "--host", "127.0.0.1", "--port", str(port),
                             "--production", "--no-open"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"solara server exited with {proc.returncode}:\n{log.read().decode()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"solara server did not answer on {url}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # launch() gives every run a fresh, temporary user-data dir
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(server, browser):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.goto(server)
    wait_for_month(page, 0)
    yield page
    context.close()


# ---------------------------------------------------------------------------- helpers
def wait_for_month(page, n: int) -> None:
    expect(page.locator(".teach-month")).to_have_text(re.compile(rf"^Month {n} of "))


def wait_for_month_at_least(page, n: int) -> None:
    page.wait_for_function("n => { const m = /^Month (\\d+) of/.exec(document.querySelector('.teach-month').innerText);"
                           " return m && Number(m[1]) >= n; }", arg=n)


def wait_for_text(page, selector: str, text: str) -> None:
    expect(page.locator(selector, has_text=text).first).to_be_visible()


def plot_image(page, name: str):
    return page.locator(f".teach-plot-{name} img")


def expect_captions(page, captions_by_plot: dict[str, str]) -> None:
    for name, text in captions_by_plot.items():
        expect(page.locator(f".teach-plot-{name} .teach-caption")).to_have_text(text)


def expect_event_log(page, model: TeachingModel) -> None:
    """The page's log is the model's log, newest first."""
    expect(page.locator(".teach-event-line")).to_have_text(model.event_log.lines[::-1])


def last_summary(model: TeachingModel) -> str:
    frame = model.frame()
    return month_summary(frame.iloc[-1], militant_groups(frame))


def play_one_month(page, expected: TeachingModel, month: int, stance: str, tick_label: str, instrument: str) -> str:
    """Choose a stance and tick one more instrument in the page and in ``expected``; play the month."""
    page.locator(f".teach-stance-{stance}").click()
    page.get_by_text(tick_label).click()
    expected.set_choice(stance, {instrument: True})
    expected.step()
    page.locator(".teach-play-month").click()
    wait_for_month(page, month)
    summary = last_summary(expected)
    wait_for_text(page, ".teach-last-month", summary)
    return summary


def fast_forward(page, presses: int, jumps: int) -> int:
    """Raise SolaraViz's render interval (``presses`` slider steps), Step ``jumps`` times; the month reached.

    The slider reaches the server a little after the key presses, so the months per
    Step are read off the page rather than assumed (one Step redraws once).
    """
    slider = page.get_by_role("slider", name="Render Interval (steps)")
    slider.focus()
    for _ in range(presses):
        slider.press("ArrowRight")
    counter = page.locator(".teach-month")
    for _ in range(jumps):
        before = counter.inner_text()
        page.get_by_role("button", name="Step").click()
        expect(counter).not_to_have_text(before)
    return int(re.match(r"Month (\d+) of", counter.inner_text()).group(1))


def screenshot(page, name: str) -> None:
    """The whole app in one picture: the app scrolls inside its own panes, so grow the window to fit."""
    IMG_DIR.mkdir(parents=True, exist_ok=True)
    tallest = page.evaluate("Math.max(...Array.from(document.querySelectorAll('*'), e => e.scrollHeight))")
    height = min(max(VIEWPORT["height"], tallest + SCREENSHOT_MARGIN), SCREENSHOT_MAX_HEIGHT)
    page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
    page.locator(".teach-month").scroll_into_view_if_needed()
    page.screenshot(path=str(IMG_DIR / name))


# ------------------------------------------------------------------------------ tests
def test_slider_reset_and_steps_update_plots_and_event_log(page):
    c = CONTROLS["tolerance"]
    clicks = 3
    tolerance = int(control_defaults()["tolerance"] + clicks * c.step)
    # The same model in this process tells what the page must show; step until the log has news.
    expected = TeachingModel(tolerance=tolerance)
    months = 0
    while months < 4 or not expected.event_log.lines:
        expected.step()
        months += 1
    frame = expected.frame()

    page.get_by_text("Settings of this run").click()
    wait_for_text(page, ".teach-settings tr", f"{control_defaults()['tolerance']:g} deaths/month")
    slider = page.get_by_role("slider", name=c.label)
    slider.focus()
    for _ in range(clicks):
        slider.press("ArrowRight")
    expect(slider).to_have_attribute("aria-valuenow", str(tolerance))
    page.get_by_role("button", name="Reset").click()
    wait_for_text(page, ".teach-settings tr", f"{tolerance} deaths/month (your setting)")

    expect_captions(page, dict.fromkeys(PLOTS, "No month simulated yet."))
    expect(page.locator(".teach-event-empty")).to_have_count(1)
    images = {name: plot_image(page, name).get_attribute("src") for name in PLOTS}
    assert all(images.values())

    for k in range(1, months + 1):
        page.get_by_role("button", name="Step").click()
        wait_for_month(page, k)
    want = captions(frame)
    assert f"against a tolerance of {tolerance}" in want["violence"]
    expect_captions(page, want)
    for name, src in images.items():
        expect(plot_image(page, name)).not_to_have_attribute("src", src)  # redrawn
    expect_event_log(page, expected)
    expect(page.locator(".teach-metrics-table tr")).to_have_count(len(METRIC_ROWS) + 1)
    expect(page.locator(".teach-chip-pakistan")).to_have_text(f"Pakistan: {frame['pakistan_stance'].iloc[-1]}")

    # A few years on for the README's picture, with the render interval (several months per Step).
    month = fast_forward(page, presses=5, jumps=3)
    assert month >= months + 3
    for _ in range(month - months):
        expected.step()
    expect_captions(page, captions(expected.frame()))
    screenshot(page, "app_overview.png")

    # ▶ plays on by itself (Step is disabled meanwhile); ❚❚ pauses and gives Step back.
    step = page.get_by_role("button", name="Step")
    page.get_by_role("button", name="▶").click()
    expect(step).to_be_disabled()
    wait_for_month_at_least(page, month + 2)
    page.get_by_role("button", name="❚❚").click()
    expect(step).to_be_enabled()


def test_play_as_pakistan_next_month_follows_the_students_choice(page):
    expected = TeachingModel(play_as_pakistan=True)
    page.get_by_text("Play as Pakistan (you choose").click()
    page.get_by_role("button", name="Reset").click()
    page.wait_for_selector(".teach-play")

    # Month 1: pressure, with the border closed.
    first = play_one_month(page, expected, 1, "pressure", "Close the border crossings", "border_closure")
    assert "Pakistan PRESSURE (transit restrictions, border closure)" in first
    expect(page.locator(".teach-chip-pakistan")).to_have_text("Pakistan: pressure")

    # Month 2: back to engagement, with talks with the TTP as well.
    second = play_one_month(page, expected, 2, "engage", "Talks with the TTP through Kabul", "ttp_talks")
    assert "Pakistan ENGAGE (talks, trade facilitation, ttp talks)" in second
    expect(page.locator(".teach-last-month")).to_have_text([second, first])
    expect(page.locator(".teach-chip-pakistan")).to_have_text("Pakistan: engage")

    # The choice stays in force; the sidebar's Step plays on with it.
    for k in range(3, 9):
        expected.step()
        page.get_by_role("button", name="Step").click()
        wait_for_month(page, k)
    wait_for_text(page, ".teach-last-month", last_summary(expected))
    snap = expected.snapshot()
    cells = page.locator(".teach-comparison-table tr", has_text="Months Pakistan engaged").locator("td")
    expect(cells).to_have_text(["Months Pakistan engaged",
                                str(int((snap.frame["pakistan_stance"] == "engage").sum())),
                                str(int((snap.reference["pakistan_stance"] == "engage").sum()))])
    expect_event_log(page, expected)

    month = fast_forward(page, presses=5, jumps=2)
    for _ in range(month - 8):
        expected.step()
    wait_for_text(page, ".teach-last-month", last_summary(expected))
    screenshot(page, "app_play.png")
