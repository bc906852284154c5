"""The teaching app in a real browser: Debian's headless Chromium, driven by Playwright.

One ``solara run`` server and one browser for the module; each test opens a fresh page
(a fresh Solara session), works the controls as a student would, and checks what the
page shows against the same run made in this process. The tests check behaviour, never
speed (``experiments/app_benchmark.py`` measures that). They also write the README's
and the guide's screenshots to ``docs/img/``.
"""

from __future__ import annotations

import io
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

import pandas as pd
import pytest
from playwright.sync_api import expect

from sim.app.app_ensemble import N_SEEDS
from sim.app.app_model import TeachingModel
from sim.app.app_plots import CHARTS

ROOT = Path(__file__).resolve().parents[1]
# The docs' screenshots are refreshed only when asked (SIM_DOCS_SCREENSHOTS=1 python -m pytest tests/test_app.py):
# an ordinary test run must not rewrite tracked files.
IMG_DIR = ROOT / "docs" / "img" if os.environ.get("SIM_DOCS_SCREENSHOTS") == "1" else None
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic"]
START_TIMEOUT_S = 120  # generous: a cold start on a busy 2-core machine
UI_TIMEOUT_MS = 30_000  # waits for the page to show something, never assertions on speed
SCREEN = {"width": 1366, "height": 768}
NARROW = {"width": 1024, "height": 768}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent: run scripts/ensure_chromium.sh "
                                                      "(apt-get install chromium) to run the browser tests"),
]

expect.set_options(timeout=UI_TIMEOUT_MS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, log) -> subprocess.Popen:
    solara = Path(sys.executable).parent / "solara"
    return subprocess.Popen([str(solara), "run", "sim/app/app.py", "--host", "127.0.0.1", "--port", str(port),
                             "--production", "--no-open"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_until_up(proc: subprocess.Popen, url: str, log) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            log.seek(0)
            pytest.fail(f"solara server exited with {proc.returncode}:\n{log.read().decode()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"solara server did not answer on {url}")
        time.sleep(0.5)


def stop_server(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def server():
    port = free_port()
    log = tempfile.TemporaryFile()
    proc = start_server(port, log)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_up(proc, url, log)
        yield url
    finally:
        stop_server(proc)
        log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # launch() gives every run a fresh, temporary user-data dir
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_page(server, browser, viewport=SCREEN):
    context = browser.new_context(viewport=viewport, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server)
    wait_for_month(page, 0)
    expect(page.locator(".teach-chart canvas")).to_have_count(len(CHARTS))
    return context, page, errors


@pytest.fixture
def page(server, browser):
    context, page, errors = open_page(server, browser)
    yield page
    assert errors == [], f"errors in the page: {errors}"
    context.close()


# ---------------------------------------------------------------------------- helpers
def wait_for_month(page, n: int) -> None:
    expect(page.locator(".teach-month")).to_have_text(re.compile(rf"^Month {n} of "))
    if n:  # the charts hold the same months as the counter
        for name in CHARTS:
            expect(page.locator(f".teach-chart-{name}")).to_have_attribute("data-months", str(n))


def month_shown(page) -> int:
    return int(re.match(r"Month (\d+) of", page.locator(".teach-month").inner_text()).group(1))


def step(page, times: int = 1) -> None:
    for _ in range(times):
        n = month_shown(page)
        page.locator(".teach-step").click()
        wait_for_month(page, n + 1)


def open_tab(page, name: str) -> None:
    page.locator(".v-tab", has_text=name).click()


def inside(box: dict, viewport: dict) -> bool:
    return box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= viewport["width"] + 1 \
        and box["y"] + box["height"] <= viewport["height"] + 1


def download_csv(page, button) -> pd.DataFrame:
    with page.expect_download() as info:
        button.click()
    return pd.read_csv(io.BytesIO(Path(info.value.path()).read_bytes()))


def screenshot(page, name: str) -> None:
    if IMG_DIR is None:
        page.screenshot()  # still taken: a page that cannot be drawn fails here
        return
    IMG_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMG_DIR / name))


# ------------------------------------------------------------------------------ tests
def test_first_render_fits_one_screen_with_controls_stances_and_four_charts(page):
    for name in CHARTS:
        box = page.locator(f".teach-chart-{name}").bounding_box()
        assert inside(box, SCREEN), f"{name} chart is not on the first screen: {box}"
        assert box["width"] >= 380 and box["height"] >= 250, f"{name} chart is too small: {box}"
    for css in (".teach-step", ".teach-play", ".teach-restart", ".teach-many", ".teach-month"):
        assert inside(page.locator(css).bounding_box(), SCREEN), css
    assert page.evaluate("document.scrollingElement.scrollHeight") <= SCREEN["height"]
    expect(page.get_by_text("Speed: 5 months a second")).to_be_visible()
    for tab in ("Settings", "Log", "Pattern", "Exercises", "Your move"):
        expect(page.locator(".v-tab", has_text=tab)).to_be_visible()


def test_step_shows_the_next_month_its_stances_and_the_event_log(page):
    expected = TeachingModel()
    months = 0
    while months < 3 or not expected.event_log.lines:
        expected.step()
        months += 1
    step(page, months)
    last = expected.frame().iloc[-1]
    expect(page.locator(".teach-chip-pakistan")).to_have_text(f"Pakistan: {last['pakistan_stance']}")
    expect(page.locator(".teach-chip-taliban")).to_have_text(f"Taliban: {last['taliban_stance']}")
    open_tab(page, "Log")
    expect(page.locator(".teach-log-line")).to_have_text(expected.event_log.lines[::-1])
    open_tab(page, "Pattern")
    expect(page.locator(".teach-metrics-table tr")).to_have_count(8)


def test_play_runs_on_by_itself_and_pause_stops_it(page):
    page.locator(".teach-play").click()
    expect(page.locator(".teach-step")).to_be_disabled()
    page.wait_for_function("() => Number(/Month (\\d+)/.exec(document.querySelector('.teach-month').innerText)[1])"
                           " >= 4")
    page.locator(".teach-play", has_text="Pause").click()
    expect(page.locator(".teach-step")).to_be_enabled()
    held = month_shown(page)
    page.wait_for_timeout(1200)  # at 5 months a second, ▶ would have moved on by now
    assert month_shown(page) == held
    step(page)  # and Step works again
    assert month_shown(page) == held + 1


def test_settings_apply_and_restart_with_a_cue_and_a_ghost_of_the_previous_run(page):
    step(page, 4)
    open_tab(page, "Settings")
    seed = page.locator(".teach-seed input")
    seed.fill("3")
    expect(page.locator(".teach-apply-cue")).to_contain_text("press Apply and restart")
    assert month_shown(page) == 4  # nothing changes before Apply
    page.locator(".teach-apply").click()
    wait_for_month(page, 0)
    expect(page.locator(".teach-apply-cue")).to_have_count(0)
    expect(page.locator(".teach-settings tr", has_text="Random seed")).to_contain_text("3  (changed)")
    step(page, 2)
    expected = TeachingModel(seed=3)
    expected.step()
    expected.step()
    last = expected.frame().iloc[-1]
    expect(page.locator(".teach-chip-pakistan")).to_have_text(f"Pakistan: {last['pakistan_stance']}")
    for name in CHARTS:
        expect(page.locator(f".teach-chart-{name}")).to_have_attribute("data-ghost", "1")


@pytest.mark.parametrize("typed, message", [("nan", "error: seed: nan is not allowed"),
                                            ("inf", "error: seed: inf is not allowed"),
                                            ("two", "error: seed: 'two' is not a number"),
                                            ("2.5", "error: seed: 2.5 is not a whole number")])
def test_bad_input_shows_one_line_in_the_page_and_keeps_the_run(page, typed, message):
    step(page)
    open_tab(page, "Settings")
    page.locator(".teach-seed input").fill(typed)
    page.locator(".teach-apply").click()
    expect(page.locator(".teach-error")).to_have_text(re.compile("^" + re.escape(message)))
    assert month_shown(page) == 1  # the run in use goes on
    step(page)


def test_play_as_pakistan_for_24_months_reports_your_path_and_the_models(page):
    open_tab(page, "Settings")
    page.get_by_text("Play as Pakistan (you choose").click()
    page.locator(".teach-apply").click()
    wait_for_month(page, 0)
    expect(page.locator(".teach-chip-play")).to_be_visible()
    expect(page.locator(".teach-stance-engage")).to_be_visible()  # the Your move tab opens by itself

    expected = TeachingModel(play_as_pakistan=True)
    page.locator(".teach-stance-pressure").click()
    page.get_by_text("Close the border crossings").click()
    expected.set_choice("pressure", {"border_closure": True})
    for month in range(1, 13):
        page.locator(".teach-play-month").click()
        wait_for_month(page, month)
        expected.step()
    expect(page.locator(".teach-chip-pakistan")).to_have_text("Pakistan: pressure")
    page.locator(".teach-stance-engage").click()
    expected.set_choice("engage")
    step(page, 12)  # Step plays on with the choice in force
    for _ in range(12):
        expected.step()

    frame, ref = expected.frame(), expected.reference.frame()
    rows = page.locator(".teach-comparison-table tr")
    expect(rows.filter(has_text="Months Pakistan engaged").locator("td")).to_have_text(
        ["Months Pakistan engaged", "12", str(int((ref["pakistan_stance"] == "engage").sum()))])
    expect(rows.filter(has_text="Deaths in Pakistan, total").locator("td").nth(1)).to_have_text(
        f"{int(frame['deaths_total'].sum()):,}")
    expect(rows.filter(has_text="ended by choice")).to_have_count(1)
    expect(rows.filter(has_text="ended after a violence spike")).to_have_count(1)
    expect(page.locator(".teach-last-month").first).to_contain_text(f"{frame['date'].iloc[-1]:%Y-%m}: Pakistan ENGAGE")
    screenshot(page, "app_play.png")


def test_many_seeds_show_the_spread_and_download_one_row_per_seed_and_month(page):
    step(page, 6)
    page.locator(".teach-many").click()
    for name in CHARTS:
        expect(page.locator(f".teach-chart-{name}")).to_have_attribute("data-view", "many")
    expect(page.locator(".teach-many-table tr")).to_have_count(8)
    table = download_csv(page, page.get_by_text(f"Download the {N_SEEDS} runs (CSV)"))
    assert len(table) == N_SEEDS * 6
    assert table["seed"].nunique() == N_SEEDS and set(table["month"]) == set(range(6))
    assert table.groupby("seed").size().eq(6).all()
    page.locator(".teach-many-off").click()
    for name in CHARTS:
        expect(page.locator(f".teach-chart-{name}")).to_have_attribute("data-view", "run")


def test_csv_download_of_the_run_has_one_row_per_month(page):
    step(page, 7)
    table = download_csv(page, page.get_by_text("Download this run (CSV)"))
    expected = TeachingModel()
    for _ in range(7):
        expected.step()
    frame = expected.frame()
    assert len(table) == 7 and list(table["month"]) == list(frame["month"])
    assert list(table.columns) == list(frame.columns)
    pd.testing.assert_series_equal(table["relations"], frame["relations"].reset_index(drop=True), check_names=False)


def test_a_narrow_window_keeps_the_four_charts_readable_on_one_screen(server, browser):
    context, page, errors = open_page(server, browser, NARROW)
    try:
        step(page, 3)
        assert page.evaluate("document.scrollingElement.scrollWidth") <= NARROW["width"]
        for name in CHARTS:
            box = page.locator(f".teach-chart-{name}").bounding_box()
            assert inside(box, NARROW), f"{name}: {box}"
            assert box["width"] >= 300 and box["height"] >= 250, f"{name} chart is too small: {box}"
        screenshot(page, "app_narrow.png")
        assert errors == []
    finally:
        context.close()


def test_the_overview_and_many_seed_screenshots_after_three_years(page):
    """The README's pictures: three years of the default run, played with ▶ and paused; then its 20 seeds."""
    page.locator(".teach-play").click()
    page.wait_for_function("() => Number(/Month (\\d+)/.exec(document.querySelector('.teach-month').innerText)[1])"
                           " >= 36")
    page.locator(".teach-play", has_text="Pause").click()
    expect(page.locator(".teach-step")).to_be_enabled()
    month = month_shown(page)
    wait_for_month(page, month)
    screenshot(page, "app_overview.png")
    page.locator(".teach-many").click()
    for name in CHARTS:
        expect(page.locator(f".teach-chart-{name}")).to_have_attribute("data-view", "many")
        expect(page.locator(f".teach-chart-{name}")).to_have_attribute("data-months", str(month))
    screenshot(page, "app_many.png")
