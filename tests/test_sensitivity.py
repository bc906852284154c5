"""Global sensitivity and scenario discovery (experiments/sensitivity.py), and design-file sweeps.

The analysis functions are checked on problems with known answers: Sobol indices of the
Ishigami function, Morris effects of a linear model, PRIM boxes (EMA Workbench) and CART
leaves of known regions, feature scores of a function of one input. The
design-file sweep (sim/sweeps/sweep.py) is checked like other sweeps: same results as single
runs, resume, one-line errors. The full experiment runs once at its --quick size.
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

import sim
from experiments.sensitivity import (
    SETTINGS_PATH,
    Question,
    cart,
    feature_scores,
    load_settings,
    main,
    morris_design,
    morris_indices,
    prim,
    sobol_design,
    sobol_indices,
)
from sim.sweeps.aggregate import load_table
from sim.config import ConfigError
from sim.analysis.metrics import METRIC_NAMES
from sim.sweeps.sweep import check_sweep

ROOT = Path(__file__).resolve().parents[1]

# Ishigami function f = sin x1 + a sin^2 x2 + b x3^4 sin x1 on [-pi, pi]^3 with a = 7,
# b = 0.1: its Sobol indices are known in closed form (Ishigami & Homma 1990; Saltelli
# et al. 2008, "Global Sensitivity Analysis: The Primer", section 4.8).
ISHIGAMI = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-math.pi, math.pi]] * 3}
ISHIGAMI_S1 = [0.3139, 0.4424, 0.0]
ISHIGAMI_ST = [0.5576, 0.4424, 0.2437]
ISHIGAMI_N = 2048        # base samples: 2048 x 5 = 10,240 evaluations (milliseconds)
ISHIGAMI_TOL = 0.03      # largest allowed miss of any index (index units); the 95% bootstrap half-widths at this N are 0.02-0.06


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


# ------------------------------------------------------------------------ Sobol (Ishigami)
def test_sobol_path_recovers_the_ishigami_indices():
    x = sobol_design(ISHIGAMI, ISHIGAMI_N, seed=1)
    assert x.shape == (ISHIGAMI_N * 5, 3)
    ind, counts = sobol_indices(ISHIGAMI, ishigami(x), resamples=200, seed=1)
    assert counts == {"blocks": ISHIGAMI_N, "dropped": 0}
    np.testing.assert_allclose(ind["S1"], ISHIGAMI_S1, atol=ISHIGAMI_TOL)
    np.testing.assert_allclose(ind["ST"], ISHIGAMI_ST, atol=ISHIGAMI_TOL)
    # the intervals are real intervals, and narrow at this N
    assert ((ind["S1_conf"] > 0) & (ind["S1_conf"] < 0.1)).all()
    assert ((ind["ST_conf"] > 0) & (ind["ST_conf"] < 0.1)).all()


def test_sobol_design_for_n_starts_with_the_design_for_half_n():
    """The stability check (N/2 against N) reuses the first half of the runs."""
    full = sobol_design(ISHIGAMI, 64, seed=3)
    half = sobol_design(ISHIGAMI, 32, seed=3)
    np.testing.assert_array_equal(full[: len(half)], half)


def test_sobol_drops_exactly_the_blocks_with_undefined_values():
    x = sobol_design(ISHIGAMI, ISHIGAMI_N, seed=1)
    y = ishigami(x)
    hit = np.random.default_rng(0).choice(ISHIGAMI_N, size=200, replace=False)
    y[hit * 5 + 2] = np.nan                      # one undefined value in each of 200 blocks
    ind, counts = sobol_indices(ISHIGAMI, y, resamples=100, seed=1)
    assert counts == {"blocks": ISHIGAMI_N - 200, "dropped": 200}
    # blocks dropped at random: still the Ishigami indices, within a slightly wider tolerance
    np.testing.assert_allclose(ind["S1"], ISHIGAMI_S1, atol=ISHIGAMI_TOL + 0.02)
    np.testing.assert_allclose(ind["ST"], ISHIGAMI_ST, atol=ISHIGAMI_TOL + 0.02)


def test_sobol_of_a_constant_or_all_undefined_output_is_nan_not_an_error():
    y = np.ones(8 * 5)
    ind, _ = sobol_indices(ISHIGAMI, y, resamples=10)
    assert ind.isna().all().all()
    ind, counts = sobol_indices(ISHIGAMI, np.full(8 * 5, np.nan), resamples=10)
    assert ind.isna().all().all() and counts == {"blocks": 0, "dropped": 8}
    with pytest.raises(ValueError, match="multiple of D \\+ 2"):
        sobol_indices(ISHIGAMI, np.ones(11))


# ------------------------------------------------------------------- Morris (linear model)
def test_morris_path_gives_the_effects_of_a_linear_model():
    """For f = 2 a + 0.5 b + 0 c every elementary effect is slope x range: mu* = (2, 1, 0), sigma = 0."""
    problem = {"num_vars": 3, "names": ["a", "b", "c"], "bounds": [[0, 1], [0, 2], [0, 4]]}
    x = morris_design(problem, trajectories=10, levels=4, seed=0)
    y = 2 * x[:, 0] + 0.5 * x[:, 1] + 0 * x[:, 2]
    ind, counts = morris_indices(problem, x, y, levels=4, resamples=50, seed=0)
    assert counts == {"trajectories": 10, "dropped": 0}
    np.testing.assert_allclose(ind["mu_star"], [2.0, 1.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(ind["mu"], [2.0, 1.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(ind["sigma"], [0.0, 0.0, 0.0], atol=1e-9)
    y[5] = np.nan  # the first trajectory (rows 0-3) is intact; the second (4-7) holds a NaN
    ind, counts = morris_indices(problem, x, y, levels=4, resamples=50, seed=0)
    assert counts == {"trajectories": 9, "dropped": 1}
    np.testing.assert_allclose(ind["mu_star"], [2.0, 1.0, 0.0], atol=1e-9)


# ---------------------------------------------------------------------------------- PRIM
def test_prim_finds_a_known_box():
    """Cases are exactly x0 > 0.6 and x1 < 0.5; x2 is irrelevant."""
    rng = np.random.default_rng(0)
    x = rng.random((2000, 3))
    y = (x[:, 0] > 0.6) & (x[:, 1] < 0.5)
    boxes, path = prim(x, y, np.array([[0.0, 1.0]] * 3), ["x0", "x1", "x2"], min_density=0.95)
    box = boxes[0]
    assert set(box.restricted) == {"x0", "x1"}
    assert box.limits[0, 0] == pytest.approx(0.6, abs=0.05)
    assert box.limits[1, 1] == pytest.approx(0.5, abs=0.05)
    assert box.density >= 0.95 and box.coverage >= 0.9
    assert box.cases == int(y[(x[:, 0] >= box.limits[0, 0]) & (x[:, 1] <= box.limits[1, 1])].sum())
    # lifting either restriction lowers the density towards the share of cases overall
    assert max(box.drop_density.values()) < 0.7
    # the peeling path starts from the whole box and raises the density
    assert path["coverage"].iloc[0] == 1.0 and path["density"].iloc[0] == pytest.approx(y.mean())
    assert path["density"].max() >= 0.95 and path["chosen"].sum() == 1


def test_prim_covers_two_regions_with_two_boxes():
    """Cases are x0 > 0.75 or x1 > 0.85: one box per half-plane, the second among the points left."""
    rng = np.random.default_rng(1)
    x = rng.random((3000, 2))
    y = (x[:, 0] > 0.75) | (x[:, 1] > 0.85)
    boxes, _ = prim(x, y, np.array([[0.0, 1.0]] * 2), ["x0", "x1"], min_density=0.9, max_boxes=2)
    assert [b.restricted for b in boxes] == [["x0"], ["x1"]]
    assert boxes[0].limits[0, 0] == pytest.approx(0.75, abs=0.05)
    assert boxes[1].limits[1, 0] == pytest.approx(0.85, abs=0.05)
    assert all(b.density >= 0.9 for b in boxes)
    assert sum(b.coverage for b in boxes) >= 0.95  # coverages are shares of all cases, so they add up


@pytest.mark.parametrize("objective", ["lenient1", "original"])
def test_each_prim_objective_finds_the_known_box(objective):
    rng = np.random.default_rng(2)
    x = rng.random((1500, 3))
    y = (x[:, 0] > 0.6) & (x[:, 1] < 0.5)
    boxes, _ = prim(x, y, np.array([[0.0, 1.0]] * 3), ["x0", "x1", "x2"], min_density=0.95, objective=objective)
    assert set(boxes[0].restricted) == {"x0", "x1"} and boxes[0].density >= 0.95
    with pytest.raises(ValueError, match="objective 'nope'"):
        prim(x, y, np.array([[0.0, 1.0]] * 3), ["x0", "x1", "x2"], objective="nope")


def test_prim_pruning_lifts_a_restriction_that_buys_little_density():
    """Cases are x0 > 0.6, plus a faint extra share where x1 < 0.5: the pruned box keeps only x0."""
    rng = np.random.default_rng(3)
    x = rng.random((2000, 2))
    y = (x[:, 0] > 0.6) & ((x[:, 1] < 0.5) | (rng.random(2000) < 0.93))
    bounds = np.array([[0.0, 1.0]] * 2)
    kept, _ = prim(x, y, bounds, ["x0", "x1"], min_density=0.9, max_boxes=1, prune_below=0.0)
    pruned, _ = prim(x, y, bounds, ["x0", "x1"], min_density=0.9, max_boxes=1, prune_below=0.06)
    assert pruned[0].restricted == ["x0"] and pruned[0].density >= 0.9
    assert pruned[0].coverage >= kept[0].coverage


def test_cart_leaves_describe_a_known_region():
    rng = np.random.default_rng(4)
    x = rng.random((2000, 3))
    y = (x[:, 0] > 0.6) & (x[:, 1] < 0.5)
    leaves = cart(x, y, np.array([[0.0, 1.0]] * 3), ["x0", "x1", "x2"], min_mass=0.05, min_density=0.9)
    assert leaves, "no leaf reached the density"
    best = leaves[0]
    assert {"x0", "x1"} <= set(best.restricted) and best.density >= 0.9
    assert best.limits[0, 0] == pytest.approx(0.6, abs=0.03) and best.limits[1, 1] == pytest.approx(0.5, abs=0.03)
    assert sum(b.coverage for b in leaves) == pytest.approx(1.0, abs=0.05)  # the leaves tile the region
    assert cart(x, np.zeros(2000, dtype=bool), np.array([[0.0, 1.0]] * 3), ["x0", "x1", "x2"]) == []


def test_feature_scores_put_the_only_input_that_matters_first():
    rng = np.random.default_rng(5)
    x = rng.random((600, 4))
    y = 3.0 * x[:, 2] + 0.05 * rng.standard_normal(600)
    y[:40] = np.nan  # undefined values are left out, not an error
    scores = feature_scores(x, y, ["a", "b", "c", "d"], trees=50, seed=0)
    # (extra trees split on a random input at each node, so the idle inputs keep some score)
    assert scores.idxmax() == "c" and scores["c"] > 0.6 and scores.drop("c").max() < 0.15
    assert scores.sum() == pytest.approx(1.0)
    again = feature_scores(x, y, ["a", "b", "c", "d"], trees=50, seed=0)
    pd.testing.assert_series_equal(scores, again)  # the seed makes it reproducible
    assert feature_scores(x, np.full(600, np.nan), ["a", "b", "c", "d"]).isna().all()


def test_question_cases_and_undefined_values():
    lasting = Question("q", "a thaw lasts", "mean_thaw_duration", 36.0, at_least=True, nan_is_case=False)
    failing = Question("q", "thaws fail", "mean_thaw_duration", 12.0, at_least=False, nan_is_case=True)
    values = np.array([40.0, 36.0, 20.0, np.nan, 5.0])
    assert lasting.cases(values).tolist() == [True, True, False, False, False]
    assert failing.cases(values).tolist() == [False, False, False, True, True]


# ------------------------------------------------------------------------------ settings
def test_every_parameter_has_a_range_unit_and_reason():
    s = load_settings()
    assert len(s.parameters) >= 5
    for p in s.parameters:
        assert p.low < p.high and p.unit and p.label and len(p.reason) > 20
    assert set(s.metrics) == {"reversal_probability", "backward_forward_ratio", "share_engaged",
                              "mean_monthly_fatalities"}
    assert {q.name for q in s.questions} >= {"thaw_lasts"}


def _settings_with(tmp_path: Path, change) -> Path:
    raw = OmegaConf.to_container(OmegaConf.load(SETTINGS_PATH))
    change(raw)
    path = tmp_path / "settings.yaml"
    path.write_text(OmegaConf.to_yaml(raw))
    return path


@pytest.mark.parametrize("change, says", [
    (lambda r: r["parameters"].update({"pakistan.tolerence": dict(r["parameters"]["pakistan.tolerance"])}),
     "pakistan.tolerence: unknown parameter; did you mean pakistan.tolerance?"),
    (lambda r: r["parameters"]["taliban.cohesion"].update(high=1.5), "taliban.cohesion: 1.5 is out of range"),
    (lambda r: r["parameters"]["taliban.cohesion"].update(low=0.9, high=0.3), "must be a number below high"),
    (lambda r: r["parameters"]["taliban.cohesion"].update(reason=""), "reason: empty"),
    (lambda r: r["sobol"].update(base_samples=100), "100 is not a power of 2"),
    (lambda r: r["metrics"].update(no_such_metric={"nan": "drop"}), "no_such_metric: unknown metric"),
    (lambda r: r["metrics"]["share_engaged"].update(nan="zero"), "'zero' is not allowed"),
    (lambda r: r["discovery"]["questions"]["thaw_lasts"].update(below=3), "exactly one of at_least or below"),
    (lambda r: r["discovery"].update(objective="greedy"), "discovery.objective: 'greedy' is not allowed"),
    (lambda r: r["features"].update(trees=3), "features.trees: 3 is not allowed"),
])
def test_bad_settings_fail_with_one_line(tmp_path, change, says):
    with pytest.raises(ConfigError) as err:
        load_settings(_settings_with(tmp_path, change))
    assert says in str(err.value)
    assert "\n" not in str(err.value)


def test_the_command_reports_bad_input_in_one_line(capsys):
    assert main(["--n", "3", "--quick"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "not a power of 2" in err[0]


# --------------------------------------------------------------------- design-file sweeps
def _design_sweep(folder: Path, design: Path, rows: int, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", "-m", f"++sweep.design={design}", f"+design_row=range(0,{rows})",
                           "months=12", "sweep.replicates=2", "sweep.progress=false", f"hydra.sweep.dir={folder}",
                           *extra], cwd=ROOT, capture_output=True, text=True, env=dict(os.environ))


@pytest.mark.slow
def test_a_design_file_sweeps_its_rows_like_any_sweep(tmp_path):
    design = tmp_path / "design.csv"
    pd.DataFrame({"pakistan.tolerance": [40.0, 80.5, 120.0],
                  "taliban.cohesion": [0.3, 0.6, 0.9]}).to_csv(design, index=False)
    r = _design_sweep(tmp_path / "sweep", design, 3)
    assert r.returncode == 0, r.stderr
    t = load_table(tmp_path / "sweep")
    assert len(t) == 3 * 2 and (t["status"] == "ok").all()
    assert sorted(t["design_row"].unique()) == [0, 1, 2]
    row = t[(t["design_row"] == 1) & (t["seed"] == 1)].iloc[0]
    assert row["pakistan.tolerance"] == 80.5 and row["taliban.cohesion"] == 0.6
    expected = sim.pattern_metrics(sim.run(seed=1, months=12, overrides={"pakistan.tolerance": 80.5,
                                                                         "taliban.cohesion": 0.6}))
    for name in METRIC_NAMES:
        assert (math.isnan(expected[name]) and math.isnan(row[name])) or row[name] == expected[name], name
    # a re-run resumes: every point is finished and skipped
    r = _design_sweep(tmp_path / "sweep", design, 3)
    assert "0 run, 3 already finished and skipped" in r.stdout


@pytest.mark.parametrize("rows, extra, says", [
    ({"pakistan.tolerance": [40.0, -5.0]}, [], "row 1: pakistan.tolerance: -5.0 is out of range"),
    ({"pakistan.tolerence": [40.0, 50.0]}, [], "pakistan.tolerence: unknown parameter; did you mean pakistan.tolerance?"),
    ({"scenario": ["baseline", "baseline"]}, [], "column 'scenario' cannot be set by a design"),
    ({"pakistan.tolerance": [40.0, 50.0]}, ["+design_row=range(0,3)"], "design_row: 2 is out of range; the design"),
    ({"pakistan.tolerance": [40.0, 50.0]}, ["+design_row=range(0,2)", "pakistan.tolerance=60"],
     "pakistan.tolerance: set both by the design"),
])
def test_a_bad_design_is_refused_before_any_job_with_one_line(tmp_path, rows, extra, says):
    design = tmp_path / "design.csv"
    pd.DataFrame(rows).to_csv(design, index=False)
    lines = extra or ["+design_row=range(0,2)"]
    with pytest.raises(ConfigError) as err:
        check_sweep([f"+sweep.design={design}", *lines, "months=12"])
    assert says in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("lines, says", [
    (["+design_row=range(0,2)"], "design_row: needs +sweep.design=PATH"),
    (["+sweep.design=/no/such/design.csv", "+design_row=range(0,2)"], "/no/such/design.csv does not exist"),
    (["+sweep.design=DESIGN"], "no design row to run"),
    (["sweep.design=DESIGN", "+design_row=range(0,2)"], "write +sweep.design="),
])
def test_a_design_sweep_needs_both_keys(tmp_path, lines, says):
    design = tmp_path / "design.csv"
    pd.DataFrame({"pakistan.tolerance": [40.0, 50.0]}).to_csv(design, index=False)
    with pytest.raises(ConfigError) as err:
        check_sweep([line.replace("DESIGN", str(design)) for line in lines])
    assert says in str(err.value) and "\n" not in str(err.value)


# ------------------------------------------------------------------- the whole experiment
@pytest.mark.slow
def test_the_quick_experiment_runs_through_the_sweep_and_writes_every_output(tmp_path):
    out, report = tmp_path / "run", tmp_path / "report"
    r = subprocess.run([sys.executable, "-m", "experiments.sensitivity", "--quick", "--out", str(out),
                        "--report-dir", str(report)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    s = load_settings(quick=True)
    d = len(s.parameters)
    points = s.sobol["base_samples"] * (d + 2) + s.morris["trajectories"] * (d + 1)
    # the runs went through the sweep machinery: one point file per design row
    assert len(list((out / "sweep" / "points").glob("*.parquet"))) == points
    values = pd.read_parquet(out / "point_values.parquet")
    assert len(values) == points and (values["runs_ok"] == s.seeds).all()
    text = (report / "sensitivity.md").read_text()
    for name in ("sobol", "morris", "stability", "features", "prim"):
        img = report / "img" / f"sensitivity_{name}.png"
        assert img.stat().st_size > 10_000, name
        assert f"img/sensitivity_{name}.png" in text
    for metric in s.metrics:
        assert f"`{metric}`" in text
    for p in s.parameters:
        assert p.path in text
    for heading in ("## Interpretation for a policy reader", "## Was the sample large enough?",
                    "## Feature scoring", "## Scenario discovery", "**CART**", "coverage", "density"):
        assert heading in text
    for table in ("indices_sobol", "indices_morris", "stability", "feature_scores", "prim_boxes", "cart_boxes"):
        frame = pd.read_csv(out / f"{table}.csv") if (out / f"{table}.csv").stat().st_size > 1 else None
        assert frame is None or len(frame.columns) > 1
    sob = pd.read_csv(out / "indices_sobol.csv")
    assert set(sob["metric"]) == set(s.metrics) and len(sob) == len(s.metrics) * d
    scores = pd.read_csv(out / "feature_scores.csv")
    assert list(scores["parameter"]) == s.names and set(s.metrics) <= set(scores.columns)
