"""The policy search (configs/experiment/policy_search.yaml) and its objectives (sim/sweeps/objective.py).

The objective of a point is the mean over its ok runs where the metric is defined;
``-`` marks a minimised metric and must agree with the Optuna sweeper's direction. A
tiny search through ``python -m sim -m experiment=policy_search`` writes Hydra's
``optimization_results.yaml``, whose values are the means of the point files the
trials wrote.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from sim.config import ConfigError
from sim.sweeps.objective import check_objectives, parse_objectives, point_objective

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = ROOT / "configs" / "experiment" / "policy_search.yaml"
NAN = float("nan")


def _cfg(objectives, direction=None):
    data = {"sweep": {"objectives": objectives}}
    if direction is not None:
        data["hydra"] = {"sweeper": {"direction": direction}}
    return OmegaConf.create(data)


ROWS = [
    {"status": "ok", "mean_thaw_duration": 10.0, "mean_monthly_fatalities": 50.0},
    {"status": "ok", "mean_thaw_duration": NAN, "mean_monthly_fatalities": 70.0},     # no thaw in this run
    {"status": "ok", "mean_thaw_duration": 30.0, "mean_monthly_fatalities": 90.0},
    {"status": "failed", "mean_thaw_duration": NAN, "mean_monthly_fatalities": NAN},  # a failed run is left out
]


# ------------------------------------------------------------------------- the objective
def test_the_objective_is_the_mean_over_ok_runs_where_the_metric_is_defined():
    cfg = _cfg(["mean_thaw_duration", "-mean_monthly_fatalities"])
    assert point_objective(cfg, ROWS) == (20.0, 70.0)
    assert point_objective(cfg, pd.DataFrame(ROWS)) == (20.0, 70.0)  # the rows as a table give the same
    single = point_objective(_cfg(["-mean_monthly_fatalities"]), ROWS)
    assert single == 70.0 and isinstance(single, float)


def test_no_objectives_means_a_plain_sweep():
    assert point_objective(_cfg([]), ROWS) is None
    assert point_objective(OmegaConf.create({"sweep": {"replicates": 2}}), ROWS) is None
    assert point_objective({"sweep": {"objectives": None}}, ROWS) is None


def test_a_metric_no_ok_run_defines_is_never_nan_or_infinite():
    """No thaw in any run reads as 0 months; another undefined metric is None (a failed trial for Optuna)."""
    rows = [{"status": "ok", "mean_thaw_duration": NAN, "mean_monthly_fatalities": 40.0, "reversal_probability": NAN},
            {"status": "failed", "mean_thaw_duration": 99.0, "mean_monthly_fatalities": 1.0, "reversal_probability": 1.0}]
    assert point_objective(_cfg(["mean_thaw_duration", "-mean_monthly_fatalities"]), rows) == (0.0, 40.0)
    assert point_objective(_cfg(["-reversal_probability"]), rows) is None
    failed = [{"status": "failed", "mean_thaw_duration": NAN, "mean_monthly_fatalities": NAN}]
    assert point_objective(_cfg(["mean_thaw_duration", "-mean_monthly_fatalities"]), failed) == (0.0, None)


def test_the_minus_prefix_marks_a_minimised_metric():
    assert parse_objectives(["share_engaged", "-mean_monthly_fatalities", " - net_drift"]) == [
        ("share_engaged", False), ("mean_monthly_fatalities", True), ("net_drift", True)]
    assert check_objectives(_cfg(["mean_thaw_duration", "-mean_monthly_fatalities"], ["maximize", "minimize"]))
    assert check_objectives(_cfg(["-mean_monthly_fatalities"], "minimize"))


@pytest.mark.parametrize("objectives, direction, says", [
    (["thaw_length"], None, "sweep.objectives: 'thaw_length' is not a pattern metric; allowed"),
    (["share_engaged", "-share_engaged"], None, "share_engaged is listed twice"),
    ("share_engaged", None, "is not a list"),
    (["mean_thaw_duration", "mean_monthly_fatalities"], ["maximize", "minimize"],
     "mean_monthly_fatalities is maximised but hydra.sweeper.direction[1] is minimize; write -mean_monthly_fatalities"),
    (["-mean_thaw_duration"], ["maximize"], "-mean_thaw_duration is minimised but hydra.sweeper.direction[0] is maximize"),
    (["mean_thaw_duration"], ["maximize", "minimize"], "1 objective but hydra.sweeper.direction has 2"),
    (["mean_thaw_duration"], ["upward"], "hydra.sweeper.direction[0]: 'upward' is not allowed"),
])
def test_bad_objectives_stop_with_one_line(objectives, direction, says):
    with pytest.raises(ConfigError) as err:
        check_objectives(_cfg(objectives, direction))
    assert says in str(err.value) and "\n" not in str(err.value)


def test_the_experiment_s_objectives_agree_with_its_directions():
    raw = OmegaConf.load(EXPERIMENT)
    assert check_objectives(raw) == [("mean_thaw_duration", False), ("mean_monthly_fatalities", True)]
    assert set(raw.hydra.sweeper.params) == {lever.key for lever in raw.experiment.levers}


# ---------------------------------------------------------------------- the search itself
def _search(folder: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sim", "-m", "experiment=policy_search", "hydra.sweeper.n_trials=4",
         "hydra.sweeper.sampler.n_startup_trials=2", "months=24", "sweep.replicates=2", "sweep.progress=false",
         f"hydra.sweep.dir={folder}", *extra],
        cwd=ROOT, capture_output=True, text=True, env=dict(os.environ), timeout=600)


def _point_means(folder: Path) -> pd.DataFrame:
    """Each trial's lever values and objective means, from the point files the trials wrote."""
    from sim.sweeps.aggregate import load_table

    table = load_table(folder)
    levers = list(OmegaConf.load(EXPERIMENT).hydra.sweeper.params)
    ok = table[table["status"] == "ok"]
    return ok.groupby(levers)[["mean_thaw_duration", "mean_monthly_fatalities"]].mean().reset_index()


@pytest.mark.slow
def test_a_four_trial_search_writes_its_pareto_front(tmp_path):
    folder = tmp_path / "search"
    r = _search(folder)
    assert r.returncode == 0, r.stderr[-3000:]
    result = OmegaConf.to_container(OmegaConf.load(folder / "optimization_results.yaml"))
    assert result["name"] == "optuna" and result["solutions"]  # two objectives: the Pareto front
    means = _point_means(folder)
    assert len(means) == 4  # one point file per trial, each with its seeds
    levers = set(OmegaConf.load(EXPERIMENT).hydra.sweeper.params)
    for solution in result["solutions"]:
        assert set(solution["params"]) == levers
        thaw, deaths = solution["values"]
        match = np.isclose(means["pakistan.tolerance"], solution["params"]["pakistan.tolerance"], rtol=1e-9)
        assert match.sum() == 1
        row = means[match].iloc[0]
        assert thaw == pytest.approx(row["mean_thaw_duration"]) and deaths == pytest.approx(row["mean_monthly_fatalities"])
    # no reported solution is beaten on both objectives by another trial
    for solution in result["solutions"]:
        thaw, deaths = solution["values"]
        better = (means["mean_thaw_duration"] > thaw) & (means["mean_monthly_fatalities"] < deaths)
        assert not better.any()
    # the same command again resumes: the sampler proposes the same trials, their point files are
    # read back (not run again), and the Pareto front is the same
    stamps = {f.name: f.stat().st_mtime_ns for f in (folder / "points").glob("*.parquet")}
    again = _search(folder)
    assert again.returncode == 0, again.stderr[-3000:]
    assert {f.name: f.stat().st_mtime_ns for f in (folder / "points").glob("*.parquet")} == stamps
    assert OmegaConf.to_container(OmegaConf.load(folder / "optimization_results.yaml")) == result


@pytest.mark.slow
def test_a_single_objective_search_writes_best_params(tmp_path):
    folder = tmp_path / "search"
    r = _search(folder, "sweep.objectives=[-mean_monthly_fatalities]", "hydra.sweeper.direction=minimize")
    assert r.returncode == 0, r.stderr[-3000:]
    result = OmegaConf.to_container(OmegaConf.load(folder / "optimization_results.yaml"))
    assert set(result["best_params"]) == set(OmegaConf.load(EXPERIMENT).hydra.sweeper.params)
    assert result["best_value"] == pytest.approx(_point_means(folder)["mean_monthly_fatalities"].min())


def test_a_direction_that_disagrees_with_the_objectives_stops_the_search_before_it_runs(tmp_path):
    r = _search(tmp_path / "search", "hydra.sweeper.direction=[maximize,maximize]")
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and "mean_monthly_fatalities is minimised" in lines[-1]
    assert not (tmp_path / "search" / "optimization_results.yaml").exists()


@pytest.mark.slow
def test_the_quick_report_runs_the_search_and_writes_every_output(tmp_path):
    """``python -m experiments.policy_search --quick``: search, fresh seeds, EMA robustness, report."""
    search, report = tmp_path / "search", tmp_path / "report"
    r = subprocess.run([sys.executable, "-m", "experiments.policy_search", "--quick", "--search-dir", str(search),
                        "--report-dir", str(report)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (search / "optimization_results.yaml").is_file()
    text = (report / "policy_search.md").read_text()
    for name in ("tradeoff", "levers", "robustness"):
        assert (report / "img" / f"policy_search_{name}.png").stat().st_size > 10_000, name
        assert f"img/policy_search_{name}.png" in text
    for heading in ("## In short", "## The trade-off", "## Compared with the named scenarios",
                    "## Robust across the model's uncertain parameters?", "## What the search cannot tell"):
        assert heading in text
    for scenario in ("baseline", "pressure_first", "engagement_first"):
        assert f"| {scenario} |" in text
    fresh = pd.read_csv(search / "policy_search_fresh.csv")
    assert set(fresh["kind"]) == {"Pareto policy", "named scenario"} and (fresh["runs"] == 2).all()
    worlds = pd.read_csv(search / "policy_search_worlds.csv")
    assert "default settings" in set(worlds["policy"]) and worlds["world"].nunique() == 2


def test_a_quick_run_never_writes_its_report_into_docs():
    """``--quick`` without ``--report-dir`` once wrote its smoke report over docs/policy_search.md."""
    from experiments.policy_search import ROOT, load_settings

    assert load_settings(quick=True)["report_dir"] != ROOT / "docs"
    assert load_settings()["report_dir"] == ROOT / "docs"


def test_labels_of_close_policies_are_spread_apart_in_their_order():
    from experiments.policy_search import spread_labels

    ys = np.array([0.50, 0.52, 0.10, 0.51])
    out = spread_labels(ys, 0.06)
    gaps = np.diff(np.sort(out))
    assert (gaps >= 0.06 - 1e-12).all()
    assert list(np.argsort(out, kind="stable")) == list(np.argsort(ys, kind="stable"))  # order kept
    assert abs(out.mean() - ys.mean()) < 1e-12  # centred on the points
    apart = np.array([0.1, 0.5, 0.9])
    assert np.allclose(spread_labels(apart, 0.06), apart)  # labels already apart stay on their points
