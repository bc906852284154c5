"""Calibrate the history replay by rolling origin (docs/calibration.md, docs/ODD.md "Calibration").

    python -m experiments.calibrate               # both folds, the ensemble, the report
    python -m experiments.calibrate --quick       # a smoke run of the whole pipeline (tests)
    python -m experiments.calibrate --report-only # re-draw the report from the fitted configs

Settings, targets, folds and free parameters live in ``configs/calibration/history.yaml``.

Method: simulated moments by rolling origin. Each fold fits only the public figures
known by its ``fit_until`` month (fold 2021_2023: 2021-2023; fold 2021_2024: the 2024
figures added) and predicts the rest; 2025 is in no fold. For a parameter vector the
history scenario is run in forced mode (stances follow the record) up to ``fit_until``
for a fixed set of seeds (common random numbers); each target's model moment is the
ensemble *median* of its sum, mean or share; the objective is the sum over the fold's
targets of z^2, z = (median - figure) / tolerance, so a target at the edge of its
tolerance costs 1, plus an edge term that keeps the fit inside ``search.edge_margin`` of
every tolerance (a median at the edge on the fit's seeds falls outside on fresh ones
about half the time). Search: a Sobol sample over the box (first fold; later folds start from the
previous fold's best), then block-coordinate Nelder-Mead (scipy) on parameters scaled
to [0, 1] (log scale where marked), one block of related parameters at a time.

Stage two fits Pakistan's learning to the record of its stance in free mode (months up
to ``fit_until``): it moves only the free mode (forced mode ignores the states' choice).

The accepted ensemble (``configs/calibrated/ensemble.yaml``) holds the near-best fits of
the current fold: every evaluated parameter set whose objective is within
``ensemble.accept_margin`` of the best, the most different ones chosen (maximin in the
scaled box), the best first; draws around the best fill it if the search found too few.

Outputs: one fitted config per fold (the current one is merged by the history
scenario), the ensemble, ``docs/calibration.md`` (both folds side by side, free mode,
2025 out of sample), ``docs/img/calibration_*.png`` and ``docs/calibration_fit.json``.
``--out-dir``, ``--report-dir`` and ``--img-dir`` redirect them (the tests write to a
temporary folder).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf
from scipy.optimize import minimize
from scipy.stats import qmc

from experiments.scenarios import exit_code, save_figure
from sim.config import Config, ConfigError, compose, validate
from sim.config.calendar import month_index, parse_month
from sim.config.history import record_frame
from sim.model.policy_model import PolicyModel

ROOT = Path(__file__).resolve().parents[1]
SETTINGS_PATH = ROOT / "configs" / "calibration" / "history.yaml"
REPORT_SEED0 = 10_000  # report ensembles use seeds from here on: never those of the fit
KINDS = ("sum", "mean", "share")


# ----------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class Target:
    name: str
    source: str
    figure: float
    kind: str  # "sum" | "mean" | "share"
    columns: tuple[str, ...]
    first: str
    last: str
    fit: bool
    of: tuple[str, ...] = ()
    figure_scale: float = 1.0
    rel_tol: float | None = None
    abs_tol: float | None = None
    known: str | None = None  # month from which the figure counts as known (default: its last month)

    @property
    def value(self) -> float:
        """The number the model's moment is compared with."""
        return self.figure * self.figure_scale

    @property
    def tolerance(self) -> float:
        """Allowed distance of the model's median from ``value`` (same unit)."""
        return self.abs_tol if self.kind == "share" else self.rel_tol * self.value

    @property
    def known_month(self) -> str:
        return self.known or self.last

    def fitted_in(self, fit_until: str) -> bool:
        """Whether a fold that sees the figures up to ``fit_until`` fits this one."""
        return self.fit and self.known_month <= fit_until

    def moment(self, frame: pd.DataFrame) -> float:
        """This target's statistic in one run's frame."""
        return self.moment_of(frame["date"].to_numpy(), lambda c: frame[c].to_numpy(dtype=float))

    def moment_of(self, dates: np.ndarray, column) -> float:
        """The statistic from the frame's dates and a column getter (fast path for ensembles)."""
        lo, hi = np.searchsorted(dates, [np.datetime64(self.first + "-01"), np.datetime64(self.last + "-01")],
                                 side="left")
        window = slice(lo, hi + (hi < len(dates) and dates[hi] == np.datetime64(self.last + "-01")))
        num = float(sum(column(c)[window].sum() for c in self.columns))
        if self.kind == "sum":
            return num
        if self.kind == "mean":
            n = window.stop - window.start
            return num / n if n > 0 else float("nan")
        den = float(sum(column(c)[window].sum() for c in self.of))
        return num / den if den > 0 else float("nan")


@dataclass(frozen=True)
class Parameter:
    path: str
    meaning: str
    unit: str
    low: float
    high: float
    start: float
    log: bool
    fitted_to: tuple[str, ...]
    integer: bool = False
    bounds: str = ""
    block: str = "all"

    def to_unit(self, x: float) -> float:
        if self.log:
            return (np.log(x) - np.log(self.low)) / (np.log(self.high) - np.log(self.low))
        return (x - self.low) / (self.high - self.low)

    def from_unit(self, u: float) -> float:
        u = float(np.clip(u, 0.0, 1.0))
        x = (float(np.exp(np.log(self.low) + u * (np.log(self.high) - np.log(self.low)))) if self.log
             else self.low + u * (self.high - self.low))
        x = min(max(x, self.low), self.high)  # rounding of exp/log must not step outside the box
        return float(round(x)) if self.integer else x


@dataclass(frozen=True)
class Fold:
    name: str
    fit_until: str
    output: Path


@dataclass
class Settings:
    scenario: str
    mode: str
    folds: list[Fold]
    current: str
    search: dict
    ensemble: dict
    free_mode: dict
    targets: list[Target]
    parameters: list[Parameter]
    raw: dict = field(repr=False, default_factory=dict)

    def fold(self, name: str) -> Fold:
        return next(f for f in self.folds if f.name == name)

    @property
    def output(self) -> Path:
        """The fitted config the history scenario merges (the current fold's)."""
        return self.fold(self.current).output

    @property
    def fit_until(self) -> str:
        return self.fold(self.current).fit_until


def load_settings(path: Path = SETTINGS_PATH) -> Settings:
    """Read and check the calibration settings; a bad entry raises a one-line ConfigError."""
    if not path.exists():
        raise ConfigError(f"calibration settings: {path} does not exist")
    raw = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    targets = []
    for name, t in raw["targets"].items():
        where = f"calibration.targets.{name}"
        if t.get("kind") not in KINDS:
            raise ConfigError(f"{where}.kind: {t.get('kind')!r} is not allowed; allowed values: {', '.join(KINDS)}")
        if t["kind"] == "share" and ("of" not in t or "abs_tol" not in t):
            raise ConfigError(f"{where}: a share needs `of` (denominator columns) and `abs_tol`")
        if t["kind"] != "share" and "rel_tol" not in t:
            raise ConfigError(f"{where}.rel_tol: missing; a {t['kind']} needs a relative tolerance")
        first, last = (str(m) for m in t["months"])
        parse_month(first, f"{where}.months[0]")
        parse_month(last, f"{where}.months[1]")
        known = str(t["known"]) if "known" in t else None
        if known is not None:
            parse_month(known, f"{where}.known")
        targets.append(Target(name=name, source=t["source"], figure=float(t["figure"]), kind=t["kind"],
                              columns=tuple(t["columns"]), first=first, last=last, fit=bool(t["fit"]),
                              of=tuple(t.get("of", ())), figure_scale=float(t.get("figure_scale", 1.0)),
                              rel_tol=t.get("rel_tol"), abs_tol=t.get("abs_tol"), known=known))
    names = {t.name for t in targets}
    params = []
    for path_, p in raw["parameters"].items():
        where = f"calibration.parameters.{path_}"
        if not p["low"] <= p["start"] <= p["high"]:
            raise ConfigError(f"{where}.start: {p['start']} is outside [low, high] = [{p['low']}, {p['high']}]")
        if p["log"] and p["low"] <= 0:
            raise ConfigError(f"{where}.low: a log-scaled parameter needs low > 0")
        unknown = [n for n in p["fitted_to"] if n not in names]
        if unknown:
            raise ConfigError(f"{where}.fitted_to: unknown target {unknown[0]!r}")
        params.append(Parameter(path=path_, meaning=p["meaning"], unit=p["unit"], low=float(p["low"]),
                                high=float(p["high"]), start=float(p["start"]), log=bool(p["log"]),
                                fitted_to=tuple(p["fitted_to"]), integer=bool(p.get("integer", False)),
                                bounds=str(p.get("bounds", "")), block=str(p.get("block", "all"))))
    folds = []
    for name, f in raw["folds"].items():
        parse_month(str(f["fit_until"]), f"calibration.folds.{name}.fit_until")
        folds.append(Fold(str(name), str(f["fit_until"]), ROOT / f["output"]))
    if str(raw["current"]) not in {f.name for f in folds}:
        raise ConfigError(f"calibration.current: {raw['current']!r} is not a fold; allowed: "
                          + ", ".join(f.name for f in folds))
    return Settings(scenario=raw["scenario"], mode=raw["mode"], folds=folds, current=str(raw["current"]),
                    search=raw["search"], ensemble=raw["ensemble"], free_mode=raw["free_mode"], targets=targets,
                    parameters=params, raw=raw)


def free_parameters(settings: Settings) -> list[Parameter]:
    """Stage two's parameters (Pakistan's learning), fitted to the stance record in free mode."""
    return [Parameter(path=path, meaning="Pakistan's learning (see configs/pakistan/default.yaml)", unit="",
                      low=float(lo), high=float(hi), start=float(lo), log=False, fitted_to=("stance record",),
                      bounds="behavioural", block="free")
            for path, (lo, hi) in settings.free_mode["parameters"].items()]


# ----------------------------------------------------------------------------- model runs
def base_config(settings: Settings, mode: str, months: int | None = None):
    """The composed (unvalidated) history config in ``mode``, cut to ``months`` if given."""
    overrides = {"history.mode": mode}
    if months is not None:
        overrides["months"] = months
    return compose(settings.scenario, overrides=overrides)


def months_until(raw, last: str) -> int:
    """Months from the scenario's start to ``last`` inclusive."""
    start = parse_month(str(raw.scenario.start_date), "scenario.start_date")
    return month_index(last, start, "calibration.fit_until") + 1


def configure(raw, values: dict[str, float]) -> Config:
    """Validate a copy of the composed config with ``values`` (path -> value) set."""
    c = copy.deepcopy(raw)
    for path, v in values.items():
        OmegaConf.update(c, path, int(v) if float(v).is_integer() and _is_int_field(c, path) else v, merge=False)
    return validate(c)


def _is_int_field(c, path: str) -> bool:
    return isinstance(OmegaConf.select(c, path), int) and not isinstance(OmegaConf.select(c, path), bool)


def run_frames(config: Config, seeds, columns=None) -> list[pd.DataFrame]:
    """One frame per seed; ``columns`` limits collection to those (the fit's fast path)."""
    collect = True if columns is None else sorted(set(columns) | {"date"})
    frames = []
    for s in seeds:
        cfg = copy.deepcopy(config)
        cfg.seed = int(s)
        frames.append(PolicyModel(cfg, collect=collect).run().frame())
    return frames


def needed_columns(targets: list[Target]) -> set[str]:
    return {c for t in targets for c in t.columns + t.of}


def moments(frames: list[pd.DataFrame], targets: list[Target], fit_until: str | None = None) -> pd.DataFrame:
    """One row per target: the compared value, the ensemble median, 5% and 95% quantiles, and
    whether the fold that sees figures up to ``fit_until`` fits it (None: every fitted figure)."""
    needed = needed_columns(targets)
    arrays = []
    for f in frames:
        cols = {c: f[c].to_numpy(dtype=float) for c in needed if c in f}
        arrays.append((f["date"].to_numpy(), cols.__getitem__, f["date"].iloc[-1]))
    rows = []
    for t in targets:
        inside = [(d, col) for d, col, end in arrays if end >= pd.Timestamp(t.last + "-01")]
        vals = np.array([t.moment_of(d, col) for d, col in inside], dtype=float)
        p05, p50, p95 = np.nanpercentile(vals, [5, 50, 95]) if len(vals) else (np.nan,) * 3
        fitted = t.fit if fit_until is None else t.fitted_in(fit_until)
        rows.append({"target": t.name, "figure": t.value, "median": p50, "p05": p05, "p95": p95,
                     "tolerance": t.tolerance, "within": bool(abs(p50 - t.value) <= t.tolerance), "fit": fitted})
    return pd.DataFrame(rows)


def objective_of(table: pd.DataFrame, edge_margin: float = 1.0, edge_weight: float = 0.0) -> float:
    """Sum over the fitted figures of z^2, z = (median - figure) / tolerance, plus
    ``edge_weight`` x (|z| - ``edge_margin``)^2 for each figure beyond ``edge_margin``.

    The second term keeps the fit off the edges of the tolerances: a median on the fit's
    own seeds right at a tolerance's edge lands on either side of it on fresh seeds
    (search.edge_margin in configs/calibration/history.yaml says by how much)."""
    fitted = table[table["fit"]]
    z = np.abs(((fitted["median"] - fitted["figure"]) / fitted["tolerance"]).to_numpy(dtype=float))
    beyond = np.clip(z - edge_margin, 0.0, None)
    return float(np.nansum(z ** 2) + edge_weight * np.nansum(beyond ** 2))


def fit_objective(settings: Settings, table: pd.DataFrame) -> float:
    """The objective the fit minimises: ``objective_of`` with the settings' edge term."""
    return objective_of(table, float(settings.search["edge_margin"]), float(settings.search["edge_weight"]))


# ----------------------------------------------------------------------------- the fit
class Evaluator:
    """The objective of a fold at a point of the scaled box, with a trace of every evaluation."""

    def __init__(self, settings: Settings, fold: Fold, seeds, log=print):
        self.params = settings.parameters
        self.fit_until = fold.fit_until
        self.targets = [t for t in settings.targets if t.fitted_in(fold.fit_until)]
        raw = base_config(settings, settings.mode)
        # Run to the fold's end, or further when a figure known by then runs on (IOM to April 2025).
        last = max([fold.fit_until] + [t.last for t in self.targets])
        self.raw = base_config(settings, settings.mode, months_until(raw, last))
        self.seeds = list(seeds)
        self.columns = needed_columns(self.targets)
        self.penalty = float(settings.search["bound_penalty"])
        self.settings = settings
        self.edge = False  # the refining stage adds the edge term (fit_fold)
        self.trace: list[dict] = []
        self.log = log

    def values_of(self, u) -> dict[str, float]:
        return {p.path: p.from_unit(x) for p, x in zip(self.params, u)}

    def table(self, values: dict[str, float]) -> pd.DataFrame:
        frames = run_frames(configure(self.raw, values), self.seeds, self.columns)
        return moments(frames, self.targets, self.fit_until)

    def __call__(self, u) -> float:
        u = np.asarray(u, dtype=float)
        outside = float(np.sum(np.clip(-u, 0, None) + np.clip(u - 1, 0, None)))
        vals = self.values_of(u)
        try:
            table = self.table(vals)
            plain = objective_of(table) + self.penalty * outside
            edged = fit_objective(self.settings, table) + self.penalty * outside
        except ConfigError:
            plain = edged = 1e9
        obj = edged if self.edge else plain
        # Both objectives are kept: the accepted ensemble is judged on the final one (with the edge term).
        self.trace.append({"objective": obj, "fit_objective": edged, "u": np.clip(u, 0, 1).tolist(), "values": vals})
        if len(self.trace) % 50 == 0:
            self.log(f"  evaluation {len(self.trace)}: best objective so far "
                     f"{min(h['objective'] for h in self.trace):.3f}")
        return obj


def fit_fold(settings: Settings, fold: Fold, start: dict[str, float] | None, quick: bool = False,
             log=print) -> dict:
    """Search the box for one fold: Sobol (when there is no start), then block-coordinate Nelder-Mead."""
    budget = settings.search["quick" if quick else "full"]
    ev = Evaluator(settings, fold, range(int(budget["seeds"])), log)
    params = settings.parameters
    t0 = time.time()
    start = start or {p.path: p.start for p in params}
    u = np.array([p.to_unit(start[p.path]) for p in params])
    best = ev(u)
    start_objective = best
    if start is not None and all(start.get(p.path) == p.start for p in params):
        n_init = int(budget["initial_points"])
        if n_init > 0:
            sobol = qmc.Sobol(d=len(params), scramble=True, seed=int(settings.search["sobol_seed"]))
            for cand in sobol.random(n_init):
                score = ev(cand)
                if score < best:
                    u, best = cand, score
        log(f"[{fold.name}] global stage: best objective {best:.3f} (start {start_objective:.3f})")
    u, best = _block_search(ev, u, best, settings, int(budget["cycles"]), int(budget["max_evaluations"]),
                            fold.name, log)
    # Refining stage: the same search, one cycle from the best, with the edge term added (it
    # keeps every figure inside search.edge_margin of its tolerance, so that medians on
    # fresh seeds stay inside too); first the best point is scored on the new objective.
    refine = int(budget.get("refine_evaluations", 0))
    if refine > 0 and float(settings.search["edge_weight"]) > 0:
        ev.edge = True
        best = ev(u)
        log(f"[{fold.name}] refining off the tolerances' edges: objective with the edge term {best:.3f}")
        u, best = _block_search(ev, u, best, settings, 1, refine, fold.name, log, label="refine")
    values = ev.values_of(u)
    table = ev.table(values)
    elapsed = time.time() - t0
    log(f"[{fold.name}] fitted: objective {fit_objective(settings, table):.3f}; {len(ev.trace)} evaluations, "
        f"{elapsed:.0f} s")
    return {"fold": fold.name, "fit_until": fold.fit_until, "values": values, "table": table,
            "objective": fit_objective(settings, table), "start_objective": ev.trace[0]["fit_objective"], "evaluations": len(ev.trace),
            "seconds": elapsed, "seeds": len(ev.seeds), "quick": quick, "trace": ev.trace, "evaluator": ev}


def _block_search(ev: Evaluator, u: np.ndarray, best: float, settings: Settings, cycles: int, total: int,
                  fold_name: str, log, label: str = "cycle") -> tuple[np.ndarray, float]:
    """Block-coordinate Nelder-Mead from ``u``: ``cycles`` passes over the parameter blocks,
    ``total`` evaluations shared by them; returns the best point and its objective."""
    params = settings.parameters
    blocks: dict[str, list[int]] = {}
    for i, p in enumerate(params):
        blocks.setdefault(p.block, []).append(i)
    step = float(settings.search["simplex_step"])
    for cycle in range(cycles):
        for name, idx in blocks.items():
            maxfev = max(len(idx) + 2, int(total * len(idx) / len(params) / cycles))
            base = u.copy()

            def sub(x, base=base, idx=idx):
                full = base.copy()
                full[idx] = x
                return ev(full)

            x0 = base[idx]
            simplex = [x0] + [np.clip(x0 + step * np.eye(len(idx))[k] * (1 if x0[k] < 0.5 else -1), 0, 1)
                              for k in range(len(idx))]
            res = minimize(sub, x0, method="Nelder-Mead",
                           options={"maxfev": maxfev, "initial_simplex": np.array(simplex),
                                    "xatol": 1e-3, "fatol": 1e-3})
            if res.fun < best:
                u = base.copy()
                u[idx] = np.clip(res.x, 0, 1)
                best = float(res.fun)
            log(f"[{fold_name}] {label} {cycle + 1}, block {name}: {res.nfev} evaluations, objective {best:.3f}")
    return u, best


# ----------------------------------------------------------------------------- stage two: free mode
def stance_agreement(frames: list[pd.DataFrame], record: pd.DataFrame, side: str = "pakistan",
                     first: str = "2021-08", last: str = "2099-12") -> float:
    """Mean share of months (in [first, last]) in which the free stance equals the record."""
    shares = []
    for f in frames:
        m = f[["date", f"{side}_stance"]].merge(record[["date", side]], on="date")
        m = m[(m["date"] >= pd.Timestamp(first + "-01")) & (m["date"] <= pd.Timestamp(last + "-01"))]
        shares.append(float((m[f"{side}_stance"] == m[side]).mean()))
    return float(np.mean(shares))


def fit_free_mode(settings: Settings, fold: Fold, values: dict[str, float], quick: bool = False,
                  log=print) -> dict:
    """Fit Pakistan's learning to its recorded stance up to the fold's end (free mode)."""
    fm = settings.free_mode
    params = free_parameters(settings)
    raw = base_config(settings, "free")
    record = record_frame(validate(base_config(settings, "forced")))
    raw = base_config(settings, "free", months_until(raw, fold.fit_until))
    seeds = range(int(fm["seeds"]) if not quick else 3)
    cols = ["pakistan_stance"]

    def score(extra: dict[str, float]) -> float:
        frames = run_frames(configure(raw, {**values, **extra}), seeds, cols)
        return stance_agreement(frames, record, "pakistan", last=fold.fit_until)

    configured = {p.path: float(OmegaConf.select(raw, p.path)) for p in params}
    best_vals, best = configured, score(configured)
    start = best
    sobol = qmc.Sobol(d=len(params), scramble=True, seed=int(settings.search["sobol_seed"]) + 1)
    for u in sobol.random(int(fm["quick_points"] if quick else fm["points"])):
        cand = {p.path: p.from_unit(x) for p, x in zip(params, u)}
        s = score(cand)
        if s > best:
            best_vals, best = cand, s
    log(f"[{fold.name}] free mode: Pakistan's stance matches the record in {best:.1%} of months to "
        f"{fold.fit_until} (configured values: {start:.1%})")
    return {"values": best_vals, "agreement": best, "configured_agreement": start}


# ----------------------------------------------------------------------------- the ensemble
def accepted_ensemble(settings: Settings, result: dict, quick: bool = False, log=print) -> list[dict]:
    """Near-best fits of a fold: objective within the margin of the best, most different first."""
    es = settings.ensemble
    ev: Evaluator = result["evaluator"]
    size, margin = int(es["size"]), float(es["accept_margin"])
    params = settings.parameters
    best_u = np.array([p.to_unit(result["values"][p.path]) for p in params])
    best_obj = fit_objective(settings, result["table"])
    limit = best_obj + margin

    def accepted() -> list[dict]:
        seen, out = set(), []
        for h in ev.trace:
            key = tuple(np.round(h["u"], 4))
            if h["fit_objective"] <= limit and key not in seen:
                seen.add(key)
                out.append(h)
        return out

    rng = np.random.default_rng(int(settings.search["sobol_seed"]))
    spread = float(es["spread"])
    budget = int(settings.search["quick" if quick else "full"]["ensemble_candidates"])
    while len(accepted()) < size and budget > 0:
        ev(np.clip(best_u + rng.normal(0.0, spread, len(params)), 0, 1))
        budget -= 1
    pool = accepted()
    chosen = [{"objective": best_obj, "fit_objective": best_obj, "u": best_u.tolist(), "values": result["values"]}]
    pts = [best_u]
    while pool and len(chosen) < size:  # maximin: the set farthest from those already chosen
        dists = [min(np.linalg.norm(np.array(h["u"]) - q) for q in pts) for h in pool]
        k = int(np.argmax(dists))
        if dists[k] < 1e-9:
            break
        h = pool.pop(k)
        chosen.append(h)
        pts.append(np.array(h["u"]))
    rest = sorted(chosen[1:], key=lambda h: h["fit_objective"])
    out = [chosen[0]] + rest
    log(f"ensemble: {len(out)} sets with objective <= {limit:.2f} (best {best_obj:.2f})")
    return out


def write_ensemble(settings: Settings, sets: list[dict], free_values: dict[str, float], path: Path,
                   quick: bool) -> Path:
    es = settings.ensemble
    fold = settings.fold(settings.current)
    lines = [f"# Accepted parameter ensemble of the history calibration (experiments/calibrate.py; docs/calibration.md).",
             f"# method: near-best fits: every set evaluated by the search (or drawn around the best fit) whose",
             f"#   objective is within {es['accept_margin']} of the best, the most different chosen (maximin in the scaled box).",
             f"# fold: {fold.name} (figures of 2021-{fold.fit_until[:4]}; 2025 never fitted); forced mode; objective = sum of",
             f"#   squared misses in tolerances, plus the edge term, over {settings.search['quick' if quick else 'full']['seeds']} fixed seeds.",
             f"# tolerance: objective <= best + {es['accept_margin']}; date: {datetime.date.today().isoformat()}"
             + (" -- QUICK RUN, not a real fit" if quick else ""),
             f"# Set 0 is the best fit: the values of {settings.fold(settings.current).output.relative_to(ROOT)}.",
             f'method: "near-best fits within objective margin {es["accept_margin"]} of the best (fold {fold.name})"',
             "sets:"]
    for s in sets:
        lines.append(f"  - distance: {s['fit_objective']:.4f}")
        lines.append("    values:")
        for p in settings.parameters:
            v = s["values"][p.path]
            lines.append(f"      {p.path}: {int(v) if p.integer else _fmt(v)}")
        for k, v in free_values.items():
            lines.append(f"      {k}: {_fmt(v)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


# ----------------------------------------------------------------------------- outputs
def _fmt(x: float) -> str:
    return f"{x:.6g}"


def write_calibrated(settings: Settings, result: dict, free: dict | None, path: Path) -> Path:
    """Write a fold's fitted values as a Hydra config, each with its meaning, unit and target."""
    fold = settings.fold(result["fold"])
    lines = ["# @package _global_",
             f"# Fitted by experiments/calibrate.py, fold {fold.name}: the public figures known by {fold.fit_until}",
             "# (docs/calibration.md); settings and targets: configs/calibration/history.yaml.",
             f"# Forced mode, {result['seeds']} seeds per evaluation, {result['evaluations']} evaluations, "
             f"objective {result['objective']:.3f} (sum of squared misses in tolerances, plus the edge term)"
             + (" -- QUICK RUN, not a real fit" if result["quick"] else "") + ".",
             "# Merged after configs/scenario/history_2021_2025.yaml (the current fold) or by the calibration."]
    tree: dict = {}
    entries = [(p, result["values"][p.path]) for p in settings.parameters]
    if free:
        entries += [(p, free["values"][p.path]) for p in free_parameters(settings)]
    for p, v in entries:
        node = tree
        parts = p.path.split(".")
        for key in parts[:-1]:
            node = node.setdefault(key, {})
        node[parts[-1]] = (p, v)
    by_target = result["table"].set_index("target")

    def emit(node: dict, indent: int) -> None:
        for key, v in node.items():
            pad = "  " * indent
            if isinstance(v, dict):
                lines.append(f"{pad}{key}:")
                emit(v, indent + 1)
                continue
            p, value = v
            if p.block == "free":
                why = f"fitted to Pakistan's recorded stance in free mode ({free['agreement']:.1%} of months matched)"
            else:
                why = "fitted to " + ", ".join(
                    f"{n} {by_target.loc[n, 'median']:.4g} vs {by_target.loc[n, 'figure']:.4g}"
                    for n in p.fitted_to if n in by_target.index and by_target.loc[n, "fit"])
            text = str(int(value)) if p.integer else _fmt(value)
            lines.append(f"{pad}{key}: {text}  # {p.meaning} ({p.unit}); {why}")

    emit(tree, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def read_fitted(settings: Settings, path: Path | None = None) -> dict[str, float]:
    """The fitted values in a written config (default: the current fold's); empty if none yet."""
    path = path or settings.output
    if not path.exists():
        return {}
    cfg = OmegaConf.load(path)
    out = {}
    for p in settings.parameters + free_parameters(settings):
        v = OmegaConf.select(cfg, p.path)
        if v is not None:
            out[p.path] = float(v)
    return out


def report_ensembles(settings: Settings, seeds: int, values: dict[str, float]) -> dict[str, list[pd.DataFrame]]:
    """Full-length (2021-2025) ensembles in forced and free mode with ``values`` set (fresh seeds)."""
    seed_list = range(REPORT_SEED0, REPORT_SEED0 + seeds)
    return {mode: run_frames(configure(base_config(settings, mode), values), seed_list)
            for mode in ("forced", "free")}


def _window(f: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    return f[(f["date"] >= pd.Timestamp(a + "-01")) & (f["date"] <= pd.Timestamp(b + "-01"))]


def _band(frames, fn) -> tuple[float, float, float]:
    vals = np.array([fn(f) for f in frames], dtype=float)
    p05, p50, p95 = np.nanpercentile(vals, [5, 50, 95])
    return float(p50), float(p05), float(p95)


def _sum(f, cols, a, b) -> float:
    return float(_window(f, a, b)[cols].to_numpy().sum())


def _mean(f, col, a, b) -> float:
    return float(_window(f, a, b)[col].mean())


CRSS_COLUMNS = ["deaths_total", "deaths_sectarian"]  # CRSS's all-violence count: militancy and Kurram's clashes


def _monthly_crss(f, a, b) -> float:
    """Mean monthly fatalities by CRSS's definition over months a..b."""
    return float(_window(f, a, b)[CRSS_COLUMNS].to_numpy().sum(axis=1).mean())


def out_of_sample_2025(frames: dict[str, list[pd.DataFrame]]) -> pd.DataFrame:
    """The model's 2025 (never fitted) against what the record says happened."""
    rows = []
    for mode, fs in frames.items():
        def band(label, fn, record):
            med, lo, hi = _band(fs, fn)
            rows.append({"mode": mode, "check": label, "record": record, "median": med, "p05": lo, "p95": hi})

        def share(label, fn, record):
            rows.append({"mode": mode, "check": label, "record": record,
                         "median": float(np.mean([bool(fn(f)) for f in fs])), "p05": np.nan, "p95": np.nan})

        band("fatalities Jan-Nov 2025 (deaths_total + deaths_sectarian)", lambda f: _sum(f, CRSS_COLUMNS, "2025-01", "2025-11"),
             "rose further (CRSS quarterly reports)")
        share("share of runs: monthly fatalities 2025 > 2024",
              lambda f: _monthly_crss(f, "2025-01", "2025-11") > _monthly_crss(f, "2024-01", "2024-12"),
              "yes")
        share("share of runs: monthly fatalities Jun-Sep 2025 > Jan-Apr 2025",
              lambda f: _monthly_crss(f, "2025-06", "2025-09") > _monthly_crss(f, "2025-01", "2025-04"),
              "yes (violence rose again after the thaw)")
        band("returns of card holders (ACC) Apr-Jun 2025, phase two",
             lambda f: _sum(f, ["returns_documented"], "2025-04", "2025-06"), "a surge from April")
        share("share of runs: returns Apr-Jun 2025 > Jan-Mar 2025 (phase two)",
              lambda f: _sum(f, ["returns_voluntary", "returns_forced"], "2025-04", "2025-06")
              > _sum(f, ["returns_voluntary", "returns_forced"], "2025-01", "2025-03"), "yes")
        band("returns of PoR holders Sep-Nov 2025, phase three",
             lambda f: _sum(f, ["returns_registered"], "2025-09", "2025-11"), "a surge from September")
        share("share of runs: relations fall in Oct 2025", lambda f: _mean(f, "relations", "2025-10", "2025-10")
              < _mean(f, "relations", "2025-09", "2025-09"), "yes (strikes, border battles, closure)")
        share("share of runs: relations at or below -0.6 in Nov 2025",
              lambda f: _mean(f, "relations", "2025-11", "2025-11") <= -0.6, "yes (collapse)")
        share("share of runs: trade via Iran above trade via Pakistan in Nov 2025",
              lambda f: _mean(f, "trade_via_iran", "2025-11", "2025-11") > _mean(f, "trade", "2025-11", "2025-11"),
              "yes (crossings shut from 12 October)")
    return pd.DataFrame(rows)


def stance_by_year(frames: list[pd.DataFrame], record: pd.DataFrame) -> pd.DataFrame:
    """How often the free stance matches the record, by year, for both states."""
    rows = []
    for year in range(2021, 2026):
        a, b = f"{year}-01", f"{year}-12"
        rec = _window(record, a, b)
        rows.append({"year": str(year) + (" (Aug-Dec)" if year == 2021 else " (Jan-Nov)" if year == 2025 else ""),
                     "record: Pakistan": _spell(rec["pakistan"]),
                     "Pakistan matches": stance_agreement(frames, record, "pakistan", a, b),
                     "Pakistan engaged": float(np.mean([(_window(f, a, b)["pakistan_stance"] == "engage").mean()
                                                        for f in frames])),
                     "Taliban matches": stance_agreement(frames, record, "taliban", a, b)})
    return pd.DataFrame(rows)


def habituation_sensitivity(settings: Settings, values: dict[str, float], record: pd.DataFrame,
                            seeds: int) -> pd.DataFrame:
    """Free mode with Pakistan's tolerance habituating (never fitted): what a turn back in 2025 would take.

    The calibration keeps ``pakistan.tolerance_adaptation`` at 0 (2021-2024 do not support a
    positive value); this table shows, on the report's seeds, how the free stance of each
    year moves if sustained violence does become the new normal. A sensitivity, not a fit.
    """
    rows = []
    seed_list = range(REPORT_SEED0, REPORT_SEED0 + seeds)
    for rate in settings.free_mode["habituation_values"]:
        frames = run_frames(configure(base_config(settings, "free"), {**values, "pakistan.tolerance_adaptation": rate}),
                            seed_list, ["date", "pakistan_stance", "tolerance"])
        row = {"tolerance_adaptation (per month)": f"{rate:g}"}
        for year in range(2021, 2026):
            a, b = f"{year}-01", f"{year}-12"
            row[f"{year} engaged / matches"] = (
                f"{np.mean([(_window(f, a, b)['pakistan_stance'] == 'engage').mean() for f in frames]):.0%} / "
                f"{stance_agreement(frames, record, 'pakistan', a, b):.0%}")
        row["tolerance Nov 2025 (deaths/month)"] = f"{np.median([f['tolerance'].iloc[-1] for f in frames]):.0f}"
        rows.append(row)
    return pd.DataFrame(rows)


def _spell(col: pd.Series) -> str:
    n = len(col)
    e = int((col == "engage").sum())
    return f"engage {e}/{n} months"


def plot_targets(tables: dict[str, pd.DataFrame], settings: Settings, path: Path) -> Path:
    """Each public figure vs each fold's forced-mode median and 90% band, as a ratio to the figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [t.name for t in settings.targets]
    fig, ax = plt.subplots(figsize=(11, 0.5 * len(names) + 2.2))
    colours = ["#377eb8", "#e41a1c", "#4daf4a"]
    for k, (fold, table) in enumerate(tables.items()):
        tb = table.set_index("target").loc[names]
        y = np.arange(len(names)) + (k - 0.5) * 0.3
        ratio = tb["median"] / tb["figure"]
        lo, hi = tb["p05"] / tb["figure"], tb["p95"] / tb["figure"]
        fitted = tb["fit"].to_numpy(dtype=bool)
        c = colours[k % len(colours)]
        ax.errorbar(ratio[fitted], y[fitted], xerr=[(ratio - lo)[fitted], (hi - ratio)[fitted]], fmt="o", ms=6,
                    color=c, capsize=3, label=f"fold {fold}: fitted figure (median, 90% band)")
        ax.errorbar(ratio[~fitted], y[~fitted], xerr=[(ratio - lo)[~fitted], (hi - ratio)[~fitted]], fmt="o",
                    ms=6, mfc="white", color=c, capsize=3, label=f"fold {fold}: predicted or check (open)")
    tb = next(iter(tables.values())).set_index("target").loc[names]
    tol = tb["tolerance"] / tb["figure"]
    for i, t in enumerate(tol):
        ax.add_patch(plt.Rectangle((max(1 - t, 0.05), i - 0.4), 2 * t, 0.8, color="#999999", alpha=0.2, lw=0))
    ax.axvline(1.0, color="black", lw=1.2)
    ax.set_yticks(np.arange(len(names)), names, fontsize=11)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("model / public figure (grey: stated tolerance; black line: the figure)", fontsize=12)
    ax.tick_params(axis="x", labelsize=11)
    ax.legend(fontsize=10, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title("History replay: public figures vs the model, both rolling-origin folds", fontsize=14)
    return save_figure(fig, path)


def plot_timeseries(frames: dict[str, list[pd.DataFrame]], settings: Settings, record: pd.DataFrame,
                    path: Path) -> Path:
    """Fatalities, returns by status, relations, trade by route and Pakistan's stance, 2021-2025."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(5, 1, figsize=(12, 17), sharex=True)
    colours = {"forced": "#377eb8", "free": "#ff7f00"}
    split = pd.Timestamp(settings.fit_until + "-01") + pd.offsets.MonthEnd(0)

    def band(ax, fs, fn, colour, label):
        vals = np.vstack([fn(f) for f in fs])
        p05, p50, p95 = np.percentile(vals, [5, 50, 95], axis=0)
        dates = fs[0]["date"]
        ax.fill_between(dates, p05, p95, color=colour, alpha=0.2, lw=0)
        ax.plot(dates, p50, color=colour, lw=2, label=label)

    for mode, fs in frames.items():
        band(axes[0], fs, lambda f: f[CRSS_COLUMNS].to_numpy(float).sum(axis=1), colours[mode],
             f"{mode} mode: median, 90% band")
        band(axes[2], fs, lambda f: f["relations"].to_numpy(float), colours[mode], f"{mode} mode")
        axes[4].step(fs[0]["date"], np.mean([(f["pakistan_stance"] == "engage").to_numpy(float) for f in fs], axis=0),
                     where="mid", color=colours[mode], lw=2, label=f"{mode} mode (share of runs)")
    fs = frames["forced"]
    for col, colour, label in (("returns_undocumented", "#984ea3", "undocumented"),
                               ("returns_documented", "#4daf4a", "card holders (ACC)"),
                               ("returns_registered", "#a65628", "PoR holders")):
        band(axes[1], fs, lambda f, c=col: f[c].to_numpy(float) / 1000, colour, label)
    band(axes[3], fs, lambda f: f["trade"].to_numpy(float), "#377eb8", "via Pakistan")
    band(axes[3], fs, lambda f: f["trade_via_iran"].to_numpy(float), "#e41a1c", "via Iran (Chabahar, Bandar Abbas)")
    axes[4].step(record["date"], (record["pakistan"] == "engage").astype(float), where="mid", color="black",
                 lw=1.5, ls="--", label="record")
    for t in settings.targets:
        if t.kind == "sum" and t.columns == tuple(CRSS_COLUMNS) and t.fit:
            a, b = pd.Timestamp(t.first + "-01"), pd.Timestamp(t.last + "-01")
            n = (b.year - a.year) * 12 + b.month - a.month + 1
            axes[0].hlines(t.value / n, a, b, color="black", lw=2.5)
    axes[0].plot([], [], color="black", lw=2.5, label="CRSS: monthly mean over its window")
    titles = ["Fatalities per month (deaths_total + deaths_sectarian; CRSS definition)",
              "Returns to Afghanistan by legal status, forced mode (thousands per month)",
              "Relations (-1 .. 1)", "Afghan trade by route, forced mode (USD million per month)",
              "Pakistan engaged"]
    for ax, title in zip(axes, titles):
        ax.axvspan(split, fs[0]["date"].iloc[-1], color="#dddddd", alpha=0.6, lw=0)
        ax.set_title(title, fontsize=13)
        ax.tick_params(labelsize=11)
        ax.legend(fontsize=10, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.suptitle("History replay Aug 2021 - Nov 2025 (grey: 2025, never fitted)", fontsize=15)
    return save_figure(fig, path)


def _md_table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        out.append("| " + " | ".join(str(r[c]) for c in cols) + " |")
    return "\n".join(out)


def _num(x: float) -> str:
    if isinstance(x, float) and np.isnan(x):
        return ""
    if abs(x) < 1.5:
        return f"{x:.3f}"
    return f"{x:,.0f}"


def _cell(r) -> str:
    return f"{_num(r['median'])} [{_num(r['p05'])}, {_num(r['p95'])}]" + ("" if r["within"] else " **out**")


def write_report(settings: Settings, record: dict, tables: dict[str, pd.DataFrame], free_table: pd.DataFrame,
                 oos: pd.DataFrame, stances: pd.DataFrame, values: dict[str, dict[str, float]],
                 report_dir: Path, figures: dict[str, Path], seeds: int, n_sets: int,
                 habituation: pd.DataFrame | None = None) -> Path:
    """docs/calibration.md: both folds side by side, fitted values, free mode, 2025 out of sample."""
    folds = [f.name for f in settings.folds]
    rows = []
    for t in settings.targets:
        tol = f"±{t.abs_tol:.2f}" if t.kind == "share" else f"±{t.rel_tol:.0%}"
        row = {"figure": f"`{t.name}`", "source": t.source, "compared with": _num(t.value), "tolerance": tol}
        for fold in folds:
            r = tables[fold].set_index("target").loc[t.name]
            role = "fit" if r["fit"] else ("check" if not t.fit else "predicted")
            row[f"fold {fold}: {{role}} median [90%]"] = f"{role}: {_cell(r)}"
        fr = free_table.set_index("target").loc[t.name]
        row["free mode (current fold)"] = _cell(fr)
        rows.append(row)
    fit_table = _md_table(pd.DataFrame(rows).rename(columns=lambda c: c.replace("{role} ", "")))
    prow = []
    for p in settings.parameters:
        prow.append({"parameter": f"`{p.path}`", "meaning (unit)": f"{p.meaning} ({p.unit})",
                     "box": f"[{p.low:g}, {p.high:g}]{' log' if p.log else ''}", "bounds from": p.bounds,
                     **{f"fold {fold}": f"{values[fold].get(p.path, float('nan')):.4g}" for fold in folds},
                     "fitted to": ", ".join(p.fitted_to)})
    for p in free_parameters(settings):
        prow.append({"parameter": f"`{p.path}`", "meaning (unit)": "Pakistan's learning (free mode only)",
                     "box": f"[{p.low:g}, {p.high:g}]", "bounds from": p.bounds,
                     **{f"fold {fold}": f"{values[fold].get(p.path, float('nan')):.4g}" for fold in folds},
                     "fitted to": "Pakistan's recorded stance, free mode"})
    oos_rows = [{"mode": r["mode"], "check": r["check"], "record": r["record"],
                 "model: median (or share of runs)": _num(r["median"]),
                 "90% band": "" if np.isnan(r["p05"]) else f"[{_num(r['p05'])}, {_num(r['p95'])}]"}
                for _, r in oos.iterrows()]
    st = stances.copy()
    for c in ("Pakistan matches", "Pakistan engaged", "Taliban matches"):
        st[c] = st[c].map(lambda x: f"{x:.0%}")
    runs = []
    for fold in folds:
        r = record.get(fold)
        if r:
            runs.append(f"fold {fold}: {r['evaluations']} evaluations of {r['seeds']} seeds, objective "
                        f"{r['start_objective']:.2f} at the start and {r['objective']:.2f} after the fit, "
                        f"{r['seconds']:.0f} s")
    quick = any(record.get(f, {}).get("quick") for f in folds)
    run = ("This report was written by `python -m experiments.calibrate" + (" --quick" if quick else "") + "`"
           + (": " + "; ".join(runs) if runs else "") + f". Report ensembles: {seeds} seeds per mode and fold "
           f"(seeds {REPORT_SEED0}-{REPORT_SEED0 + seeds - 1}, none used in the fit).")
    rel = {k: Path(v).relative_to(report_dir) if Path(v).is_relative_to(report_dir) else Path(v)
           for k, v in figures.items()}
    budget = settings.search["full"]
    s = settings.search  # (the edge term's settings)
    habituation_text = "" if habituation is None else f"""
### Sensitivity, never fitted: Pakistan's tolerance habituating

The fit keeps `pakistan.tolerance_adaptation` at 0: no positive value improves the match of
2021-2024. The mechanism that could turn Pakistan back to engagement at record violence
(2025) is habituation: sustained violence above the tolerance becomes the new normal
(docs/ODD.md 6.1). Free mode on the first {min(seeds, int(settings.free_mode["habituation_seeds"]))} report seeds, share of months
engaged / share matching the record, by year:

{_md_table(habituation)}
"""
    text = f"""# Calibration of the history replay (rolling origin, 2021-2024)

The history scenario `history_2021_2025` replays August 2021 to November 2025. Its free
parameters are fitted by **rolling origin**: fold `2021_2023` sees only the public figures
of 2021-2023 and *predicts* 2024; fold `2021_2024` adds the 2024 figures and is the one
the history scenario uses. **2025 is in no fold**: it is reported below as it comes.
Settings, targets, tolerances, folds and search boxes: `configs/calibration/history.yaml`;
fitted values: `configs/calibrated/history_2021_2023.yaml` and
`configs/calibrated/history_2021_2024.yaml` (merged by the history scenario); the accepted
ensemble: `configs/calibrated/ensemble.yaml` ({n_sets} sets); method and code: `experiments/calibrate.py`.

{run}

## Method

* **Mode.** The fit runs the *forced* mode: both states' stances follow the record
  (`history.stances`), so the fit tests the state dynamics (violence, refugees) rather
  than the decision rules. Free mode is reported with the same values.
* **Moments.** For each figure, the model's statistic (a sum over months, a monthly
  mean, or a share) is computed per run; the model moment is the ensemble **median**
  over a fixed set of seeds (common random numbers). The objective is the sum over the
  fold's figures of ((median - figure) / tolerance)^2, so a figure exactly at the edge of
  its tolerance costs 1. A last, refining stage adds {s['edge_weight']:g} x (|z| - {s['edge_margin']:g})^2 for each
  figure beyond {s['edge_margin']:g} of its tolerance (z = miss / tolerance): a median at the edge on the fit's
  seeds lands outside on fresh seeds about half the time (CRSS 2024 did: 2,035 on the fit's
  seeds, 1,962 on 200 fresh ones, the edge 2,037); the objectives quoted here include it.
* **Folds.** A figure is fitted by a fold if its `known` month (default: its last month)
  is on or before the fold's `fit_until`. IOM's 861,763 returns (September 2023 - early
  April 2025) run three months into 2025, but they are the only measure of the 2024 lull
  and end before phase two: they belong to the 2021-2024 fold. The UN Monitoring Team's
  6,000-6,500 TTP fighters were published in July 2024: the 2021-2023 fold does not see them.
* **Search and budget.** Fold `2021_2023`: the start values plus {budget['initial_points']} scrambled Sobol
  points over the box, then block-coordinate Nelder-Mead ({budget['cycles']} passes over the
  blocks: refugees, size, drivers, split), on parameters scaled to [0, 1] (log scale where
  marked); fold `2021_2024` starts from the previous fold's best (rolling origin); each
  fold ends with one refining pass over the blocks with the edge term (at most about
  {budget.get('refine_evaluations', 0)} evaluations). Budget: {budget['seeds']} seeds per evaluation, at most about
  {budget['max_evaluations']} evaluations per fold before refining; the whole command runs in well under
  an hour on one shared core (times above).
* **Physical bounds.** Every parameter with a physical meaning has a box from a source
  (column "bounds from"); the fitted values lie inside (a test checks it).
* **Free mode, stage two.** How Pakistan learns from outcomes (learning rate,
  attraction decay, the reward lost per rise in violence and per unit of violence above
  its tolerance) is fitted to the record of Pakistan's stance month by month up to the
  fold's end, in free mode ({settings.free_mode['points']} Sobol points over the box, kept only if better
  than the configured values). Forced mode does not depend on these. What Pakistan weighs
  when it chooses (its tolerance, the weight of violence in its utility) is not fitted:
  fitting those as well matched 2021-2024 better but gave a Pakistan that never turned
  back to engagement, in 2025 or in runs from today.
* **Definitions.** GTI terrorism deaths are compared with the model's victims of
  attacks, `deaths_security + deaths_civilian`; CRSS violence-related (violence-linked)
  fatalities include militants killed in operations and the dead of sectarian clashes:
  `deaths_total + deaths_sectarian` (Kurram's clashes, docs/ODD.md 6.3a). GTI counted 79% of
  CRSS's non-militant deaths in 2023 and about 64% in 2024, so GTI 2024 gets a wide
  tolerance (±40%). IOM counts returns of undocumented Afghans: `returns_undocumented`.
  Attacks: `attacks` (all groups), TTP share `attacks_ttp / attacks`. Suicide bombings:
  `suicide_attacks`. TTP fighters: `strength_ttp`.
* **2021.** The GTI figure (292) covers the whole of 2021 but the replay starts in
  August: August-December 2021 is compared with 5/12 of it (122), ±35%.
* **Returns.** The drive starts in October 2023 in the replay (announced 3 October);
  OCHA's and IOM's windows that start in mid- or early September are compared with
  the model's months from October.
* **The caretaker Prime Minister's 2,800.** "Over 2,800 Pakistanis killed by the TTP's
  campaign, August 2021 - November 2023" is a political statement without a stated
  method; it is higher than GTI and CRSS together imply for the same months. It is
  reported as a check and never fitted.
* **Not used.** Provincial shares and nationalities of suicide bombers (the model has
  neither); casualty splits that count the injured; percentage changes without a stated
  base; the revenue shares and the 10% fee are structural values set in
  `configs/world/default.yaml`.

## Fitted parameters (both folds)

{_md_table(pd.DataFrame(prow))}

## Public figures vs the model, both folds side by side (forced mode unless said)

"fit" = fitted by that fold; "predicted" = a figure the fold did not see (its out of
sample); "check" = never fitted. **out** = the median lies outside the tolerance.

{fit_table}

![Public figures vs the model, both folds]({rel['targets']})

![History replay, forced and free]({rel['timeseries']})

## Free mode: how often the free stance matches the record, by year (current fold)

{_md_table(st)}
{habituation_text}
## Out of sample: 2025 (never fitted, current fold)

{_md_table(pd.DataFrame(oos_rows))}

What the model gets right and wrong in 2025 is discussed in [`docs/ODD.md`](ODD.md)
(Calibration: out of sample); the rows above are regenerated with this report.
"""
    report_dir.mkdir(parents=True, exist_ok=True)
    path = report_dir / "calibration.md"
    path.write_text(text)
    return path


def make_report(settings: Settings, record: dict, seeds: int, report_dir: Path, img_dir: Path,
                out_dir: Path | None, n_sets: int, log=print) -> Path:
    """Run each fold's fitted history (forced; free for the current fold) and write the report."""
    values = {f.name: read_fitted(settings, _out(out_dir, f.output)) for f in settings.folds}
    forced = record_frame(validate(base_config(settings, "forced")))
    tables, frames_current = {}, None
    for f in settings.folds:
        frames = report_ensembles(settings, seeds, values[f.name]) if f.name == settings.current else {
            "forced": run_frames(configure(base_config(settings, "forced"), values[f.name]),
                                 range(REPORT_SEED0, REPORT_SEED0 + seeds))}
        tables[f.name] = moments(frames["forced"], settings.targets, f.fit_until)
        if f.name == settings.current:
            frames_current = frames
    free_table = moments(frames_current["free"], settings.targets, settings.fit_until)
    oos = out_of_sample_2025(frames_current)
    stances = stance_by_year(frames_current["free"], forced)
    habituation = habituation_sensitivity(settings, values[settings.current], forced,
                                          min(seeds, int(settings.free_mode["habituation_seeds"])))
    figures = {"targets": plot_targets(tables, settings, img_dir / "calibration_targets.png"),
               "timeseries": plot_timeseries(frames_current, settings, forced, img_dir / "calibration_history.png")}
    path = write_report(settings, record, tables, free_table, oos, stances, values, report_dir, figures, seeds,
                        n_sets, habituation)
    log(f"wrote {path} and {', '.join(str(p) for p in figures.values())}")
    return path


def _out(out_dir: Path | None, path: Path) -> Path:
    return path if out_dir is None else out_dir / path.name


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m experiments.calibrate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny budget: checks the pipeline, not a real fit")
    ap.add_argument("--report-only", action="store_true", help="skip the fit; report on the fitted configs")
    ap.add_argument("--settings", type=Path, default=SETTINGS_PATH, help="calibration settings file")
    ap.add_argument("--out-dir", type=Path, default=None, help="folder for the fitted configs and the ensemble "
                    "(default: the settings' outputs, used by the history scenario)")
    ap.add_argument("--only", default=None, help="refit only this fold (from the previous fold's written "
                    "values); the other folds keep their written configs")
    ap.add_argument("--report-dir", type=Path, default=ROOT / "docs", help="folder of calibration.md")
    ap.add_argument("--img-dir", type=Path, default=None, help="folder of the figures (default REPORT_DIR/img)")
    args = ap.parse_args(argv)

    def work() -> None:
        settings = load_settings(args.settings)
        budget = settings.search["quick" if args.quick else "full"]
        img_dir = args.img_dir or args.report_dir / "img"
        trace_path = args.report_dir / "calibration_fit.json"
        ens_path = _out(args.out_dir, ROOT / settings.ensemble["output"])
        record: dict = {}
        n_sets = 0
        if args.report_only:
            if trace_path.exists():
                record = json.loads(trace_path.read_text())
        else:
            print(f"fitting {len(settings.parameters)} parameters by rolling origin over "
                  f"{len(settings.folds)} folds ({'quick' if args.quick else 'full'} budget)")
            start = None
            if args.only is not None:
                names = [f.name for f in settings.folds]
                if args.only not in names:
                    raise ConfigError(f"--only: {args.only!r} is not a fold; allowed: {', '.join(names)}")
                if trace_path.exists():
                    record = json.loads(trace_path.read_text())
                k = names.index(args.only)
                start = read_fitted(settings, _out(args.out_dir, settings.folds[k - 1].output)) if k else None
                if start:
                    start = {p.path: start[p.path] for p in settings.parameters}
            for fold in settings.folds:
                if args.only is not None and fold.name != args.only:
                    continue
                result = fit_fold(settings, fold, start, quick=args.quick)
                free = fit_free_mode(settings, fold, result["values"], quick=args.quick)
                out = _out(args.out_dir, fold.output)
                write_calibrated(settings, result, free, out)
                written = read_fitted(settings, out)  # the values as written (6 digits)
                result["values"] = {p.path: written[p.path] for p in settings.parameters}
                if fold.name == settings.current:
                    sets = accepted_ensemble(settings, result, quick=args.quick)
                    sets[0]["values"] = result["values"]
                    write_ensemble(settings, sets, free["values"], ens_path, args.quick)
                    n_sets = len(sets)
                    print(f"wrote {ens_path}")
                record[fold.name] = {k: v for k, v in result.items() if k not in ("trace", "table", "evaluator")}
                record[fold.name]["free_mode"] = free
                record[fold.name]["table"] = result["table"].to_dict(orient="records")
                start = result["values"]
                print(f"wrote {out}")
            args.report_dir.mkdir(parents=True, exist_ok=True)
            trace_path.write_text(json.dumps(record, indent=2, default=float) + "\n")
        if not n_sets and ens_path.exists():
            n_sets = sum(1 for line in ens_path.read_text().splitlines() if line.startswith("  - distance"))
        make_report(settings, record, int(budget["report_seeds"]), args.report_dir, img_dir, args.out_dir, n_sets)

    return exit_code(work)


if __name__ == "__main__":
    sys.exit(main())
