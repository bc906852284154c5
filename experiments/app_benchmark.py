"""How fast the teaching app feels in a browser: first render, Step latency and the ▶ rate.

    .venv/bin/python -m experiments.app_benchmark            # about 2 minutes on 2 cores
    .venv/bin/python -m experiments.app_benchmark --quick    # fewer repetitions (about 40 s)

Starts the app with ``solara run --production`` on a free local port and drives it in
headless Chromium (Debian's, ``/usr/bin/chromium``) with Playwright, as a student would:

- **first render**: from navigation to the month counter and the four charts drawn
  (a fresh browser context each time, so nothing is reused but the server's caches);
- **Step**: timed inside the page, from the click to the frame painted after the month
  counter and all four charts hold the new month (``performance.now()``, a
  MutationObserver, then ``requestAnimationFrame``), so Playwright's own round trips
  are not counted;
- **▶**: months shown per second while playing at the slowest and fastest speed
  setting, counted in the page over a fixed wall-clock window;
- **many seeds**: from the click to the many-seed view drawn.

On a shared machine the wall-clock figures carry other people's load, so the Step
loop also records the **CPU time** the server and the browser spent on it (psutil,
every process this script started): CPU milliseconds a Step are what a Step costs on
an idle machine, before waiting on anything.

Medians (and the spread) are printed and written to ``results/app_benchmark/app_benchmark.json``
with the machine, the date and the load. Targets (issue 17): Step within 0.1 s (median),
▶ at least 5 months a second, first render within 3 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "app_benchmark"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1366, "height": 768}
TARGETS = {"step_s": 0.1, "play_months_per_s": 5.0, "first_render_s": 3.0}
CHARTS = ("relations", "trade", "refugees", "violence")

STEP_JS = """async (n) => {
  const month = document.querySelector('.teach-month');
  const charts = Array.from(document.querySelectorAll('.teach-chart'));
  const done = () => month.innerText.startsWith('Month ' + n + ' ')
                     && charts.every(c => c.getAttribute('data-months') === String(n));
  const t0 = performance.now();
  return await new Promise(resolve => {
    const obs = new MutationObserver(() => {
      if (done()) { obs.disconnect(); requestAnimationFrame(() => resolve(performance.now() - t0)); }
    });
    obs.observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
    document.querySelector('.teach-step').click();
  });
}"""
PLAY_JS = """async (seconds) => {
  const read = () => Number(/Month (\\d+)/.exec(document.querySelector('.teach-month').innerText)[1]);
  const start = read();
  await new Promise(r => setTimeout(r, seconds * 1000));
  return read() - start;
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "load_1min_start": os.getloadavg()[0]}


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (those that still exist)."""
    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def process_groups(server_pid: int) -> tuple[list[int], list[int]]:
    """(the app server's processes, the browser's and its driver's): every process this script started."""
    mine = psutil.Process().children(recursive=True)
    server = {server_pid} | {p.pid for p in psutil.Process(server_pid).children(recursive=True)}
    return sorted(server), sorted(p.pid for p in mine if p.pid not in server)


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values),
            "samples": [round(v, 4) for v in values]}


def month_of(page) -> int:
    text = page.locator(".teach-month").inner_text()
    return int(text.split()[1])


def wait_month(page, n: int) -> None:
    page.wait_for_function("n => document.querySelector('.teach-month') && "
                           "document.querySelector('.teach-month').innerText.startsWith('Month ' + n + ' ')",
                           arg=n, timeout=60_000)


def first_render(browser, url: str) -> float:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    t0 = time.perf_counter()
    page.goto(url)
    wait_month(page, 0)
    page.wait_for_function("document.querySelectorAll('.teach-chart canvas').length == 4", timeout=60_000)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")
    elapsed = time.perf_counter() - t0
    context.close()
    return elapsed


def set_speed(page, months_per_s: int) -> None:
    slider = page.locator(".teach-speed [role=slider]")
    slider.focus()
    slider.press("Home")
    for _ in range(months_per_s - 1):
        slider.press("ArrowRight")
    page.wait_for_function("s => document.querySelector('.teach-speed').innerText.includes('Speed: ' + s + ' ')",
                           arg=months_per_s)


def play_rate(page, speed: int, seconds: float) -> float:
    set_speed(page, speed)
    page.locator(".teach-play").click()
    page.wait_for_timeout(400)  # let ▶ settle into its pace
    months = page.evaluate(PLAY_JS, seconds)
    page.locator(".teach-play", has_text="Pause").click()
    page.wait_for_function("document.querySelector('.teach-step') && !document.querySelector('.teach-step').disabled")
    return months / seconds


def restart(page) -> None:
    page.locator(".teach-restart").click()
    wait_month(page, 0)


def many_seeds(page) -> float:
    t0 = time.perf_counter()
    page.locator(".teach-many").click()
    page.wait_for_function("Array.from(document.querySelectorAll('.teach-chart')).every("
                           "c => c.getAttribute('data-view') === 'many')", timeout=120_000)
    elapsed = time.perf_counter() - t0
    page.locator(".teach-many-off").click()
    return elapsed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    args = ap.parse_args(argv)
    renders, steps, play_s, many = (2, 20, 3.0, 1) if args.quick else (5, 60, 6.0, 3)
    if not Path(CHROMIUM).exists():
        print(f"error: chromium: {CHROMIUM} is absent; allowed: run scripts/ensure_chromium.sh first")
        return 2
    from playwright.sync_api import sync_playwright

    info = machine()
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = tempfile.TemporaryFile()
    solara = Path(sys.executable).parent / "solara"
    t_server = time.perf_counter()
    proc = subprocess.Popen([str(solara), "run", "sim/app/app.py", "--host", "127.0.0.1", "--port", str(port),
                             "--production", "--no-open"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    results: dict = {"date": dt.datetime.now().isoformat(timespec="seconds"), "machine": info, "targets": TARGETS}
    try:
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5):
                    break
            except OSError:
                if proc.poll() is not None or time.perf_counter() - t_server > 180:
                    log.seek(0)
                    print(log.read().decode()[-2000:])
                    return 1
                time.sleep(0.3)
        results["server_start_s"] = time.perf_counter() - t_server
        print(f"server up in {results['server_start_s']:.1f} s", flush=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            first_render(browser, url)  # warm-up: the server builds its first session
            samples = []
            for k in range(renders):
                samples.append(first_render(browser, url))
                print(f"first render {k + 1}/{renders}: {samples[-1]:.2f} s", flush=True)
            results["first_render_s"] = summary(samples)

            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            page.goto(url)
            wait_month(page, 0)
            lat = []
            server_pids, browser_pids = process_groups(proc.pid)
            cpu0 = cpu_seconds(server_pids), cpu_seconds(browser_pids)
            for k in range(1, steps + 1):
                lat.append(page.evaluate(STEP_JS, k) / 1000)
                if k % 10 == 0:
                    print(f"step {k}/{steps}: median so far {statistics.median(lat) * 1000:.0f} ms", flush=True)
            cpu1 = cpu_seconds(server_pids), cpu_seconds(browser_pids)
            results["step_s"] = summary(lat)
            results["step_cpu_ms"] = {"server": (cpu1[0] - cpu0[0]) / steps * 1000,
                                      "browser": (cpu1[1] - cpu0[1]) / steps * 1000}
            print(f"CPU a Step: server {results['step_cpu_ms']['server']:.0f} ms, "
                  f"browser {results['step_cpu_ms']['browser']:.0f} ms", flush=True)

            rates = {}
            for speed in (5, 10):
                restart(page)
                rates[speed] = play_rate(page, speed, play_s)
                print(f"▶ at {speed} months a second: {rates[speed]:.2f} months shown a second", flush=True)
            results["play_months_per_s"] = {str(k): v for k, v in rates.items()}

            restart(page)
            page.evaluate(STEP_JS, 1)
            many_times = [many_seeds(page) for _ in range(many)]
            results["many_seeds_s"] = summary(many_times)
            print(f"many seeds: median {statistics.median(many_times):.2f} s", flush=True)
            context.close()
            browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    results["machine"]["load_1min_end"] = os.getloadavg()[0]
    results["meets"] = {
        "step": results["step_s"]["median"] <= TARGETS["step_s"],
        "play": results["play_months_per_s"]["10"] >= TARGETS["play_months_per_s"],
        "first_render": results["first_render_s"]["median"] <= TARGETS["first_render_s"],
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "app_benchmark.json").write_text(json.dumps(results, indent=2))
    print(json.dumps({"step_ms_median": round(results["step_s"]["median"] * 1000, 1),
                      "step_cpu_ms": {k: round(v, 1) for k, v in results["step_cpu_ms"].items()},
                      "play_months_per_s": {k: round(v, 2) for k, v in results["play_months_per_s"].items()},
                      "first_render_s_median": round(results["first_render_s"]["median"], 2),
                      "many_seeds_s_median": round(results["many_seeds_s"]["median"], 2),
                      "meets": results["meets"],
                      "load": [info["load_1min_start"], results["machine"]["load_1min_end"]]}))
    print(f"wrote {OUT / 'app_benchmark.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
