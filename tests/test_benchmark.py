"""The benchmark script (experiments/benchmark.py) runs on a tiny grid and writes every figure.

Speed is not asserted: timings depend on the machine and its load. One process
(``--cores 1``) keeps the test short: the sweep and batch_run then run their jobs
in-process, through the same code paths.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.benchmark import FIGURES, QUICK_KEYS, summary_line

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--runs", "3", "--profile-runs", "2", "--profile-top", "4", "--figure-runs", "1", "--api-runs", "2",
        "--ema-experiments", "2",
        "--reference-repeats", "3",
        "--grid-points", "2", "--grid-seeds", "2", "--grid-repeats", "1", "--months", "24", "--cores", "1",
        "--scaling-months", "12,24", "--scaling-month-runs", "2", "--scaling-runs", "2,4", "--scaling-seeds", "2"]


pytestmark = pytest.mark.slow  # the benchmark runs as a subprocess, sweeps included


@pytest.fixture(scope="module")
def result(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("benchmark")
    r = subprocess.run([sys.executable, "-m", "experiments.benchmark", *TINY, "--out", str(out)],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Results:" in r.stdout
    return json.loads((out / "benchmark.json").read_text())


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def test_every_figure_is_in_the_results_file(result):
    missing = [k for k in FIGURES if k not in result or result[k] is None]
    assert not missing
    for key in ("run_ms", "bare_run_ms", "stepping_ms", "write_ms", "sweep_run_ms", "api_vs_model", "ema_vs_model",
                "run_vs_reference", "bare_vs_reference", "sweep_vs_batch_run", "sweep_vs_bare", "memory_growth"):
        assert _is_number(result[key]) and result[key] > 0, key
    # A difference of two medians (run with collection minus bare run): on a tiny, noisy
    # benchmark it can come out slightly below zero, so only its presence is checked.
    assert _is_number(result["collection_ms"]), "collection_ms"
    for path in ("sweep", "batch_run"):
        for key in ("runs", "wall_s", "cpu_s", "runs_per_s", "peak_process_mb", "peak_total_mb"):
            assert _is_number(result[path][key]), f"{path}.{key}"
    assert result["sweep"]["runs"] == result["batch_run"]["runs"] == 2 * 2


def test_the_month_by_stage_adds_up_to_the_month(result):
    stages = result["stage_us_per_month"]
    assert len(stages) >= 10 and all(_is_number(us) for us in stages.values())
    timed = {k: v for k, v in stages.items() if "glue" not in k}
    assert all(us >= 0 for us in timed.values()) and stages["4 militants act (draws and deaths)"] > 0
    assert math.isclose(sum(stages.values()), result["month_us"], rel_tol=1e-9)
    assert result["target_month_us"] == pytest.approx(4 * result["reference_ms"] * 1e3 / 120)


def test_both_sweep_paths_compute_the_same_metrics(result):
    assert result["metrics_agree"] is True


def test_scaling_rows_cover_every_requested_size(result):
    assert [row["months"] for row in result["months_scaling"]] == [12, 24]
    assert [row["runs"] for row in result["sweep_scaling"]] == [2, 4]
    assert all(_is_number(row["wall_s"]) and _is_number(row["peak_process_mb"]) for row in result["sweep_scaling"])
    assert _is_number(result["sweep_fit"]["per_unit"]) and _is_number(result["months_fit"]["per_unit"])


def test_profile_names_the_top_costs(result):
    for key in ("profile_top", "profile_write_top"):
        top = result[key]
        assert len(top) == 4, key
        assert all(row["function"] and _is_number(row["self_ms_per_run"]) for row in top), key
        shares = [row["self_share"] for row in top]
        assert shares == sorted(shares, reverse=True), key  # most expensive first


def test_quick_line_has_the_promised_keys(result):
    line = summary_line(result)
    assert set(QUICK_KEYS) <= set(line)
    assert line["grid"] == "2 points x 2 seeds x 24 months = 4 runs on 1 cores"  # the grid's size is said
    assert json.loads(json.dumps(line)) == line  # one JSON line


def test_the_quick_grid_is_large_enough_that_start_up_does_not_dominate():
    from experiments.benchmark import QUICK

    assert QUICK["grid_points"] * QUICK["grid_seeds"] >= 1000
