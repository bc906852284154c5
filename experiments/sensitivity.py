"""Global sensitivity (Sobol, Morris) and scenario discovery (PRIM) of the pattern metrics.

    python -m experiments.sensitivity                 # the full experiment, report into docs/
    python -m experiments.sensitivity --quick         # a smoke run of the whole pipeline (tests)
    python -m experiments.sensitivity --analyse-only  # redraw the report from the finished runs

Settings: ``configs/sensitivity/default.yaml`` (the uncertain parameters with their
ranges and reasons, the metrics, the sample sizes, the discovery questions). Steps:

1. *Design.* A Saltelli design for Sobol indices (SALib, scrambled Sobol sequence, N
   base samples, N x (D + 2) points) and a Morris design (r trajectories of D + 1
   points), written as one design file ``design.parquet`` (one row per point, one
   column per parameter) into a run folder named after the settings, so running the
   same command again resumes.
2. *Runs.* The design goes through the sweep machinery as one Hydra multirun,
   ``python -m sim -m ++sweep.design=design.parquet '+design_row=range(0,T)'``: one job
   per point running ``seeds`` seeds, one Parquet file per point, finished points
   skipped on a re-run, failed runs recorded (docs/sweeps.md).
3. *Analysis.* A point's value of a metric is the mean over its seeds of the runs where
   the metric is defined. Sobol first-order and total indices with bootstrap confidence
   intervals (SALib) and Morris mu*, sigma; undefined values are handled as the settings
   say (``nan: drop`` leaves out the Sobol blocks and Morris trajectories that hold one).
   Stability: the Sobol indices are estimated again from the first N/2 base samples (the
   first half of the design) and the largest change is reported. Seed noise: the share
   of the variance of the point values that is seed-to-seed noise.
4. *Scenario discovery* with EMA Workbench (``ema_workbench.analysis``) on the Sobol
   points: PRIM boxes of parameter values where a question holds (e.g. "a thaw lasts"),
   with their coverage and density; CART leaves as a second description; extra-trees
   feature scores of every metric as a second opinion beside the Sobol indices.
5. *Report.* ``docs/sensitivity.md`` and ``docs/img/sensitivity_*.png`` (``--quick``:
   into the run folder), plus CSV tables in the run folder.

The analysis functions (``sobol_design``, ``sobol_indices``, ``morris_design``,
``morris_indices``, ``prim``, ``cart``, ``feature_scores``) take plain arrays, so the tests
check them on functions with known answers (Ishigami, a linear model, a known box).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import subprocess
import sys
import textwrap
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

with warnings.catch_warnings():  # the workbench warns on import about an optional cluster backend not used here
    warnings.filterwarnings("ignore", message="ipyparallel not installed", category=UserWarning)
    from ema_workbench.analysis import cart as ema_cart
    from ema_workbench.analysis import feature_scoring
    from ema_workbench.analysis import prim as ema_prim

from experiments.calibrate import _md_table
from experiments.scenarios import exit_code, save_figure
from sim.config import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SETTINGS_PATH = ROOT / "configs" / "sensitivity" / "default.yaml"
DESIGN_FILE = "design.parquet"
META_FILE = "design.json"
SWEEP_DIR = "sweep"
IMG_PREFIX = "sensitivity_"
NAN_POLICIES = ("drop",)
PROGRESS_EVERY_SECONDS = 30   # how often a running sweep's progress is printed (not a model parameter)


def _log(message: str) -> None:
    print(message, flush=True)


# ----------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class Parameter:
    path: str
    low: float
    high: float
    unit: str
    label: str
    reason: str


@dataclass(frozen=True)
class Question:
    name: str
    title: str
    metric: str
    threshold: float
    at_least: bool          # True: a case if metric >= threshold; False: if metric < threshold
    nan_is_case: bool

    @property
    def rule(self) -> str:
        return f"{self.metric} {'>=' if self.at_least else '<'} {self.threshold:g}"

    def cases(self, values: np.ndarray) -> np.ndarray:
        """Which points are cases of interest (an undefined value counts as ``nan_is_case``)."""
        values = np.asarray(values, dtype=float)
        with np.errstate(invalid="ignore"):
            hit = values >= self.threshold if self.at_least else values < self.threshold
        return np.where(np.isnan(values), self.nan_is_case, hit)


@dataclass
class Settings:
    scenario: str
    months: int
    seeds: int
    base_seed: int
    jobs: int
    out: Path
    report_dir: Path
    parameters: list[Parameter]
    metrics: dict[str, str]                 # metric -> NaN policy
    sobol: dict[str, Any]
    morris: dict[str, Any]
    discovery: dict[str, Any]
    features: dict[str, Any]
    questions: list[Question]
    report: dict[str, float]
    quick: bool = False
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def problem(self) -> dict[str, Any]:
        """The SALib problem: parameter names (config paths) and bounds."""
        return {"num_vars": len(self.parameters), "names": [p.path for p in self.parameters],
                "bounds": [[p.low, p.high] for p in self.parameters]}

    @property
    def names(self) -> list[str]:
        return [p.path for p in self.parameters]


def _need(mapping: dict, key: str, where: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise ConfigError(f"{where}.{key}: missing; see configs/sensitivity/default.yaml")
    return mapping[key]


def _whole(value: Any, where: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or float(value) != int(value) or value < low:
        raise ConfigError(f"{where}: {value!r} is not allowed; give a whole number >= {low}")
    return int(value)


def _share(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value < 1.0:
        raise ConfigError(f"{where}: {value!r} is out of range; allowed 0 < value < 1")
    return float(value)


def _merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load_settings(path: Path = SETTINGS_PATH, quick: bool = False, changes: dict | None = None) -> Settings:
    """Read and check the settings; ``quick`` applies the ``quick:`` section, ``changes`` the command line.

    A bad entry raises a one-line ``ConfigError`` naming it.
    """
    from sim.analysis.metrics import METRIC_NAMES

    if not Path(path).is_file():
        raise ConfigError(f"sensitivity settings: {path} does not exist")
    raw = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    if quick:
        raw = _merge(raw, raw.get("quick") or {})
    raw = _merge(raw, changes or {})
    where = "sensitivity"
    params = []
    for key, p in (_need(raw, "parameters", where) or {}).items():
        w = f"{where}.parameters.{key}"
        low, high = _need(p, "low", w), _need(p, "high", w)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)) or not low < high:
            raise ConfigError(f"{w}: low {low!r} must be a number below high {high!r}")
        for text in ("unit", "label", "reason"):
            if not str(_need(p, text, w)).strip():
                raise ConfigError(f"{w}.{text}: empty; say what the range means and why")
        params.append(Parameter(key, float(low), float(high), str(p["unit"]), str(p["label"]), str(p["reason"])))
    if len(params) < 2:
        raise ConfigError(f"{where}.parameters: give at least two uncertain parameters")
    metrics = {}
    for name, m in (_need(raw, "metrics", where) or {}).items():
        if name not in METRIC_NAMES:
            raise ConfigError(f"{where}.metrics.{name}: unknown metric; allowed: {', '.join(METRIC_NAMES)}")
        policy = _need(m, "nan", f"{where}.metrics.{name}")
        if policy not in NAN_POLICIES:
            raise ConfigError(f"{where}.metrics.{name}.nan: {policy!r} is not allowed; allowed: {', '.join(NAN_POLICIES)}")
        metrics[name] = policy
    if not metrics:
        raise ConfigError(f"{where}.metrics: give at least one metric")
    sobol, morris, disc, feats = (dict(_need(raw, k, where)) for k in ("sobol", "morris", "discovery", "features"))
    n = _whole(_need(sobol, "base_samples", f"{where}.sobol"), f"{where}.sobol.base_samples", 2)
    if n & (n - 1):
        raise ConfigError(f"{where}.sobol.base_samples: {n} is not a power of 2 (the Sobol sequence needs one), e.g. 64")
    sobol["base_samples"] = n
    for sect, name in ((sobol, "sobol"), (morris, "morris")):
        sect["resamples"] = _whole(_need(sect, "resamples", f"{where}.{name}"), f"{where}.{name}.resamples", 10)
        sect["seed"] = _whole(_need(sect, "seed", f"{where}.{name}"), f"{where}.{name}.seed", 0)
    sobol["confidence"] = _share(_need(sobol, "confidence", f"{where}.sobol"), f"{where}.sobol.confidence")
    sobol["stable_below"] = _share(_need(sobol, "stable_below", f"{where}.sobol"), f"{where}.sobol.stable_below")
    morris["trajectories"] = _whole(_need(morris, "trajectories", f"{where}.morris"), f"{where}.morris.trajectories", 2)
    morris["levels"] = _whole(_need(morris, "levels", f"{where}.morris"), f"{where}.morris.levels", 2)
    for key in ("peel_alpha", "paste_alpha", "min_mass", "min_density", "prune_below", "cart_min_mass"):
        disc[key] = _share(_need(disc, key, f"{where}.discovery"), f"{where}.discovery.{key}")
    if _need(disc, "objective", f"{where}.discovery") not in PRIM_OBJECTIVES:
        raise ConfigError(f"{where}.discovery.objective: {disc['objective']!r} is not allowed; allowed: "
                          f"{', '.join(PRIM_OBJECTIVES)}")
    feats["trees"] = _whole(_need(feats, "trees", f"{where}.features"), f"{where}.features.trees", 10)
    feats["seed"] = _whole(_need(feats, "seed", f"{where}.features"), f"{where}.features.seed", 0)
    rep = dict(_need(raw, "report", where))
    for key in ("noisy_above", "minor_index", "main_restriction"):
        rep[key] = _share(_need(rep, key, f"{where}.report"), f"{where}.report.{key}")
    disc["max_boxes"] = _whole(_need(disc, "max_boxes", f"{where}.discovery"), f"{where}.discovery.max_boxes", 1)
    questions = []
    for qname, q in (_need(disc, "questions", f"{where}.discovery") or {}).items():
        w = f"{where}.discovery.questions.{qname}"
        metric = _need(q, "metric", w)
        if metric not in METRIC_NAMES:
            raise ConfigError(f"{w}.metric: unknown metric {metric!r}; allowed: {', '.join(METRIC_NAMES)}")
        if ("at_least" in q) == ("below" in q):
            raise ConfigError(f"{w}: give exactly one of at_least or below (the threshold of a case)")
        threshold = q["at_least"] if "at_least" in q else q["below"]
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise ConfigError(f"{w}: threshold {threshold!r} is not a number")
        nan_is_case = _need(q, "nan_is_case", w)
        if not isinstance(nan_is_case, bool):
            raise ConfigError(f"{w}.nan_is_case: expected true or false, got {nan_is_case!r}")
        questions.append(Question(qname, str(_need(q, "title", w)), metric, float(threshold), "at_least" in q,
                                  nan_is_case))
    settings = Settings(
        scenario=str(_need(raw, "scenario", where)),
        months=_whole(_need(raw, "months", where), f"{where}.months", 1),
        seeds=_whole(_need(raw, "seeds", where), f"{where}.seeds", 1),
        base_seed=_whole(_need(raw, "base_seed", where), f"{where}.base_seed", 0),
        jobs=_whole(_need(raw, "jobs", where), f"{where}.jobs", 1),
        out=ROOT / str(_need(raw, "out", where)),
        report_dir=ROOT / str(_need(raw, "report_dir", where)),
        parameters=params, metrics=metrics, sobol=sobol, morris=morris, discovery=disc, features=feats,
        questions=questions,
        report={k: rep[k] for k in ("noisy_above", "minor_index", "main_restriction")},
        quick=quick, raw=raw)
    check_parameters(settings)
    return settings


def check_parameters(settings: Settings) -> None:
    """Every parameter must exist and allow both ends of its range (one-line ``ConfigError`` if not)."""
    from sim.config.loading import _set_value, compose, validate

    base = compose(settings.scenario, months=settings.months)
    for p in settings.parameters:
        for value in (p.low, p.high):
            cfg = copy.deepcopy(base)
            try:
                _set_value(cfg, p.path, value)
                validate(cfg)
            except ConfigError as exc:
                raise ConfigError(f"sensitivity.parameters.{p.path}: {exc}") from None


# ------------------------------------------------------------------------------ designs
def sobol_design(problem: dict, n: int, seed: int) -> np.ndarray:
    """Saltelli design for first-order and total indices: ``n * (D + 2)`` rows.

    Rows come in blocks of D + 2 per base sample (SALib's order), and the design for
    ``n`` starts with the design for ``n / 2``: the stability check reuses its runs.
    """
    from SALib.sample import sobol

    return sobol.sample(problem, n, calc_second_order=False, scramble=True, seed=seed)


def morris_design(problem: dict, trajectories: int, levels: int, seed: int) -> np.ndarray:
    """Morris design: ``trajectories`` one-at-a-time paths of D + 1 rows each."""
    from SALib.sample import morris

    return morris.sample(problem, trajectories, num_levels=levels, seed=seed)


def folder_name(settings: Settings) -> str:
    """The run folder's name: the mode and a hash of everything that changes the runs."""
    key = {"scenario": settings.scenario, "months": settings.months, "seeds": settings.seeds,
           "base_seed": settings.base_seed, "problem": settings.problem,
           "sobol": [settings.sobol["base_samples"], settings.sobol["seed"]],
           "morris": [settings.morris["trajectories"], settings.morris["levels"], settings.morris["seed"]]}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
    return f"{'quick' if settings.quick else 'full'}-{digest}"


def write_design(settings: Settings, folder: Path) -> dict[str, Any]:
    """Write the design file (Sobol rows, then Morris rows) and its description; return the latter."""
    folder.mkdir(parents=True, exist_ok=True)
    problem = settings.problem
    sob = sobol_design(problem, settings.sobol["base_samples"], settings.sobol["seed"])
    mor = morris_design(problem, settings.morris["trajectories"], settings.morris["levels"], settings.morris["seed"])
    design = pd.DataFrame(np.vstack([sob, mor]), columns=settings.names)
    meta = {"sobol_rows": [0, len(sob)], "morris_rows": [len(sob), len(sob) + len(mor)],
            "points": len(design), "problem": problem}
    path = folder / DESIGN_FILE
    old = pd.read_parquet(path) if path.is_file() else None
    if old is None or not old.equals(design):  # unchanged file keeps its time stamp
        tmp = path.with_name(f".{path.name}.tmp")
        design.to_parquet(tmp, index=False)
        tmp.replace(path)
    (folder / META_FILE).write_text(json.dumps(meta, indent=1) + "\n")
    return meta


# --------------------------------------------------------------------------------- runs
def sweep_command(settings: Settings, folder: Path, points: int) -> list[str]:
    """The multirun that runs the design through the sweep machinery (sim/sweeps/sweep.py)."""
    cmd = [sys.executable, "-m", "sim", "-m", f"++sweep.design={folder / DESIGN_FILE}",  # (++: whether or not the sweep config lists the key)
           f"+design_row=range(0,{points})", f"scenario={settings.scenario}", f"months={settings.months}",
           f"seed={settings.base_seed}", f"sweep.replicates={settings.seeds}", f"hydra.sweep.dir={folder / SWEEP_DIR}"]
    if settings.jobs > 1:
        cmd += ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={settings.jobs}"]
    return cmd


def _markers_since(marks: Path, since: float) -> int:
    """Points this invocation finished: the sweep's markers written since ``since`` (a wall-clock time)."""
    count = 0
    for mark in marks.glob("*.json"):
        try:
            count += mark.stat().st_mtime >= since
        except FileNotFoundError:  # an old marker being cleared by the sweep
            pass
    return count


def run_design(settings: Settings, folder: Path, points: int, log=_log) -> float:
    """Run (or resume) the design's sweep; returns its wall-clock seconds.

    The sweep's own output goes to ``folder/sweep.log``; progress (points done, from the
    sweep's markers) is printed every ``PROGRESS_EVERY_SECONDS``.
    """
    from sim.sweeps.sweep import PROGRESS_DIR

    cmd = sweep_command(settings, folder, points)
    log(f"running {points} points x {settings.seeds} seeds through the sweep machinery "
        f"({settings.jobs} process{'es' * (settings.jobs > 1)}); log: {_rel(folder / 'sweep.log')}")
    start = last_report = time.perf_counter()
    wall_start = time.time()
    marks = folder / SWEEP_DIR / PROGRESS_DIR
    with open(folder / "sweep.log", "w") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, text=True)
        while proc.poll() is None:
            time.sleep(1.0)
            if time.perf_counter() - last_report >= PROGRESS_EVERY_SECONDS and marks.is_dir():
                last_report = time.perf_counter()
                log(f"  {_markers_since(marks, wall_start)}/{points} points done "
                    f"[{last_report - start:.0f} s]")
    seconds = time.perf_counter() - start
    text = (folder / "sweep.log").read_text().splitlines()
    if proc.returncode != 0:
        errors = [line for line in text if line.startswith("error: ")] or text[-1:] or ["(no output)"]
        raise ConfigError(f"the sweep stopped ({errors[-1].removeprefix('error: ')}); see {folder / 'sweep.log'}")
    finished = [line for line in text if line.startswith("Sweep finished")]
    log((finished[-1] if finished else "sweep done") + f" [{seconds:.0f} s]")
    return seconds


def point_values(settings: Settings, folder: Path, points: int) -> pd.DataFrame:
    """One row per design row: the parameters, the seed-mean of every metric, and run counts.

    A metric's value is the mean over the point's ok runs where it is defined; NaN if it
    is defined in none. A design row with no finished point file (or whose file holds
    other parameter values) gets NaN metrics and ``runs_ok = 0``.
    """
    from sim.sweeps.aggregate import AggregateError, load_table
    from sim.analysis.metrics import METRIC_NAMES

    design = pd.read_parquet(folder / DESIGN_FILE)
    out = design.copy()
    out.insert(0, "design_row", np.arange(len(design)))
    try:
        table = load_table(folder / SWEEP_DIR)
    except AggregateError:
        table = pd.DataFrame(columns=["design_row", "status", *settings.names, *METRIC_NAMES])
    table = table[table["design_row"].isin(out["design_row"])].copy()
    if len(table):  # the point's values must be the design row's (a stale file from another design is ignored)
        expect = design.iloc[table["design_row"].astype(int)].to_numpy(dtype=float)
        same = np.isclose(table[settings.names].to_numpy(dtype=float), expect, rtol=1e-9, atol=0.0).all(axis=1)
        table = table[same]
    ok = table[table["status"] == "ok"]
    means = ok.groupby("design_row")[list(METRIC_NAMES)].mean()  # pandas' mean skips NaN: defined runs only
    counts = table.groupby("design_row")["status"].agg(runs="size", runs_ok=lambda s: int((s == "ok").sum()))
    out = out.join(means, on="design_row").join(counts, on="design_row")
    out[["runs", "runs_ok"]] = out[["runs", "runs_ok"]].fillna(0).astype(int)
    return out


# ----------------------------------------------------------------------------- analysis
def _blocks_ok(y: np.ndarray, size: int) -> np.ndarray:
    """Which consecutive blocks of ``size`` values are all defined."""
    return np.isfinite(y.reshape(-1, size)).all(axis=1)


def sobol_indices(problem: dict, y: np.ndarray, resamples: int = 1000, confidence: float = 0.95,
                  seed: int = 0, nan: str = "drop") -> tuple[pd.DataFrame, dict[str, int]]:
    """First-order (S1) and total (ST) Sobol indices with bootstrap confidence half-widths.

    ``y`` holds the outputs of ``sobol_design`` in its row order (``n * (D + 2)`` values).
    ``nan="drop"``: blocks (a base sample and its D + 1 companions) holding an undefined
    value are left out. Returns the indices (one row per parameter: S1, S1_conf, ST,
    ST_conf; NaN if fewer than 2 blocks are left or the outputs do not vary) and counts
    ``{"blocks": used, "dropped": left out}``.
    """
    from SALib.analyze import sobol

    d = problem["num_vars"]
    y = np.asarray(y, dtype=float)
    if y.size % (d + 2):
        raise ValueError(f"sobol_indices: {y.size} outputs is not a multiple of D + 2 = {d + 2}")
    if nan not in NAN_POLICIES:
        raise ValueError(f"sobol_indices: nan={nan!r}; allowed: {', '.join(NAN_POLICIES)}")
    keep = _blocks_ok(y, d + 2)
    used = y.reshape(-1, d + 2)[keep].ravel()
    counts = {"blocks": int(keep.sum()), "dropped": int((~keep).sum())}
    frame = pd.DataFrame(np.nan, index=pd.Index(problem["names"], name="parameter"),
                         columns=["S1", "S1_conf", "ST", "ST_conf"])
    if counts["blocks"] < 2 or np.ptp(used) == 0.0:
        return frame, counts
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # SALib's "constant values" in a bootstrap resample
        res = sobol.analyze(problem, used, calc_second_order=False, num_resamples=resamples,
                            conf_level=confidence, seed=seed)
    for col in frame.columns:
        frame[col] = np.asarray(res[col], dtype=float)
    return frame, counts


def morris_indices(problem: dict, x: np.ndarray, y: np.ndarray, levels: int, resamples: int = 1000,
                   confidence: float = 0.95, seed: int = 0, nan: str = "drop") -> tuple[pd.DataFrame, dict[str, int]]:
    """Morris screening: mu (mean elementary effect), mu* (mean absolute), its confidence
    half-width, and sigma (spread: non-linearity or interactions), per parameter.

    Elementary effects are changes of the output per unit of a parameter's range (SALib),
    so mu* is in the output's unit. ``nan="drop"`` leaves out trajectories holding an
    undefined value. Returns the indices and ``{"trajectories": used, "dropped": left out}``.
    """
    from SALib.analyze import morris

    d = problem["num_vars"]
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    if y.size % (d + 1) or x.shape != (y.size, d):
        raise ValueError(f"morris_indices: {y.size} outputs do not fill trajectories of D + 1 = {d + 1} points")
    if nan not in NAN_POLICIES:
        raise ValueError(f"morris_indices: nan={nan!r}; allowed: {', '.join(NAN_POLICIES)}")
    keep = _blocks_ok(y, d + 1)
    counts = {"trajectories": int(keep.sum()), "dropped": int((~keep).sum())}
    frame = pd.DataFrame(np.nan, index=pd.Index(problem["names"], name="parameter"),
                         columns=["mu", "mu_star", "mu_star_conf", "sigma"])
    if counts["trajectories"] < 2:
        return frame, counts
    rows = np.repeat(keep, d + 1)
    with np.errstate(all="ignore"):
        res = morris.analyze(problem, x[rows], y[rows], num_resamples=resamples, conf_level=confidence,
                             num_levels=levels, seed=seed)
    for col in frame.columns:
        frame[col] = np.asarray(res[col], dtype=float)
    return frame, counts


def noise_shares(settings: Settings, folder: Path, values: pd.DataFrame) -> dict[str, float]:
    """Per metric: (mean over points of the variance across seeds) / seeds / variance of the point means."""
    from sim.sweeps.aggregate import AggregateError, load_table

    if settings.seeds < 2:
        return {m: float("nan") for m in settings.metrics}
    try:
        table = load_table(folder / SWEEP_DIR)
    except AggregateError:
        return {m: float("nan") for m in settings.metrics}
    ok = table[(table["status"] == "ok") & table["design_row"].isin(values["design_row"])]
    out = {}
    for m in settings.metrics:
        within = ok.groupby("design_row")[m].var(ddof=1).mean()
        between = values[m].var(ddof=1)
        out[m] = float(within / settings.seeds / between) if between > 0 else float("nan")
    return out


@dataclass
class Analysis:
    sobol: dict[str, pd.DataFrame]          # metric -> indices from all N base samples
    sobol_half: dict[str, pd.DataFrame]     # metric -> indices from the first N/2
    sobol_counts: dict[str, dict]
    sobol_half_counts: dict[str, dict]
    morris: dict[str, pd.DataFrame]
    morris_counts: dict[str, dict]
    stability: pd.DataFrame                 # one row per metric
    noise: dict[str, float]
    boxes: dict[str, list["Box"]]
    trajectories: dict[str, pd.DataFrame]
    cart: dict[str, list["Box"]]            # question -> CART leaves reaching the target density
    features: pd.DataFrame                  # extra-trees feature scores: one row per parameter, one column per metric
    cases: dict[str, tuple[int, int]]       # question -> (cases, points) among the PRIM points
    summary: dict[str, tuple[float, float]]  # metric -> mean and standard deviation of the Sobol points' values
    missing_points: int
    failed_runs: int


def analyse(settings: Settings, folder: Path, values: pd.DataFrame, meta: dict) -> Analysis:
    """Sobol, Morris, stability, seed noise, PRIM, CART and feature scores from the per-point values."""
    problem = settings.problem
    d = problem["num_vars"]
    s0, s1 = meta["sobol_rows"]
    m0, m1 = meta["morris_rows"]
    sob_vals, mor_vals = values.iloc[s0:s1], values.iloc[m0:m1]
    half = (s1 - s0) // 2
    sob, sob_half, sc, shc, mor, mc, rows = {}, {}, {}, {}, {}, {}, []
    for metric, policy in settings.metrics.items():
        y = sob_vals[metric].to_numpy(dtype=float)
        kw = {"resamples": settings.sobol["resamples"], "confidence": settings.sobol["confidence"],
              "seed": settings.sobol["seed"], "nan": policy}
        sob[metric], sc[metric] = sobol_indices(problem, y, **kw)
        sob_half[metric], shc[metric] = sobol_indices(problem, y[:half], **kw) if half % (d + 2) == 0 else \
            (sob[metric] * np.nan, {"blocks": 0, "dropped": 0})
        mor[metric], mc[metric] = morris_indices(
            problem, mor_vals[settings.names].to_numpy(dtype=float), mor_vals[metric].to_numpy(dtype=float),
            settings.morris["levels"], settings.morris["resamples"], settings.sobol["confidence"],
            settings.morris["seed"], policy)
        change = (sob[metric][["S1", "ST"]] - sob_half[metric][["S1", "ST"]]).abs()
        worst = change.stack().idxmax() if change.notna().any().any() else (None, None)
        max_change = float(change.max().max()) if change.notna().any().any() else float("nan")
        rows.append({"metric": metric, "max_change": max_change,
                     "where": f"{worst[1]} of {_short(settings, worst[0])}" if worst[0] else "",
                     "top_full": _top(sob[metric]), "top_half": _top(sob_half[metric]),
                     "stable": bool(max_change <= settings.sobol["stable_below"]) if not math.isnan(max_change) else False})
    stability = pd.DataFrame(rows).set_index("metric")
    x = sob_vals[settings.names].to_numpy(dtype=float)
    boxes, trajs, leaves, cases = {}, {}, {}, {}
    bounds = np.array(problem["bounds"], dtype=float)
    disc = settings.discovery
    for q in settings.questions:
        y = q.cases(sob_vals[q.metric].to_numpy(dtype=float))
        cases[q.name] = (int(y.sum()), int(y.size))
        boxes[q.name], trajs[q.name] = prim(x, y, bounds, settings.names, **{
            k: disc[k] for k in ("peel_alpha", "paste_alpha", "min_mass", "min_density", "prune_below", "max_boxes",
                                 "objective")})
        leaves[q.name] = cart(x, y, bounds, settings.names, disc["cart_min_mass"], disc["min_density"])
    features = pd.DataFrame({m: feature_scores(x, sob_vals[m].to_numpy(dtype=float), settings.names,
                                               settings.features["trees"], settings.features["seed"])
                             for m in settings.metrics})
    summary = {m: (float(sob_vals[m].mean()), float(sob_vals[m].std())) for m in settings.metrics}
    return Analysis(sob, sob_half, sc, shc, mor, mc, stability, noise_shares(settings, folder, values), boxes, trajs,
                    leaves, features, cases, summary,
                    missing_points=int((values["runs_ok"] == 0).sum()),
                    failed_runs=int((values["runs"] - values["runs_ok"]).sum()))


def _top(indices: pd.DataFrame) -> str:
    """The parameter with the largest total index (empty if none is defined)."""
    st = indices["ST"].dropna()
    return str(st.idxmax()) if len(st) else ""


# ------------------------------------------------------------------ scenario discovery
# PRIM and CART are EMA Workbench's (ema_workbench.analysis); this section picks and
# trims their boxes the way the settings say and turns them into plain ``Box`` records.
PRIM_OBJECTIVES = ("lenient1", "lenient2", "original")  # EMA Workbench's PRIM objective functions


@dataclass
class Box:
    """A box of parameter values: limits per parameter and how well it picks the cases."""

    limits: np.ndarray          # (D, 2) lower and upper limit of each parameter (unrestricted: its full range)
    restricted: list[str]       # parameters whose limits are inside their full range
    coverage: float             # share of all cases that lie in the box
    density: float              # share of the points in the box that are cases
    mass: float                 # share of all points in the box
    points: int
    cases: int
    reached_density: bool       # density >= the target (else the densest box on the peeling path)
    drop_density: dict[str, float] = field(default_factory=dict)  # density if a restriction were lifted


def _inside(x: np.ndarray, limits: np.ndarray) -> np.ndarray:
    return ((x >= limits[:, 0]) & (x <= limits[:, 1])).all(axis=1)


def _ema_limits(box_lim: pd.DataFrame, box_init: pd.DataFrame, bounds: np.ndarray,
                names: list[str]) -> tuple[np.ndarray, list[str]]:
    """An EMA box (row 0 lower, row 1 upper limits) as a (D, 2) array; a side EMA left at
    the data's own extreme is the parameter's full range on that side."""
    limits = bounds.astype(float).copy()
    restricted = []
    for j, name in enumerate(names):
        lo, hi = float(box_lim[name].iloc[0]), float(box_lim[name].iloc[1])
        cut_lo, cut_hi = lo > float(box_init[name].iloc[0]), hi < float(box_init[name].iloc[1])
        if cut_lo:
            limits[j, 0] = lo
        if cut_hi:
            limits[j, 1] = hi
        if cut_lo or cut_hi:
            restricted.append(name)
    return limits, restricted


def _box_record(x, y, limits, restricted, bounds, names, total_cases, n_all, target) -> Box:
    """Coverage, density, mass and the density without each restriction, on the points ``x`` left."""
    inside = _inside(x, limits)
    cases = int(y[inside].sum())
    drop = {}
    for j, name in enumerate(names):
        if name in restricted:
            lifted = limits.copy()
            lifted[j] = bounds[j]
            drop[name] = float(y[_inside(x, lifted)].mean())
    density = cases / inside.sum() if inside.sum() else float("nan")
    return Box(limits=limits, restricted=restricted, coverage=cases / total_cases if total_cases else float("nan"),
               density=float(density), mass=float(inside.sum() / n_all), points=int(inside.sum()), cases=cases,
               reached_density=bool(density >= target), drop_density=drop)


def _prune(found, xs, ys, bounds, names, below: float, floor: float) -> None:
    """Lift, one at a time (EMA's ``drop_restriction``), the restriction whose removal costs
    the least density, while that cost is below ``below`` and the density stays at least
    ``floor``: a box restricted only where it matters."""
    while True:
        limits, restricted = _ema_limits(found.box_lim, found.prim.box_init, bounds, names)
        density = ys[_inside(xs, limits)].mean()
        costs = []
        for name in restricted:
            j = names.index(name)
            lifted = limits.copy()
            lifted[j] = bounds[j]
            lifted_density = ys[_inside(xs, lifted)].mean()
            if lifted_density >= floor:
                costs.append((density - lifted_density, name))
        if not costs or min(costs)[0] >= below:
            return
        found.drop_restriction(min(costs)[1])


def prim(x: np.ndarray, y: np.ndarray, bounds: np.ndarray, names: list[str], peel_alpha: float = 0.05,
         paste_alpha: float = 0.05, min_mass: float = 0.05, min_density: float = 0.8,
         prune_below: float = 0.0, max_boxes: int = 2, objective: str = "lenient1") -> tuple[list[Box], pd.DataFrame]:
    """PRIM scenario discovery (EMA Workbench's ``Prim``): up to ``max_boxes`` boxes where the cases ``y`` concentrate.

    For each box EMA Workbench peels and pastes (objective function ``objective``: EMA's
    lenient1, lenient2 or Friedman and Fisher's original); on its trajectory the box with
    the largest coverage among those with density >= ``min_density`` is selected (else the
    densest); then the restrictions that cost less than ``prune_below`` of density without
    taking it below ``min_density`` are dropped (``_prune``). The next box is looked for
    among the points outside the earlier ones (EMA's default update).
    Coverage is always a share of *all* cases; density of the points in the box. Returns
    the boxes and the first box's trajectory (coverage, density, mass, restricted
    parameters per step, and which step was chosen).
    """
    if objective not in PRIM_OBJECTIVES:
        raise ValueError(f"prim: objective {objective!r}; allowed: {', '.join(PRIM_OBJECTIVES)}")
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=bool)
    bounds = np.asarray(bounds, dtype=float)
    n_all, total = len(y), int(y.sum())
    min_points = max(1, int(math.ceil(min_mass * n_all)))
    boxes: list[Box] = []
    path_rows = pd.DataFrame()
    left = np.ones(n_all, dtype=bool)
    with warnings.catch_warnings():  # (the workbench's own use of a pandas keyword that pandas now deprecates)
        warnings.filterwarnings("ignore", message="The inplace keyword", category=DeprecationWarning)
        finder = ema_prim.Prim(pd.DataFrame(x, columns=names), y.astype(int),
                               obj_function=ema_prim.PRIMObjectiveFunctions(objective), peel_alpha=peel_alpha,
                               paste_alpha=paste_alpha, mass_min=min_mass)
    for k in range(max_boxes):
        if y[left].sum() == 0 or left.sum() < min_points:
            break
        found = finder.find_box()
        if found is None:
            break
        traj = found.peeling_trajectory.copy()
        good = traj.index[traj["density"] >= min_density]
        pick = int(max(good, key=lambda i: (traj.at[i, "coverage"], -i))) if len(good) else \
            int(max(traj.index, key=lambda i: (traj.at[i, "density"], traj.at[i, "coverage"])))
        found.select(pick)
        xs, ys = x[left], y[left]
        floor = min_density if traj.at[pick, "density"] >= min_density else 0.0  # pruning keeps a box on target
        _prune(found, xs, ys, bounds, names, prune_below, floor)
        limits, restricted = _ema_limits(found.box_lim, finder.box_init, bounds, names)
        box = _box_record(xs, ys, limits, restricted, bounds, names, total, n_all, min_density)
        if not box.restricted or box.cases == 0:
            break
        boxes.append(box)
        if k == 0:
            path_rows = pd.DataFrame({"step": traj.index.astype(int), "coverage": traj["coverage"].astype(float),
                                      "density": traj["density"].astype(float), "mass": traj["mass"].astype(float),
                                      "restricted": traj["res_dim"].astype(int), "chosen": traj.index == pick})
        left &= ~_inside(x, limits)
    return boxes, path_rows


def cart(x: np.ndarray, y: np.ndarray, bounds: np.ndarray, names: list[str], min_mass: float = 0.05,
         min_density: float = 0.8) -> list[Box]:
    """CART scenario discovery (EMA Workbench's ``CART``, a scikit-learn tree): the leaves
    where the cases reach ``min_density``, largest coverage first. A leaf is a box; its
    'density without' a restriction is computed as for PRIM boxes."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=bool)
    bounds = np.asarray(bounds, dtype=float)
    if y.sum() == 0 or y.all():
        return []
    frame = pd.DataFrame(x, columns=names)
    tree = ema_cart.CART(frame, y.astype(int), mass_min=min_mass)
    tree.build_tree()
    init = pd.DataFrame([frame.min(), frame.max()])
    leaves = []
    for box_lim in tree.boxes:
        limits, restricted = _ema_limits(box_lim, init, bounds, names)
        box = _box_record(x, y, limits, restricted, bounds, names, int(y.sum()), len(y), min_density)
        if box.reached_density and box.restricted:
            leaves.append(box)
    return sorted(leaves, key=lambda b: (-b.coverage, -b.density))


def feature_scores(x: np.ndarray, y: np.ndarray, names: list[str], trees: int = 100, seed: int = 0) -> pd.Series:
    """Extra-trees feature scores (EMA Workbench's ``get_ex_feature_scores``, regression):
    each parameter's share of the trees' reduction of the metric's variance (they add up
    to 1). Points where the metric is undefined are left out; NaN if fewer than 10 are left."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    keep = np.isfinite(y)
    if keep.sum() < 10 or np.ptp(y[keep]) == 0.0:
        return pd.Series(np.nan, index=pd.Index(names, name="parameter"))
    scores, _ = feature_scoring.get_ex_feature_scores(
        pd.DataFrame(x[keep], columns=names), y[keep], mode=feature_scoring.RuleInductionType.REGRESSION,
        nr_trees=trees, random_state=seed)
    return scores[1].reindex(names).rename_axis("parameter")


# ------------------------------------------------------------------------------ figures
def _labels(settings: Settings) -> list[str]:
    return [p.label for p in settings.parameters]


def _metric_title(metric: str) -> tuple[str, str]:
    from sim.sweeps.figures import METRIC_INFO

    return METRIC_INFO.get(metric, (metric, ""))


def _bar_panels(settings: Settings, path: Path, suptitle: str, panel) -> Path:
    """One panel per metric, one row of bars per parameter; ``panel(ax, metric, ypos)``
    draws a panel's bars and returns its title and x-axis label."""
    from matplotlib.figure import Figure

    metrics = list(settings.metrics)
    cols = 2
    rows = math.ceil(len(metrics) / cols)
    d = len(settings.parameters)
    fig = Figure(figsize=(13, 1.0 + rows * (0.42 * d + 1.4)))
    ypos = np.arange(d)
    for k, metric in enumerate(metrics):
        ax = fig.add_subplot(rows, cols, k + 1)
        title, xlabel = panel(ax, metric, ypos)
        ax.set_yticks(ypos, _labels(settings) if k % cols == 0 else [""] * d, fontsize=8)
        ax.invert_yaxis()
        ax.set_title(textwrap.fill(title, 60), fontsize=9)
        ax.set_xlabel(textwrap.fill(xlabel, 70), fontsize=8)
        if k == 0:
            ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(suptitle, fontsize=11)
    return save_figure(fig, path)


def plot_sobol(settings: Settings, a: Analysis, path: Path) -> Path:
    """One panel per metric: S1 and ST per parameter with their confidence intervals."""

    def panel(ax, metric: str, ypos: np.ndarray) -> tuple[str, str]:
        ind, c = a.sobol[metric], a.sobol_counts[metric]
        ax.barh(ypos - 0.2, ind["S1"].clip(lower=0), 0.38, xerr=ind["S1_conf"], color="#4c72b0", capsize=2,
                label="first order S1 (alone)")
        ax.barh(ypos + 0.2, ind["ST"].clip(lower=0), 0.38, xerr=ind["ST_conf"], color="#dd8452", capsize=2,
                label="total ST (with interactions)")
        ax.set_xlim(0, max(1.0, float(np.nanmax((ind["ST"] + ind["ST_conf"]).to_numpy(), initial=0.0)) * 1.05))
        noise = a.noise.get(metric, float("nan"))
        return (f"{_metric_title(metric)[0]} ({c['blocks']} blocks used, {c['dropped']} dropped; seed noise "
                f"{_f(noise * 100, 0)}% of the variance)",
                f"share of the metric's variance (bars: {settings.sobol['confidence']:.0%} confidence interval)")

    return _bar_panels(settings, path, f"Sobol indices: {settings.sobol['base_samples']} base samples x "
                       f"{len(settings.parameters) + 2} points, {settings.seeds} seeds per point, {settings.months} "
                       f"months, scenario '{settings.scenario}'", panel)


def plot_morris(settings: Settings, a: Analysis, path: Path) -> Path:
    """One panel per metric: mu* with its confidence interval, and sigma, per parameter."""

    def panel(ax, metric: str, ypos: np.ndarray) -> tuple[str, str]:
        ind, c = a.morris[metric], a.morris_counts[metric]
        ax.barh(ypos - 0.2, ind["mu_star"], 0.38, xerr=ind["mu_star_conf"], color="#55a868", capsize=2,
                label="mu* (mean |effect|)")
        ax.barh(ypos + 0.2, ind["sigma"], 0.38, color="#8172b3", label="sigma (spread of effects)")
        title, unit = _metric_title(metric)
        return (f"{title} ({c['trajectories']} trajectories used, {c['dropped']} dropped)",
                f"change of the metric over a parameter's full range ({unit})")

    return _bar_panels(settings, path, f"Morris screening: {settings.morris['trajectories']} trajectories, "
                       f"{settings.morris['levels']} levels, {settings.seeds} seeds per point", panel)


def plot_stability(settings: Settings, a: Analysis, path: Path) -> Path:
    """Every S1 and ST estimated from N/2 base samples (x) against N (y)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 6))
    ax = fig.add_subplot()
    tol = settings.sobol["stable_below"]
    ax.fill_between([-5, 5], [-5 - tol, 5 - tol], [-5 + tol, 5 + tol], color="#dddddd",
                    label=f"change below {tol:g} (stable)")
    ax.plot([-5, 5], [-5, 5], color="black", lw=0.7)
    for k, metric in enumerate(settings.metrics):
        full, half = a.sobol[metric], a.sobol_half[metric]
        color = f"C{k}"
        ax.scatter(half["S1"], full["S1"], marker="o", color=color, s=22, label=f"{metric}: S1 (o), ST (^)")
        ax.scatter(half["ST"], full["ST"], marker="^", color=color, s=26)
    n = settings.sobol["base_samples"]
    values = [v for m in settings.metrics for f in (a.sobol[m], a.sobol_half[m]) for v in f[["S1", "ST"]].to_numpy().ravel()]
    lo = min(-0.2, np.nanmin(values, initial=0.0) - 0.05)
    hi = max(1.2, np.nanmax(values, initial=0.0) + 0.05)
    ax.set_xlabel(f"index from the first N/2 = {n // 2} base samples")
    ax.set_ylabel(f"index from all N = {n} base samples")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title("Is the sample large enough? Sobol indices at N/2 and N", fontsize=10)
    return save_figure(fig, path)


def plot_features(settings: Settings, a: Analysis, path: Path) -> Path:
    """Extra-trees feature scores: one row per parameter, one column per metric, the score written in each cell."""
    from matplotlib.figure import Figure

    scores = a.features.to_numpy(dtype=float)
    d, m = scores.shape
    fig = Figure(figsize=(4.0 + 2.4 * m, 1.6 + 0.62 * d))
    ax = fig.add_subplot()
    image = ax.imshow(np.nan_to_num(scores, nan=0.0), cmap="Blues", vmin=0.0, vmax=max(0.5, np.nanmax(scores, initial=0)),
                      aspect="auto")
    for i in range(d):
        for j in range(m):
            value = scores[i, j]
            ax.text(j, i, "n/a" if math.isnan(value) else f"{value:.2f}", ha="center", va="center", fontsize=13,
                    color="white" if not math.isnan(value) and value > 0.35 else "black")
    ax.set_yticks(range(d), _labels(settings), fontsize=12)
    ax.set_xticks(range(m), [textwrap.fill(_metric_title(k)[0], 22) for k in settings.metrics], fontsize=11)
    ax.xaxis.tick_top()
    fig.colorbar(image, ax=ax, label="feature score (share of explained variance)")
    ax.set_title(f"Feature scores (extra trees, {settings.features['trees']} trees) on the Sobol points", fontsize=14)
    return save_figure(fig, path)


def plot_prim(settings: Settings, a: Analysis, path: Path) -> Path:
    """Per question: the peeling path (coverage vs density) and the boxes' limits."""
    from matplotlib.figure import Figure

    qs = settings.questions
    fig = Figure(figsize=(13, 0.5 + 5.0 * len(qs)))
    for k, q in enumerate(qs):
        left = fig.add_subplot(len(qs), 2, 2 * k + 1)
        traj = a.trajectories[q.name]
        if len(traj):
            sc = left.scatter(traj["coverage"], traj["density"], c=traj["restricted"], cmap="viridis", s=18)
            fig.colorbar(sc, ax=left, label="parameters restricted")
            chosen = traj[traj.get("chosen", pd.Series(False, index=traj.index)).astype(bool)]
            left.scatter(chosen["coverage"], chosen["density"], s=140, facecolors="none", edgecolors="red",
                         label="chosen (before pruning)")
            left.legend(fontsize=8, loc="lower left")
        left.axhline(settings.discovery["min_density"], color="red", ls="--", lw=0.8)
        left.set_xlabel("coverage: share of all cases inside the box")
        left.set_ylabel("density: share of the box's points that are cases")
        left.set_title(textwrap.fill(f"'{q.title}' ({q.rule}): PRIM peeling and pasting path of box 1", 60),
                       fontsize=9)
        right = fig.add_subplot(len(qs), 2, 2 * k + 2)
        boxes = a.boxes[q.name]
        names = [p.path for p in settings.parameters]
        shown = [n for n in names if any(n in b.restricted for b in boxes)]
        for b_i, b in enumerate(boxes):
            for r, name in enumerate(shown):
                j = names.index(name)
                lo, hi = settings.parameters[j].low, settings.parameters[j].high
                u0, u1 = (b.limits[j] - lo) / (hi - lo)
                right.barh(r + 0.2 * (b_i - (len(boxes) - 1) / 2), u1 - u0, 0.18, left=u0, color=f"C{b_i}",
                           label=f"box {b_i + 1}: coverage {b.coverage:.2f}, density {b.density:.2f}" if r == 0 else None)
                right.text(1.02, r, f"{settings.parameters[j].low:g} to {settings.parameters[j].high:g}",
                           fontsize=7, va="center", ha="left")
        labels = [settings.parameters[names.index(n)].label for n in shown]
        right.set_yticks(range(len(shown)), labels, fontsize=8)
        right.invert_yaxis()
        right.set_xlim(0, 1.2)
        right.set_xlabel("position within the parameter's range (0 = low end, 1 = high end)")
        right.set_title(textwrap.fill(f"Boxes where '{q.title}' (restricted parameters only)", 60), fontsize=9)
        if boxes:
            right.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False)
        else:
            right.text(0.5, 0.5, "no box found", ha="center", transform=right.transAxes)
    fig.suptitle("Scenario discovery (EMA Workbench PRIM) on the Sobol design's points", fontsize=11)
    return save_figure(fig, path)


# ------------------------------------------------------------------------------- report
def _f(x: float, digits: int = 2) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _g(x: float) -> str:
    return "n/a" if isinstance(x, float) and math.isnan(x) else f"{x:.3g}"


def _restriction(box: Box, settings: Settings, name: str) -> str:
    j = settings.names.index(name)
    p = settings.parameters[j]
    lo, hi = box.limits[j]
    if lo > p.low and hi < p.high:
        return f"{p.label} between {lo:.3g} and {hi:.3g} ({p.unit})"
    return f"{p.label} {'at least' if lo > p.low else 'at most'} {lo if lo > p.low else hi:.3g} ({p.unit})"


def describe_box(box: Box, settings: Settings, main_cost: float = 0.0) -> str:
    """A box in words: the restrictions whose lifting would cost at least ``main_cost`` of
    density, then the names of the lesser ones."""
    cost = {n: box.density - box.drop_density.get(n, box.density) for n in box.restricted}
    main = sorted((n for n in box.restricted if cost[n] >= main_cost), key=lambda n: -cost[n])
    minor = [settings.parameters[settings.names.index(n)].label for n in box.restricted if n not in main]
    text = "; ".join(_restriction(box, settings, n) for n in main) or "no single strong restriction"
    return text + (f" (and small trims of {', '.join(minor)})" if minor else "")


def interpretation(settings: Settings, a: Analysis) -> list[str]:
    """Plain sentences for a policy reader, written from the numbers."""
    rep = settings.report
    label = {p.path: p.label for p in settings.parameters}
    lines, clean = [], []
    for metric in settings.metrics:
        ind = a.sobol[metric]
        title = _metric_title(metric)[0]
        mean, sd = a.summary[metric]
        noise = a.noise.get(metric, float("nan"))
        head = f"- *{title}* (over the points: mean {_g(mean)}, standard deviation {_g(sd)})"
        if ind["ST"].isna().all():
            lines.append(f"{head}: no indices (the metric did not vary, or too few points where it is defined).")
            continue
        order = ind["ST"].sort_values(ascending=False)
        s1 = ind["S1"].clip(lower=0)
        if _noisy(settings, a, metric):
            lines.append(
                f"{head}: {noise:.0%} of the variance of its point values is seed-to-seed chance, so its total "
                f"indices, which count chance as interaction, say little; no parameter explains more than "
                f"{s1.max():.2f} of it alone (largest first-order index: {label[s1.idxmax()]}). Within these "
                f"ranges this metric is decided more by chance events than by any one parameter.")
            continue
        clean.append(metric)
        if order.iloc[0] < rep["minor_index"]:
            lines.append(f"{head}: no parameter has a total index above {rep['minor_index']:g}.")
            continue
        s1_sum = float(s1.sum())
        inter = "mostly through each parameter alone" if s1_sum >= 0.8 else (
            "partly through combinations of parameters" if s1_sum >= 0.5 else "largely through combinations of parameters")
        minor = [label[n] for n in order.index if order[n] < rep["minor_index"]]
        lines.append(
            f"{head} depends most on {label[order.index[0]]} (total index {order.iloc[0]:.2f}) and "
            f"{label[order.index[1]]} ({order.iloc[1]:.2f}); the first-order indices add up to {s1_sum:.2f}, so the "
            f"parameters act {inter}."
            + (f" Hardly any influence (total index below {rep['minor_index']:g}): {', '.join(minor)}." if minor else ""))
    if clean:
        idle = [p.label for p in settings.parameters
                if all(a.sobol[m].loc[p.path, "ST"] < rep["minor_index"] for m in clean)]
        if idle:
            names = ", ".join(idle[:-1]) + (" and " if len(idle) > 1 else "") + idle[-1]
            lines.append(f"- {names} hardly matter{'s' if len(idle) == 1 else ''} for "
                         f"{' or '.join(_lower_first(_metric_title(m)[0]) for m in clean)} (total index below "
                         f"{rep['minor_index']:g} for each): within {'its range it' if len(idle) == 1 else 'their ranges they'}"
                         " can be set anywhere.")
    agree, differ = [], []
    for metric in settings.metrics:
        scores, st = a.features[metric].dropna(), a.sobol[metric]["ST"].dropna()
        if len(scores) and len(st):
            (agree if scores.idxmax() == st.idxmax() else differ).append(metric)
    if agree or differ:
        lines.append("- Feature scoring (extra trees, a second opinion that needs no special design) "
                     + (f"puts the same parameter first as the Sobol total index for "
                        f"{', '.join(_lower_first(_metric_title(m)[0]) for m in agree)}" if agree else "")
                     + ("; " if agree and differ else "")
                     + (f"ranks differently for {', '.join(_lower_first(_metric_title(m)[0]) for m in differ)} "
                        "(there the top place is not settled)" if differ else "") + ".")
    for q in settings.questions:
        boxes = a.boxes[q.name]
        if not boxes:
            lines.append(f"- *Where {q.title}*: PRIM found no box.")
            continue
        b = boxes[0]
        k, n_pts = a.cases[q.name]
        leaves = a.cart[q.name]
        cart_text = (f" CART's largest leaf on target: {describe_box(leaves[0], settings, rep['main_restriction'])} "
                     f"(density {leaves[0].density:.0%}, coverage {leaves[0].coverage:.0%})."
                     if leaves else " CART found no leaf that reaches the target density.")
        lines.append(f"- *Where {q.title}* ({q.rule}; {k / n_pts:.0%} of all points): with "
                     f"{describe_box(b, settings, rep['main_restriction'])}, this happens at {b.density:.0%} of the "
                     f"points (density), and the box holds {b.coverage:.0%} of all points where it happens "
                     f"(coverage)." + ("" if b.reached_density else " The box stays below the target density.")
                     + cart_text)
    return lines


def write_report(settings: Settings, a: Analysis, meta: dict, images: dict[str, Path], report: Path,
                 folder: Path, seconds: float | None) -> Path:
    """Write the Markdown report (regenerated by every run of the command)."""
    rel = {k: Path(p).relative_to(report.parent).as_posix() for k, p in images.items()}
    n, d = settings.sobol["base_samples"], len(settings.parameters)
    stable_all = bool(a.stability["stable"].all())
    out = [
        "# Which parameters decide the pattern? Global sensitivity and scenario discovery",
        "",
        "*Generated by `python -m experiments.sensitivity`" + (" --quick (a smoke run: its numbers mean nothing)"
                                                               if settings.quick else "")
        + f" from `configs/sensitivity/default.yaml`; do not edit by hand. Run folder: `{_rel(folder)}`.*",
        "",
        "The model is a thinking tool, not a forecast. The indices below say which of its uncertain "
        "parameters move its pattern metrics, *within the stated ranges*, in the generic "
        f"`{settings.scenario}` scenario ({settings.months} months); they say nothing about the real world "
        "beyond what the model assumes.",
        "",
        "## What was done",
        "",
        f"- **Parameters** (D = {d}), each drawn uniformly from its range (table below).",
        f"- **Sobol**: a Saltelli design (SALib, scrambled Sobol sequence) with N = {n} base samples, "
        f"N x (D + 2) = {meta['sobol_rows'][1] - meta['sobol_rows'][0]} points; first-order (S1: the share of a "
        "metric's variance due to a parameter alone) and total indices (ST: alone and in combination with "
        f"others); {settings.sobol['confidence']:.0%} confidence intervals from {settings.sobol['resamples']} "
        "bootstrap resamples.",
        f"- **Morris**: {settings.morris['trajectories']} trajectories x (D + 1) = "
        f"{meta['morris_rows'][1] - meta['morris_rows'][0]} points on {settings.morris['levels']} levels; "
        "mu* = mean absolute change of the metric when one parameter moves (per full range, in the metric's "
        "unit), sigma = how much that change varies (non-linearity, interactions).",
        f"- **Runs**: every point ran {settings.seeds} seed{'s' * (settings.seeds > 1)} "
        f"({settings.base_seed}..{settings.base_seed + settings.seeds - 1}, the same at every point: common random "
        f"numbers) through the sweep machinery (`python -m sim -m ++sweep.design=... '+design_row=range(0,"
        f"{meta['points']})'`, docs/sweeps.md): {meta['points']} points, {meta['points'] * settings.seeds} runs"
        + (f"; this invocation's sweep took {seconds / 60:.1f} min" if seconds is not None else "")
        + f". Points without results: {a.missing_points}; failed runs: {a.failed_runs}.",
        "- **A point's value** of a metric is the mean over its seeds of the runs where the metric is defined. "
        "**Undefined values** (NaN: a reversal probability with no ended thaw in any seed; a backward/forward "
        "ratio without both kinds of step) are *dropped*: a Sobol block (a base sample and its D + 1 "
        "companions) or a Morris trajectory holding one is left out of that metric's analysis, so its indices "
        "describe the part of the box where the metric is defined. The counts are in the tables.",
        "",
        "### The uncertain parameters",
        "",
        _md_table(pd.DataFrame([{"parameter": f"`{p.path}`", "meaning": p.label, "range": f"{p.low:g} – {p.high:g}",
                                 "unit": p.unit, "why this range": p.reason} for p in settings.parameters])),
        "",
        "## Interpretation for a policy reader",
        "",
        *interpretation(settings, a),
        "",
        "How to read this: a total index near 0 means the parameter can be fixed anywhere in its range "
        "without changing the metric; a total index much larger than the first-order one means the "
        "parameter matters through combinations (its effect depends on other parameters). Where the "
        "confidence interval is wide, only the ranking of the large indices is reliable.",
        "",
        "## Sobol indices",
        "",
        f"![Sobol indices]({rel['sobol']})",
        "",
    ]
    for metric in settings.metrics:
        title, unit = _metric_title(metric)
        ind, c = a.sobol[metric], a.sobol_counts[metric]
        m_ind = a.morris[metric]
        noise = a.noise.get(metric, float("nan"))
        out += [f"**{title}** (`{metric}`, {unit}): {c['blocks']} of {c['blocks'] + c['dropped']} blocks used"
                f" ({c['dropped']} dropped for undefined values); Morris {a.morris_counts[metric]['trajectories']} "
                f"trajectories used; seed noise is {_f(noise * 100, 0)}% of the variance of the point values.",
                "",
                _md_table(pd.DataFrame([{
                    "parameter": settings.parameters[j].label,
                    "S1 ± CI": f"{_f(ind['S1'].iloc[j])} ± {_f(ind['S1_conf'].iloc[j])}",
                    "ST ± CI": f"{_f(ind['ST'].iloc[j])} ± {_f(ind['ST_conf'].iloc[j])}",
                    "Morris mu* ± CI": f"{_g(m_ind['mu_star'].iloc[j])} ± {_g(m_ind['mu_star_conf'].iloc[j])}",
                    "Morris sigma": _g(m_ind["sigma"].iloc[j])} for j in range(d)])), ""]
    out += [
        "## Morris screening",
        "",
        f"![Morris screening]({rel['morris']})",
        "",
        "## Was the sample large enough?",
        "",
        f"The Saltelli design for N base samples begins with the design for N/2, so every index was estimated "
        f"again from the first N/2 = {n // 2} base samples and compared with all N = {n}. A metric counts as "
        f"stable when no S1 or ST changes by more than {settings.sobol['stable_below']:g}.",
        "",
        _md_table(pd.DataFrame([{
            "metric": f"`{m}`", "largest change N/2 → N": _f(r["max_change"], 3), "where": r["where"],
            "top parameter (N/2 → N)": f"{_short(settings, r['top_half'])} → {_short(settings, r['top_full'])}",
            "stable": "yes" if r["stable"] else "no", "seed noise": f"{_f(a.noise.get(m, float('nan')) * 100, 0)}%",
            "what would help": "" if r["stable"] else (
                "more seeds per point (`--seeds`): chance dominates" if _noisy(settings, a, m)
                else f"a larger N (`--n {2 * n}`)")} for m, r in a.stability.iterrows()])),
        "",
        f"Overall: **{'stable: the sample was large enough' if stable_all else 'not all indices are stable'}** "
        f"(largest change {_f(float(a.stability['max_change'].max()))})."
        + ("" if stable_all else " Where the top parameter did not change, the ranking of the large indices can be "
           "trusted and the small indices read as 'small'; the exact values cannot."),
        "",
        f"![Stability]({rel['stability']})",
        "",
        "## Feature scoring: a second opinion",
        "",
        f"EMA Workbench's extra-trees feature scoring ({settings.features['trees']} trees, regression on the "
        f"{meta['sobol_rows'][1] - meta['sobol_rows'][0]} Sobol points' values, points where the metric is "
        "undefined left out): each parameter's share of the variance the trees explain, adding up to 1 per "
        "metric. It needs no special design and counts interactions in, so it reads like a total index; where it "
        "and Sobol's ST rank the same parameters first, the ranking is robust to the method.",
        "",
        _md_table(pd.DataFrame([{"parameter": p.label, **{f"`{m}`": _f(a.features.loc[p.path, m])
                                                          for m in settings.metrics}}
                                for p in settings.parameters])),
        "",
        f"![Feature scores]({rel['features']})",
        "",
        "## Scenario discovery: which parameter boxes make a thaw last?",
        "",
        f"PRIM (EMA Workbench, objective {settings.discovery['objective']}, peeling alpha "
        f"{settings.discovery['peel_alpha']:g}, pasting alpha "
        f"{settings.discovery['paste_alpha']:g}, smallest box {settings.discovery['min_mass']:.0%} of the points) "
        f"on the {meta['sobol_rows'][1] - meta['sobol_rows'][0]} points of the Sobol design. For each question the "
        f"first box is the one with the largest coverage among the boxes on the peeling and pasting trajectory "
        f"whose density reaches {settings.discovery['min_density']:.0%}; restrictions that cost less than "
        f"{settings.discovery['prune_below']:g} of density are then dropped; the next box is looked for among the "
        "points outside it. *Coverage*: the share of all cases that lie in the box; *density*: the share of the "
        "box's points that are cases; *mass*: the share of all points in the box. 'Density without' gives the "
        "density if that one restriction were lifted: the lower it is, the more the restriction matters. "
        f"CART (EMA Workbench, a classification tree with leaves of at least "
        f"{settings.discovery['cart_min_mass']:.0%} of the points) gives a second set of boxes: its leaves whose "
        f"density reaches {settings.discovery['min_density']:.0%}.",
        "",
    ]
    for q in settings.questions:
        boxes = a.boxes[q.name]
        k, n_pts = a.cases[q.name]
        out += [f"### {q.title[0].upper() + q.title[1:]} (`{q.rule}`; an undefined value "
                f"{'counts' if q.nan_is_case else 'does not count'} as a case)", "",
                f"Cases: {k} of {n_pts} points ({k / n_pts:.0%}): the density of the whole box, to compare the "
                "boxes' densities with.", ""]
        if not boxes:
            out += ["PRIM found no box.", ""]
        for b_i, b in enumerate(boxes):
            out += [f"**Box {b_i + 1}**: coverage {b.coverage:.2f}, density {b.density:.2f}, mass {b.mass:.2f} "
                    f"({b.cases} cases among {b.points} points)"
                    + ("" if b.reached_density else f"; below the target density "
                       f"{settings.discovery['min_density']:.0%}") + ".", ""]
            rows = []
            for name in b.restricted:
                j = settings.names.index(name)
                p = settings.parameters[j]
                rows.append({"parameter": p.label, "box": f"{b.limits[j, 0]:.3g} – {b.limits[j, 1]:.3g}",
                             "full range": f"{p.low:g} – {p.high:g}", "unit": p.unit,
                             "density without": _f(b.drop_density.get(name, float('nan')))})
            out += [_md_table(pd.DataFrame(rows)), ""]
        leaves = a.cart[q.name]
        shown = leaves[:settings.discovery["max_boxes"]]
        out += [f"**CART**: {len(leaves)} lea{'f reaches' if len(leaves) == 1 else 'ves reach'} the target density"
                + (f"; the {len(shown)} with the largest coverage (all in `cart_boxes.csv`):" if leaves else "."), ""]
        if shown:
            out += [_md_table(pd.DataFrame([{
                "leaf": i + 1, "coverage": _f(b.coverage), "density": _f(b.density), "mass": _f(b.mass),
                "restrictions": describe_box(b, settings)} for i, b in enumerate(shown)])), ""]
    out += [f"![PRIM boxes]({rel['prim']})", "",
            "## Caveats", "",
            "- The indices hold for these ranges and this scenario; widen a range and its parameter will matter "
            "more. Parameters not listed were held at their defaults.",
            "- Each point's value is a mean over a few seeds; the seed-noise shares above say how much of the "
            "variance is chance. Noise lowers the first-order indices and raises the total ones.",
            "- Dropping blocks with undefined values keeps the estimator valid but conditions it on the metric "
            "being defined; a metric with many dropped blocks describes a smaller part of the box.",
            "- PRIM boxes and CART leaves are descriptions of this sample, not proofs; the 'density without' column "
            "shows which limits carry a box, and where PRIM and CART name the same limits the description does not "
            "hang on one algorithm.", "",
            "Tables: `indices_sobol.csv`, `indices_morris.csv`, `stability.csv`, `feature_scores.csv`, "
            "`prim_boxes.csv`, `cart_boxes.csv` and `point_values.parquet` in the run folder.", ""]
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("\n".join(out))
    return report


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _noisy(settings: Settings, a: Analysis, metric: str) -> bool:
    """More than ``report.noisy_above`` of the metric's point-value variance is seed noise."""
    noise = a.noise.get(metric, float("nan"))
    return not math.isnan(noise) and noise > settings.report["noisy_above"]


def _short(settings: Settings, name: str) -> str:
    return settings.parameters[settings.names.index(name)].label if name in settings.names else "n/a"


def _rel(path: Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def write_tables(settings: Settings, a: Analysis, folder: Path) -> list[Path]:
    """The indices, stability and boxes as CSV files in the run folder."""
    paths = []
    sob = pd.concat({m: a.sobol[m].join(a.sobol_half[m].add_suffix("_half")) for m in settings.metrics},
                    names=["metric"]).reset_index()
    mor = pd.concat(a.morris, names=["metric"]).reset_index()
    tables = {}
    for kind, found in (("prim", a.boxes), ("cart", a.cart)):
        rows = []
        for q in settings.questions:
            for b_i, b in enumerate(found[q.name]):
                for name in b.restricted:
                    j = settings.names.index(name)
                    rows.append({"question": q.name, "rule": q.rule, "box": b_i + 1, "coverage": b.coverage,
                                 "density": b.density, "mass": b.mass, "parameter": name, "low": b.limits[j, 0],
                                 "high": b.limits[j, 1], "density_without": b.drop_density.get(name)})
        tables[kind] = pd.DataFrame(rows)
    for name, frame in (("indices_sobol", sob), ("indices_morris", mor), ("stability", a.stability.reset_index()),
                        ("feature_scores", a.features.reset_index()), ("prim_boxes", tables["prim"]),
                        ("cart_boxes", tables["cart"])):
        paths.append(folder / f"{name}.csv")
        frame.to_csv(paths[-1], index=False)
    return paths


# ---------------------------------------------------------------------------- the command
def run(settings: Settings, folder: Path | None = None, report_dir: Path | None = None, analyse_only: bool = False,
        log=_log) -> dict[str, Path]:
    """The whole experiment: design, runs (resumed), analysis, report. Returns the paths written."""
    folder = folder or settings.out / folder_name(settings)
    report_dir = report_dir or (folder / "report" if settings.quick else settings.report_dir)
    meta = write_design(settings, folder)
    seconds = None
    if not analyse_only:
        seconds = run_design(settings, folder, meta["points"], log)
    values = point_values(settings, folder, meta["points"])
    if (values["runs_ok"] == 0).all():
        raise ConfigError(f"{folder}: no finished points to analyse; run without --analyse-only")
    values.to_parquet(folder / "point_values.parquet", index=False)
    a = analyse(settings, folder, values, meta)
    img = report_dir / "img"
    images = {"sobol": plot_sobol(settings, a, img / f"{IMG_PREFIX}sobol.png"),
              "morris": plot_morris(settings, a, img / f"{IMG_PREFIX}morris.png"),
              "stability": plot_stability(settings, a, img / f"{IMG_PREFIX}stability.png"),
              "features": plot_features(settings, a, img / f"{IMG_PREFIX}features.png"),
              "prim": plot_prim(settings, a, img / f"{IMG_PREFIX}prim.png")}
    report = write_report(settings, a, meta, images, report_dir / "sensitivity.md", folder, seconds)
    tables = write_tables(settings, a, folder)
    return {"report": report, **{f"figure_{k}": p for k, p in images.items()}, **{f"table_{p.stem}": p for p in tables},
            "values": folder / "point_values.parquet"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m experiments.sensitivity", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a smoke run at a tiny size (the settings' quick: section)")
    ap.add_argument("--analyse-only", action="store_true", help="no runs: analyse the finished points and redraw")
    ap.add_argument("--n", type=int, help="Sobol base samples N (a power of 2)")
    ap.add_argument("--trajectories", type=int, help="Morris trajectories")
    ap.add_argument("--seeds", type=int, help="seeds per point")
    ap.add_argument("--months", type=int, help="months per run")
    ap.add_argument("--jobs", type=int, help="processes (1 = Hydra's basic launcher)")
    ap.add_argument("--settings", type=Path, default=SETTINGS_PATH, help="settings file")
    ap.add_argument("--out", type=Path, help="run folder (default: results/sensitivity/<mode>-<hash of the settings>)")
    ap.add_argument("--report-dir", type=Path, help="where sensitivity.md and img/ go (default: docs/; --quick: "
                                                    "the run folder)")
    args = ap.parse_args(argv)
    changes: dict[str, Any] = {}
    for key, value in (("seeds", args.seeds), ("months", args.months), ("jobs", args.jobs)):
        if value is not None:
            changes[key] = value
    if args.n is not None:
        changes["sobol"] = {"base_samples": args.n}
    if args.trajectories is not None:
        changes["morris"] = {"trajectories": args.trajectories}

    def work() -> None:
        settings = load_settings(args.settings, quick=args.quick, changes=changes)
        start = time.perf_counter()
        paths = run(settings, args.out, args.report_dir, args.analyse_only)
        print(f"wrote {paths['report']} and {len(paths) - 1} more files "
              f"({', '.join(sorted(p.name for k, p in paths.items() if k != 'report'))}) "
              f"[{time.perf_counter() - start:.0f} s]")

    return exit_code(work)


if __name__ == "__main__":
    sys.exit(main())
