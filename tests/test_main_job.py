"""The main job and the public interface of the README, "Public interface"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

import sim

ROOT = Path(__file__).resolve().parents[1]
PROMISED = ["date", "relations", "trust", "pakistan_stance", "taliban_stance", "border", "trade",
            "taliban_revenue", "refugees_in_pakistan", "refugee_arrivals", "returns_voluntary",
            "returns_forced", "attacks", "deaths_security", "deaths_civilian", "deaths_militant", "deaths_total"]


def test_frame_has_the_promised_columns_one_row_per_month():
    frame = sim.run(scenario="baseline", seed=0, months=18)
    groups = ("ttp", "iskp", "baloch")
    missing = [c for c in PROMISED + [f"{k}_{g}" for g in groups for k in ("attacks", "deaths", "strength")]
               if c not in frame.columns]
    assert missing == []
    assert len(frame) == 18
    assert frame["date"].iloc[0] == pd.Timestamp("2025-12-01")  # from today: where the record ends (issue 12)
    assert (frame["date"].dt.day == 1).all()


def test_default_run_lasts_the_scenario_length():
    assert len(sim.run()) == sim.load_config("baseline").scenario.months


def test_cli_main_job_writes_results_and_a_summary(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "sim", "seed=4", "months=36", f"hydra.run.dir={out}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out / "timeseries.csv", parse_dates=["date"])
    assert len(table) == 36
    pd.testing.assert_series_equal(table["deaths_total"], sim.run(seed=4, months=36)["deaths_total"])
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["seed"] == 4 and config["pakistan"]["tolerance"] > 0
    log = (out / "events.log").read_text().splitlines()
    assert log and all(line[:4].isdigit() and line[4] == "-" and line[7] == ":" for line in log)
    assert (out / "dashboard.png").stat().st_size > 20_000
    assert str(out) in proc.stdout
    summary = proc.stdout.strip().splitlines()[-5:]
    assert summary[0].startswith("Period: 2025-12 to 2028-11")
    assert "Pakistan engaged" in summary[1] and "Violence:" in summary[2]


def test_event_log_speaks_plain_language():
    model = sim.build_model("baseline", seed=0, months=60, overrides={"scenario.events": [
        {"date": "+5", "target": "pakistan.strikes", "value": True, "months": 1,
         "note": "Pakistani jets strike TTP hideouts in Khost"}]}).run()
    lines = model.event_log.lines
    assert "2026-05: Pakistani jets strike TTP hideouts in Khost" in lines  # +5 from December 2025
    assert "2026-05: Pakistan strikes TTP camps inside Afghanistan" in lines
