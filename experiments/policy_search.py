"""Report of the policy search (issue 16): best policies, their trade-off, the named scenarios, robustness.

    python -m experiments.policy_search                # search (or resume it), then report: docs/policy_search.md
    python -m experiments.policy_search --analyse-only # report from the finished search
    python -m experiments.policy_search --quick        # a smoke run of both (tests); its numbers mean nothing

Settings: configs/sensitivity/policy_search.yaml. Steps:

1. *Search*: ``python -m sim -m experiment=policy_search`` (Hydra's Optuna sweeper,
   configs/experiment/policy_search.yaml) with the settings' trials, seeds and months,
   into the settings' folder; a re-run proposes the same trials (same sampler seed) and
   reads finished ones back. Then read Hydra's ``optimization_results.yaml`` (the Pareto
   front of the two objectives) and every trial's runs (the point files).
2. *Chance*: each Pareto policy and the named scenarios (baseline, pressure_first,
   engagement_first) run again on fresh seeds the search never saw.
3. *Fit*: EMA Workbench (``sim.ema_model``) runs the Pareto policies and Pakistan's default
   settings in the same Latin hypercube of uncertain worlds (the sensitivity ranges).
4. *Report*: a Markdown report with tables and three figures.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import subprocess
import sys
import textwrap
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from omegaconf import OmegaConf

import sim
from experiments.calibrate import _md_table
from experiments.scenarios import exit_code, save_figure
from sim.analysis.ema import ema_name, lever_space
from sim.config import ConfigError
from sim.sweeps.aggregate import AggregateError, load_table
from sim.sweeps.objective import parse_objectives

with warnings.catch_warnings():  # the workbench warns on import about an optional cluster backend not used here
    warnings.filterwarnings("ignore", message="ipyparallel not installed", category=UserWarning)
    from ema_workbench import Sample, SequentialEvaluator

ROOT = Path(__file__).resolve().parents[1]
SETTINGS_PATH = ROOT / "configs" / "sensitivity" / "policy_search.yaml"
EXPERIMENT_PATH = ROOT / "configs" / "experiment" / "policy_search.yaml"
SEARCH_FILE = "search.json"   # the settings the search in a folder was run with (written before it starts)
PROGRESS_EVERY_SECONDS = 30   # how often a running search's progress is printed (not a model parameter)
THAW, DEATHS = "mean_thaw_duration", "mean_monthly_fatalities"
Z95 = 1.96  # normal quantile of a 95% interval of a mean (not a model parameter)
DEFAULT_POLICY = "default settings"


def _log(message: str) -> None:
    print(message, flush=True)


# ----------------------------------------------------------------------------- settings
def _merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _whole(value: Any, where: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or float(value) != int(value) or value < low:
        raise ConfigError(f"{where}: {value!r} is not allowed; give a whole number >= {low}")
    return int(value)


def load_settings(path: Path = SETTINGS_PATH, quick: bool = False, changes: dict | None = None) -> dict:
    """The report's settings, checked (one-line ``ConfigError`` naming a bad entry)."""
    if not Path(path).is_file():
        raise ConfigError(f"policy report settings: {path} does not exist")
    raw = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    if quick:
        raw = _merge(raw, raw.get("quick") or {})
    raw = _merge(raw, changes or {})
    where = "policy_search"
    for key in ("search_dir", "report_dir", "search", "fresh_seeds", "first_fresh_seed", "compare", "robustness"):
        if key not in raw:
            raise ConfigError(f"{where}.{key}: missing; see {SETTINGS_PATH.relative_to(ROOT)}")
    search = dict(raw["search"] or {})
    overrides = search.get("overrides") or []
    if not isinstance(overrides, list) or not all(isinstance(o, str) and "=" in o for o in overrides):
        raise ConfigError(f"{where}.search.overrides: {overrides!r} is not allowed; give a list of key=value strings")
    out = {"search_dir": ROOT / str(raw["search_dir"]), "report_dir": ROOT / str(raw["report_dir"]), "quick": quick,
           "search": {"trials": _whole(search.get("trials"), f"{where}.search.trials", 2),
                      "replicates": _whole(search.get("replicates"), f"{where}.search.replicates", 1),
                      "months": None if search.get("months") is None else
                      _whole(search.get("months"), f"{where}.search.months", 1),
                      "overrides": list(overrides)},
           "fresh_seeds": _whole(raw["fresh_seeds"], f"{where}.fresh_seeds", 2),
           "first_fresh_seed": _whole(raw["first_fresh_seed"], f"{where}.first_fresh_seed", 0)}
    names = sim.config.scenario_names()
    compare = list(raw["compare"] or [])
    for name in compare:
        if name not in names:
            raise ConfigError(f"{where}.compare: unknown scenario {name!r}; allowed: {', '.join(names)}")
    out["compare"] = compare
    rob = dict(raw["robustness"] or {})
    out["robustness"] = {k: _whole(rob.get(k), f"{where}.robustness.{k}", low)
                         for k, low in (("worlds", 2), ("seeds", 1), ("sampling_seed", 0))}
    return out


# ------------------------------------------------------------------------- the search
def search_command(settings: dict, folder: Path) -> list[str]:
    """The multirun that runs (or resumes) the search into ``folder``."""
    s = settings["search"]
    return [sys.executable, "-m", "sim", "-m", "experiment=policy_search", "hydra/sweeper=optuna",
            f"hydra.sweeper.n_trials={s['trials']}", f"sweep.replicates={s['replicates']}",
            *([f"months={s['months']}"] if s["months"] is not None else []), *s["overrides"],
            f"hydra.sweep.dir={folder}"]


def run_search(settings: dict, log=_log) -> float:
    """Run the search (finished trials are read back); its output goes to ``search.log``. Returns seconds."""
    folder = settings["search_dir"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SEARCH_FILE).write_text(json.dumps(settings["search"], indent=1) + "\n")
    cmd = search_command(settings, folder)
    trials = settings["search"]["trials"]
    log(f"searching: {trials} trials x {settings['search']['replicates']} seeds; log: {folder / 'search.log'}")
    start = last = time.perf_counter()
    with open(folder / "search.log", "w") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, text=True)
        while proc.poll() is None:
            time.sleep(1.0)
            if time.perf_counter() - last >= PROGRESS_EVERY_SECONDS:
                last = time.perf_counter()
                done = sum(1 for _ in (folder / "points").glob("*.parquet")) if (folder / "points").is_dir() else 0
                log(f"  {done}/{trials} trials done [{last - start:.0f} s]")
    text = (folder / "search.log").read_text().splitlines()
    if proc.returncode != 0:
        errors = [line for line in text if line.startswith("error: ")] or text[-1:] or ["(no output)"]
        raise ConfigError(f"the search stopped ({errors[-1].removeprefix('error: ')}); see {folder / 'search.log'}")
    seconds = time.perf_counter() - start
    log(f"search done [{seconds:.0f} s]")
    return seconds


def _split_overrides(lines: list[str]) -> tuple[str, dict[str, Any]]:
    """A search's extra overrides as (scenario, other settings by config path)."""
    scenario, values = "baseline", {}
    for line in lines:
        key, _, text = line.partition("=")
        value = yaml.safe_load(text) if text.strip() else ""
        if key.lstrip("+") == "scenario":
            scenario = str(value)
        else:
            values[key.lstrip("+")] = value
    return scenario, values


@dataclass
class Search:
    folder: Path
    scenario: str
    months: int | None
    extra: dict[str, Any]       # the search's further settings (e.g. start), applied to every re-run too
    start: str | None
    replicates: int
    base_seed: int
    n_trials: int
    sampler: dict
    directions: list[str]
    levers: list[dict]          # key, label, unit, low, high, kind (from the experiment and its search space)
    trials: pd.DataFrame        # one row per trial: lever values, objective means over its ok runs, runs
    pareto: pd.DataFrame        # the trials on Hydra's Pareto front, fewest deaths first, named P1, P2, ...
    failed_runs: int


def read_search(folder: Path) -> Search:
    """The finished search in ``folder``: its settings, trials and Pareto front."""
    if not (folder / SEARCH_FILE).is_file():
        raise ConfigError(f"{folder}: no policy search run by this command here; run python -m experiments.policy_search")
    ran = json.loads((folder / SEARCH_FILE).read_text())
    cfg = OmegaConf.load(EXPERIMENT_PATH)
    scenario, extra = _split_overrides(ran["overrides"])
    results_path = folder / "optimization_results.yaml"
    if not results_path.is_file():
        raise ConfigError(f"{results_path}: missing; the search did not finish (run it again: finished trials are kept)")
    results = OmegaConf.to_container(OmegaConf.load(results_path))
    objectives = parse_objectives(OmegaConf.to_container(cfg.sweep.objectives))
    if [name for name, _ in objectives] != [THAW, DEATHS]:
        raise ConfigError(f"sweep.objectives: this report reads the two objectives {THAW}, -{DEATHS}; "
                          f"the search in {folder} had {[n for n, _ in objectives]}")
    space = lever_space()
    levers = []
    for entry in OmegaConf.to_container(cfg.experiment.levers):
        kind, *rng = space[entry["key"]]
        levers.append({**entry, "kind": kind, "low": rng[0], "high": rng[1]})
    keys = [lv["key"] for lv in levers]
    try:
        table = load_table(folder)
    except AggregateError as exc:
        raise ConfigError(f"{folder}: cannot read the trials' point files ({exc})") from None
    ok = table[table["status"] == "ok"]
    if ok.empty:
        errors = table["error"].dropna()
        raise ConfigError(f"{folder}: every run of the search failed (first error: "
                          f"{errors.iloc[0] if len(errors) else 'none recorded'}); see {folder / 'search.log'}")
    trials = table.groupby(keys)["status"].size().rename("runs").to_frame()
    trials = trials.join(ok.groupby(keys)[[THAW, DEATHS, "share_engaged"]].mean())
    trials = trials.join(ok.groupby(keys)[THAW].apply(lambda s: float(s.isna().mean())).rename("no_thaw_share"))
    trials = trials.reset_index()
    pareto_rows = []
    for solution in results.get("solutions") or [{"params": results["best_params"], "values": [results["best_value"]]}]:
        match = np.ones(len(trials), dtype=bool)
        for key in keys:
            match &= np.isclose(trials[key].astype(float), float(solution["params"][key]), rtol=1e-9, atol=1e-12)
        if match.sum() != 1:
            raise ConfigError(f"{results_path}: a solution matches {int(match.sum())} trials' point files; "
                              "the folder holds points of another search")
        pareto_rows.append(trials[match].iloc[0])
    pareto = pd.DataFrame(pareto_rows).drop_duplicates(subset=keys).sort_values(DEATHS).reset_index(drop=True)
    pareto.insert(0, "policy", [f"P{i + 1}" for i in range(len(pareto))])
    config = sim.load_config(scenario, 0, ran["months"], extra)
    return Search(folder=folder, scenario=scenario, months=ran["months"], extra=extra,
                  start=getattr(config, "start", None), replicates=int(ran["replicates"]), base_seed=0,
                  n_trials=int(ran["trials"]),
                  sampler={k: v for k, v in OmegaConf.to_container(cfg.hydra.sweeper.sampler).items()
                           if k in ("_target_", "seed", "n_startup_trials")},
                  directions=list(OmegaConf.to_container(cfg.hydra.sweeper.direction)), levers=levers,
                  trials=trials, pareto=pareto, failed_runs=int((table["status"] != "ok").sum()))


def policy_overrides(search: Search, row: pd.Series) -> dict[str, Any]:
    """A trial's lever values as config overrides (whole numbers where the lever is whole)."""
    return {lv["key"]: int(round(float(row[lv["key"]]))) if lv["kind"] == "integer" else float(row[lv["key"]])
            for lv in search.levers}


# ------------------------------------------------------------------------------ chance
def fresh_runs(scenario: str, months: int | None, overrides: dict | None, seeds: range) -> dict[str, float]:
    """Mean and 95% interval half-width of both objectives over fresh seeds, and the share of runs without a thaw."""
    thaw, deaths, engaged = [], [], []
    for seed in seeds:
        m = sim.pattern_metrics(sim.run(scenario, seed, months, overrides))
        thaw.append(m[THAW])
        deaths.append(m[DEATHS])
        engaged.append(m["share_engaged"])
    thaw, deaths = np.array(thaw), np.array(deaths)
    defined = thaw[~np.isnan(thaw)]

    def half(values: np.ndarray) -> float:
        return float(Z95 * values.std(ddof=1) / math.sqrt(values.size)) if values.size > 1 else float("nan")

    return {THAW: float(defined.mean()) if defined.size else float("nan"), f"{THAW}_ci": half(defined),
            DEATHS: float(deaths.mean()), f"{DEATHS}_ci": half(deaths), "share_engaged": float(np.mean(engaged)),
            "no_thaw_share": float(np.isnan(thaw).mean()), "runs": len(thaw)}


def chance_check(search: Search, settings: dict, log=_log) -> pd.DataFrame:
    """Every Pareto policy and every named scenario on the same fresh seeds."""
    seeds = range(settings["first_fresh_seed"], settings["first_fresh_seed"] + settings["fresh_seeds"])
    rows = []
    for _, row in search.pareto.iterrows():
        rows.append({"name": row["policy"], "kind": "Pareto policy",
                     **fresh_runs(search.scenario, search.months, {**search.extra, **policy_overrides(search, row)},
                                  seeds)})
    for name in settings["compare"]:
        rows.append({"name": name, "kind": "named scenario",
                     **fresh_runs(name, search.months, dict(search.extra) or None, seeds)})
    log(f"  chance: {len(rows)} policies and scenarios x {len(seeds)} fresh seeds")
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------- fit
def default_levers(search: Search) -> dict[str, Any]:
    """Pakistan's default settings of the searched levers, in the searched scenario."""
    config = sim.load_config(search.scenario, 0, search.months, dict(search.extra) or None)
    return {lv["key"]: getattr(config.pakistan, lv["key"].split(".", 1)[1]) for lv in search.levers}


def robustness(search: Search, settings: dict, log=_log) -> pd.DataFrame:
    """EMA Workbench: the Pareto policies and the default settings in the same uncertain worlds.

    One row per (world, policy): the world's id, the policy, both objectives (means over the seeds).
    """
    rob = settings["robustness"]
    model = sim.ema_model(search.scenario, months=search.months, seeds=rob["seeds"],
                          base_seed=settings["first_fresh_seed"], overrides=dict(search.extra) or None)
    lever_names = {p.variable_name[0]: p.name for p in model.levers}
    policies = [Sample(str(row["policy"]), **{lever_names[k]: v for k, v in policy_overrides(search, row).items()})
                for _, row in search.pareto.iterrows()]
    policies.append(Sample(DEFAULT_POLICY, **{lever_names[k]: v for k, v in default_levers(search).items()}))
    with SequentialEvaluator(model) as evaluator:
        experiments, outcomes = evaluator.perform_experiments(
            scenarios=rob["worlds"], policies=policies, uncertainty_sampling_kwargs={"rng": rob["sampling_seed"]})
    log(f"  fit: {len(policies)} policies x {rob['worlds']} worlds x {rob['seeds']} seeds through EMA Workbench")
    return pd.DataFrame({"world": experiments["scenario"].astype(str), "policy": experiments["policy"].astype(str),
                         THAW: outcomes[THAW], DEATHS: outcomes[DEATHS]})


def robustness_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per policy: median and 10-90% of both objectives across worlds, and how often it beats the default settings."""
    base = frame[frame["policy"] == DEFAULT_POLICY].set_index("world")
    rows = []
    for policy, part in frame.groupby("policy", sort=False):
        part = part.set_index("world")
        paired = part.merge(base, left_index=True, right_index=True, suffixes=("", "_default"))
        thaw_gain = paired[THAW].fillna(0.0) - paired[f"{THAW}_default"].fillna(0.0)  # no thaw = 0 months held
        death_gain = paired[f"{DEATHS}_default"] - paired[DEATHS]
        rows.append({"policy": policy,
                     "thaw_median": float(part[THAW].median()), "thaw_p10": float(part[THAW].quantile(0.1)),
                     "thaw_p90": float(part[THAW].quantile(0.9)),
                     "deaths_median": float(part[DEATHS].median()), "deaths_p10": float(part[DEATHS].quantile(0.1)),
                     "deaths_p90": float(part[DEATHS].quantile(0.9)),
                     "longer_thaw_share": float((thaw_gain > 0).mean()),
                     "fewer_deaths_share": float((death_gain > 0).mean()),
                     "both_share": float(((thaw_gain > 0) & (death_gain > 0)).mean())})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- figures
MARKERS = {"baseline": ("*", "#222222"), "pressure_first": ("^", "#c0392b"), "engagement_first": ("D", "#1e8449")}
PARETO_COLOUR, TRIAL_COLOUR = "#1f5fa8", "#bbbbbb"


def spread_labels(ys: np.ndarray, min_gap: float) -> np.ndarray:
    """Label heights near ``ys`` with at least ``min_gap`` between any two, in the order of ``ys``.

    Sorted by height, each label is pushed up to clear the one below; the group is then
    shifted down so its labels sit, on average, where their points are.
    """
    ys = np.asarray(ys, dtype=float)
    if len(ys) < 2:
        return ys.copy()
    order = np.argsort(ys, kind="stable")
    placed = ys[order].copy()
    for i in range(1, len(placed)):
        placed[i] = max(placed[i], placed[i - 1] + min_gap)
    placed -= (placed - ys[order]).mean()
    out = np.empty_like(placed)
    out[order] = placed
    return out


def plot_tradeoff(search: Search, chance: pd.DataFrame, path: Path) -> Path:
    """Every trial, the Pareto front, and the fresh-seed estimates with the named scenarios."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 8.5))
    ax = fig.add_subplot()
    ax.scatter(search.trials[DEATHS], search.trials[THAW], s=40, color=TRIAL_COLOUR,
               label=f"every trial ({len(search.trials)}; {search.replicates} search seeds each)")
    front = search.pareto.sort_values(DEATHS)
    ax.plot(front[DEATHS], front[THAW], "-o", color=PARETO_COLOUR, ms=9, lw=2,
            label="Pareto front on the search seeds")
    fresh = chance[chance["kind"] == "Pareto policy"]
    ax.errorbar(fresh[DEATHS], fresh[THAW], xerr=fresh[f"{DEATHS}_ci"], yerr=fresh[f"{THAW}_ci"], fmt="s",
                mfc="white", mec=PARETO_COLOUR, ecolor=PARETO_COLOUR, ms=10, mew=2, capsize=4,
                label="the same policies on fresh seeds (95% interval)")
    ax.autoscale_view()
    low, high = ax.get_ylim()
    label_ys = spread_labels(fresh[THAW].fillna(low).to_numpy(dtype=float), 0.05 * (high - low))
    label_x = float(np.nanmax(fresh[DEATHS] + fresh[f"{DEATHS}_ci"])) + 0.03 * float(np.subtract(*ax.get_xlim()[::-1]))
    for (_, row), y in zip(fresh.iterrows(), label_ys):  # (labels in a column right of the policies, spread apart)
        ax.annotate(row["name"], (row[DEATHS], row[THAW]), xytext=(label_x, y), textcoords="data", fontsize=13,
                    color=PARETO_COLOUR, ha="left", va="center",
                    arrowprops={"arrowstyle": "-", "color": PARETO_COLOUR, "lw": 0.8, "shrinkA": 0, "shrinkB": 6})
    for _, row in chance[chance["kind"] == "named scenario"].iterrows():
        marker, colour = MARKERS.get(row["name"], ("X", "#7d3c98"))
        ax.errorbar(row[DEATHS], row[THAW], xerr=row[f"{DEATHS}_ci"], yerr=row[f"{THAW}_ci"], fmt=marker,
                    color=colour, ms=14, capsize=4, label=f"scenario {row['name']} (fresh seeds)")
    ax.set_xlabel("mean monthly fatalities, all victims (fewer is better)", fontsize=15)
    ax.set_ylabel("mean thaw duration, months (longer is better)", fontsize=15)
    ax.tick_params(labelsize=13)
    ax.grid(alpha=0.3)
    ax.set_title(textwrap.fill(f"Pakistan's policy settings: longest thaw against fewest deaths "
                               f"({search.n_trials} trials, scenario '{search.scenario}')", 70), fontsize=16)
    ax.legend(fontsize=12, loc="upper center", bbox_to_anchor=(0.5, -0.11), ncol=2, frameon=False)
    return save_figure(fig, path)


def plot_levers(search: Search, defaults: dict[str, Any], path: Path) -> Path:
    """Parallel coordinates: each Pareto policy's settings within each lever's range, and the defaults."""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    levers = search.levers
    xs = np.arange(len(levers))
    fig = Figure(figsize=(14, 7.5))
    ax = fig.add_subplot()
    thaws = search.pareto[THAW].dropna()
    norm = Normalize(vmin=float(thaws.min()) if len(thaws) else 0.0, vmax=float(thaws.max()) + 1e-9 if len(thaws) else 1.0)
    cmap = colormaps["viridis"]

    def position(key: str, value: float) -> float:
        lv = next(lv for lv in levers if lv["key"] == key)
        return (float(value) - lv["low"]) / (lv["high"] - lv["low"])

    ends = [position(levers[-1]["key"], v) for v in search.pareto[levers[-1]["key"]]]
    label_ys = spread_labels(np.array(ends, dtype=float), 0.06)  # (policies ending close together stay readable)
    for (_, row), label_y in zip(search.pareto.iterrows(), label_ys):
        ys = [position(lv["key"], row[lv["key"]]) for lv in levers]
        colour = cmap(norm(row[THAW])) if np.isfinite(row[THAW]) else "#888888"  # grey: no thaw in any search seed
        ax.plot(xs, ys, "-o", color=colour, lw=2.2, ms=7)
        ax.annotate(row["policy"], (xs[-1], ys[-1]), xytext=(xs[-1] + 0.12, label_y), textcoords="data",
                    fontsize=12, va="center", color=colour,
                    arrowprops={"arrowstyle": "-", "color": colour, "lw": 0.8, "shrinkA": 0, "shrinkB": 4})
    ax.plot(xs, [position(k, v) for k, v in defaults.items()], "--s", color="black", lw=2, ms=7,
            label="Pakistan's default settings")
    ax.set_xticks(xs, [f"{textwrap.fill(lv['label'], 16)}\n{lv['low']:g} – {lv['high']:g}" for lv in levers],
                  fontsize=11)
    ax.set_yticks([0, 0.5, 1], ["low end", "middle", "high end"], fontsize=12)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlim(-0.3, len(levers) - 0.4)
    ax.grid(axis="x", alpha=0.4)
    bar = fig.colorbar(_mappable(cmap, norm), ax=ax, pad=0.06)
    bar.set_label("mean thaw duration on the search seeds (months)", fontsize=12)
    ax.legend(fontsize=12, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    ax.set_title("What the Pareto policies set: each lever's value within its searched range", fontsize=16)
    return save_figure(fig, path)


def _mappable(cmap, norm):
    from matplotlib.cm import ScalarMappable

    return ScalarMappable(norm=norm, cmap=cmap)


def plot_robustness(frame: pd.DataFrame, path: Path) -> Path:
    """Both objectives of each policy across the uncertain worlds (boxes: 25-75%, whiskers: 10-90%)."""
    from matplotlib.figure import Figure

    policies = list(dict.fromkeys(frame["policy"]))
    fig = Figure(figsize=(13, 1.8 + 0.55 * len(policies)))
    for k, (metric, title) in enumerate(((THAW, "mean thaw duration (months)"),
                                        (DEATHS, "mean monthly fatalities"))):
        ax = fig.add_subplot(1, 2, k + 1)
        data = [frame.loc[frame["policy"] == p, metric].dropna().to_numpy() for p in policies]
        parts = ax.boxplot(data, orientation="horizontal", whis=(10, 90), showfliers=False, patch_artist=True, widths=0.6)
        for patch, p in zip(parts["boxes"], policies):
            patch.set_facecolor("#dddddd" if p == DEFAULT_POLICY else "#9ec3ea")
        ax.set_yticks(range(1, len(policies) + 1), policies if k == 0 else [""] * len(policies), fontsize=12)
        ax.invert_yaxis()
        ax.set_xlabel(title, fontsize=13)
        ax.tick_params(axis="x", labelsize=12)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"Across {frame['world'].nunique()} uncertain worlds (EMA Workbench, sensitivity ranges): "
                 "boxes 25–75%, whiskers 10–90%", fontsize=14)
    return save_figure(fig, path)


# ------------------------------------------------------------------------------- report
def _f(x: float, digits: int = 1) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _pm(mean: float, half: float, digits: int = 1) -> str:
    return f"{_f(mean, digits)} ± {_f(half, digits)}"


def _rel(path: Path, start: Path) -> str:
    try:
        return path.resolve().relative_to(start.resolve()).as_posix()
    except ValueError:
        return str(path)


def _lever_value(lv: dict, value: float) -> str:
    return f"{int(round(value))}" if lv["kind"] == "integer" else f"{value:.3g}"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def _lever_sentence(front: pd.Series, lv: dict, default: float) -> str:
    """How a lever changes along the Pareto front (fewest deaths first) and where it sits against today's default."""
    values = front.astype(float).reset_index(drop=True)
    text = _lower_first(lv["label"])
    if len(values) < 3 or values.nunique() < 2:
        trend = f"is {_lever_value(lv, float(values.iloc[0]))}" if values.nunique() < 2 else \
            f"ranges {_lever_value(lv, float(values.min()))}–{_lever_value(lv, float(values.max()))}"
    else:
        rho = float(values.corr(pd.Series(np.arange(len(values)), dtype=float), method="spearman"))
        ends = (f"from {_lever_value(lv, float(values.iloc[0]))} at the fewest-deaths end to "
                f"{_lever_value(lv, float(values.iloc[-1]))} at the longest-thaw end")
        trend = (f"rises along the front ({ends})" if rho >= 0.6 else f"falls along the front ({ends})"
                 if rho <= -0.6 else f"varies without a clear order along the front "
                 f"({_lever_value(lv, float(values.min()))}–{_lever_value(lv, float(values.max()))})")
    above = int((values > default).sum())
    side = ("always above" if above == len(values) else "always below" if above == 0 and (values < default).all()
            else f"{above} of {len(values)} above")
    return f"{text} {trend}, {side} today's default {_lever_value(lv, float(default))}"


def interpretation(search: Search, chance: pd.DataFrame, robust: pd.DataFrame, defaults: dict) -> list[str]:
    """Plain sentences from the numbers."""
    lines = []
    fresh = chance[chance["kind"] == "Pareto policy"].set_index("name")
    named = chance[chance["kind"] == "named scenario"].set_index("name")
    held = {name: (0.0 if math.isnan(v) else v) for name, v in named[THAW].items()}  # no thaw at all = 0 months held
    fresh_held = fresh[THAW].fillna(0.0)
    longest, fewest = fresh[THAW].idxmax(), fresh[DEATHS].idxmin()
    if longest == fewest:
        lines.append(
            f"- **The trade-off.** On fresh seeds one policy ({longest}) is best on both counts: thaws of "
            f"{_f(fresh.at[longest, THAW])} months at {_f(fresh.at[longest, DEATHS])} deaths a month. The trade-off "
            "the search saw along its front was largely chance of its own seeds.")
    else:
        lines.append(
            f"- **The trade-off.** On fresh seeds the longest-thaw policy ({longest}) holds a thaw "
            f"{_f(fresh.at[longest, THAW])} months on average at {_f(fresh.at[longest, DEATHS])} deaths a month; the "
            f"fewest-deaths policy ({fewest}) costs {_f(fresh.at[fewest, DEATHS])} deaths a month with thaws of "
            f"{_f(fresh.at[fewest, THAW])} months. The front spans "
            f"{_f(fresh[DEATHS].max() - fresh[DEATHS].min())} deaths a month and "
            f"{_f(fresh[THAW].max() - fresh[THAW].min())} months of thaw.")
    if "baseline" in named.index:
        b = named.loc["baseline"]
        both = fresh[(fresh_held > held["baseline"]) & (fresh[DEATHS] < b[DEATHS])]
        lines.append(
            f"- **Against the baseline** ({_f(b[THAW])} months, {_f(b[DEATHS])} deaths a month on the same fresh "
            f"seeds): {len(both)} of {len(fresh)} Pareto policies do better on both counts"
            + (f" ({', '.join(both.index)})" if len(both) else "") + ".")
    for name in ("pressure_first", "engagement_first"):
        if name in named.index:
            r = named.loc[name]
            beaten = fresh[(fresh_held >= held[name]) & (fresh[DEATHS] <= r[DEATHS])]
            lines.append(f"- **{name}** ({_f(r[THAW])} months, {_f(r[DEATHS])} deaths a month): "
                         + (f"beaten on both counts by {', '.join(beaten.index)}." if len(beaten)
                            else "no Pareto policy beats it on both counts."))
    shared = [_lever_sentence(search.pareto[lv["key"]], lv, defaults[lv["key"]]) for lv in search.levers]
    lines.append("- **What the best policies set** (named by the search's own seeds: P1 has the fewest deaths there, "
                 "the last the longest thaw): "
                 + "; ".join(shared) + ".")
    moved = []
    for name, row in fresh.iterrows():
        search_row = search.pareto.set_index("policy").loc[name]
        if abs(row[THAW] - search_row[THAW]) > 2 * max(row[f"{THAW}_ci"], 1e-9) or \
                abs(row[DEATHS] - search_row[DEATHS]) > 2 * max(row[f"{DEATHS}_ci"], 1e-9):
            moved.append(name)
    lines.append(f"- **Chance**: on fresh seeds {len(moved)} of {len(fresh)} Pareto policies moved by more than twice "
                 "their 95% interval from what the search saw" + (f" ({', '.join(moved)})" if moved else "")
                 + "; the search's own numbers flatter its winners (they were chosen on those seeds).")
    rob = robust.set_index("policy")
    pol = rob.drop(index=DEFAULT_POLICY, errors="ignore")
    if len(pol):
        best = pol["both_share"].idxmax()
        lines.append(f"- **Fit**: across the uncertain worlds, {best} beats Pakistan's default settings on both "
                     f"counts in {pol.at[best, 'both_share']:.0%} of the worlds; the Pareto policies hold a longer "
                     f"thaw than the defaults in {_share_span(pol['longer_thaw_share'])} "
                     f"and cost fewer deaths in {_share_span(pol['fewer_deaths_share'])} of them.")
    return lines


def _share_span(shares: pd.Series) -> str:
    """'73%–93%' of the worlds, or '100%' when every policy has the same share."""
    low, high = f"{shares.min():.0%}", f"{shares.max():.0%}"
    return low if low == high else f"{low}–{high}"


def write_report(search: Search, settings: dict, chance: pd.DataFrame, robust_frame: pd.DataFrame,
                 robust: pd.DataFrame, defaults: dict, images: dict[str, Path], report: Path,
                 seconds: float) -> Path:
    rel = {k: _rel(p, report.parent) for k, p in images.items()}
    months = f"{search.months} months" if search.months else "the scenario's own length"
    start = f", start `{search.start}`" if search.start else ""
    out = [
        "# Which of Pakistan's policy settings hold a thaw longest, and at what cost? A policy search",
        "",
        "*Generated by `python -m experiments.policy_search`" + (" --quick (a smoke run: its numbers mean nothing)"
                                                                  if settings["quick"] else "")
        + f" from the search in `{_rel(search.folder, ROOT)}` and `configs/sensitivity/policy_search.yaml`; "
          "do not edit by hand.*",
        "",
        "The model is a thinking tool, not a forecast. The search asks which settings of *the model's* Pakistan "
        "make *the model's* thaws last and its violence fall; the answers hold for the model's mechanisms and "
        "ranges, not for the real governments.",
        "",
        "## What was done",
        "",
        f"- **Search**: `python -m sim -m experiment=policy_search` (configs/experiment/policy_search.yaml): Hydra's "
        f"Optuna sweeper, sampler `{search.sampler.get('_target_', 'optuna.samplers.TPESampler').rsplit('.', 1)[-1]}` (seed "
        f"{search.sampler.get('seed')}, {search.sampler.get('n_startup_trials')} random trials first), "
        f"**{search.n_trials} trials**, two objectives: maximise `{THAW}` and minimise `{DEATHS}` "
        f"(directions {search.directions}), each the mean over a trial's **{search.replicates} seeds** "
        f"({search.base_seed}..{search.base_seed + search.replicates - 1}, the same for every trial). Scenario "
        f"`{search.scenario}`, {months}{start}. Failed runs: {search.failed_runs}."
        + (" From today each run first replays the record (2021–2025) and each seed draws one of the calibrated "
           "parameter sets (`params_draw`), so the record's fit is part of the chance between seeds; the levers act "
           "from the hand-over month on." if search.start == "today" else ""),
        f"- **Levers** ({len(search.levers)}), each searched uniformly over its range:",
        "",
        _md_table(pd.DataFrame([{"lever": f"`{lv['key']}`", "meaning": lv["label"], "unit": lv["unit"],
                                 "range": f"{lv['low']:g} – {lv['high']:g}",
                                 "default": _lever_value(lv, float(defaults[lv['key']]))} for lv in search.levers])),
        "",
        "  Counter-terror intensity is not searched: the model charges nothing for it, so a search would simply "
        "turn it up.",
        f"- **Chance check**: each Pareto policy and the named scenarios {', '.join(settings['compare'])} ran again on "
        f"{settings['fresh_seeds']} fresh seeds ({settings['first_fresh_seed']}.."
        f"{settings['first_fresh_seed'] + settings['fresh_seeds'] - 1}) the search never saw; ± is a 95% interval of "
        "the mean. A thaw's mean counts the runs that had a thaw; 'no thaw' is the share that had none.",
        f"- **Fit check**: EMA Workbench (`sim.ema_model`) ran the Pareto policies and Pakistan's default settings "
        f"in the same {settings['robustness']['worlds']} uncertain worlds (a Latin hypercube of the sensitivity "
        f"ranges, configs/sensitivity/default.yaml), {settings['robustness']['seeds']} seeds each.",
        f"- The search and checks took {_f(seconds / 60)} min (one process).",
        "",
        "## In short",
        "",
        *interpretation(search, chance, robust, defaults),
        "",
        "## The trade-off",
        "",
        f"![Trade-off]({rel['tradeoff']})",
        "",
        "### The Pareto policies",
        "",
        "No policy on this front holds a thaw longer without costing more deaths than another one on it. Values "
        "on the search seeds, then on the fresh seeds.",
        "",
    ]
    fresh = chance[chance["kind"] == "Pareto policy"].set_index("name")
    rows = []
    for _, row in search.pareto.iterrows():
        f = fresh.loc[row["policy"]]
        rows.append({"policy": row["policy"],
                     **{lv["label"]: _lever_value(lv, float(row[lv["key"]])) for lv in search.levers},
                     "thaw (search)": _f(row[THAW]), "deaths (search)": _f(row[DEATHS]),
                     "thaw (fresh)": _pm(f[THAW], f[f"{THAW}_ci"]), "deaths (fresh)": _pm(f[DEATHS], f[f"{DEATHS}_ci"]),
                     "no thaw": f"{f['no_thaw_share']:.0%}", "engaged": f"{f['share_engaged']:.0%}"})
    out += [_md_table(pd.DataFrame(rows)), "", f"![Levers of the Pareto policies]({rel['levers']})", "",
            "## Compared with the named scenarios", "",
            "The same fresh seeds; the named scenarios run Pakistan's default settings (pressure_first and "
            "engagement_first hold one stance for their first 24 months).", "",
            _md_table(pd.DataFrame([{"policy or scenario": r["name"], "thaw (months)": _pm(r[THAW], r[f"{THAW}_ci"]),
                                     "deaths a month": _pm(r[DEATHS], r[f"{DEATHS}_ci"]),
                                     "share of months engaged": f"{r['share_engaged']:.0%}",
                                     "runs without a thaw": f"{r['no_thaw_share']:.0%}"}
                                    for _, r in chance.iterrows()])), "",
            "## Robust across the model's uncertain parameters?", "",
            "Each policy in the same uncertain worlds; 'beats the defaults' counts the worlds where it does better "
            "than Pakistan's default settings in that same world (a world with no thaw counts as 0 months).", "",
            _md_table(pd.DataFrame([{
                "policy": r["policy"], "thaw median (10–90%)": f"{_f(r['thaw_median'])} ({_f(r['thaw_p10'])}–"
                                                                f"{_f(r['thaw_p90'])})",
                "deaths median (10–90%)": f"{_f(r['deaths_median'])} ({_f(r['deaths_p10'])}–{_f(r['deaths_p90'])})",
                "longer thaw than defaults": "" if r["policy"] == DEFAULT_POLICY else f"{r['longer_thaw_share']:.0%}",
                "fewer deaths": "" if r["policy"] == DEFAULT_POLICY else f"{r['fewer_deaths_share']:.0%}",
                "both": "" if r["policy"] == DEFAULT_POLICY else f"{r['both_share']:.0%}"}
                for _, r in robust.iterrows()])), "",
            f"![Robustness]({rel['robustness']})", "",
            "## What the search cannot tell", "",
            "- **Only what the model contains.** The levers act through the model's mechanisms (docs/ODD.md); "
            "anything it leaves out (economic costs of a closure beyond trade, Pakistan's domestic politics, the "
            "Taliban's answer to a *declared* policy, third states' reactions) is not weighed.",
            "- **Two objectives, not a welfare function.** The front says what each extra month of thaw costs in "
            "deaths within the model; how many deaths a month of thaw is worth is a political judgement the search "
            "does not make. Trade, refugees and relations are not objectives here.",
            f"- **A small search.** {search.n_trials} trials over {len(search.levers)} levers sample the space "
            "thinly; another sampler seed may find another front. The trials' own numbers are means over "
            f"{search.replicates} seeds and flatter the winners; the fresh-seed columns are the fairer estimate.",
            "- **Settings held for ten years.** A policy here is a fixed set of propensities and thresholds; "
            "Pakistan still chooses engage or pressure each month by its own rule. A policy that changes its "
            "settings as the situation changes is not searched.",
            "- **Fit and ranges.** The fit check varies only the sensitivity ranges; parameters outside them are "
            "held at their defaults, and the levers' ranges are choices (stated above).",
            "- **A thaw's mean counts runs that had one** (a trial with no thaw in any seed counts as 0 months): "
            "a policy that often never thaws can look good on `mean_thaw_duration`; the 'no thaw' and 'engaged' "
            "columns show when that happens.",
            "",
            "Data: the search's point files and `optimization_results.yaml` in the search folder; this report's "
            "tables as CSV beside them (`policy_search_*.csv`).", ""]
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("\n".join(out))
    return report


# ---------------------------------------------------------------------------- the command
def run(settings: dict, analyse_only: bool = False, redraw: bool = False, log=_log) -> dict[str, Path]:
    start = time.perf_counter()
    if not (analyse_only or redraw):
        run_search(settings, log)
    search = read_search(settings["search_dir"])
    log(f"search: {len(search.trials)} trials, {len(search.pareto)} on the Pareto front ({search.folder})")
    if redraw:
        saved = [search.folder / f"{name}.csv" for name in ("policy_search_fresh", "policy_search_worlds")]
        if not all(path.is_file() for path in saved):
            raise ConfigError(f"{search.folder}: no saved checks to redraw from; run with --analyse-only")
        chance, robust_frame = (pd.read_csv(path) for path in saved)
        robust_frame[["world", "policy"]] = robust_frame[["world", "policy"]].astype(str)
    else:
        chance = chance_check(search, settings, log)
        robust_frame = robustness(search, settings, log)
    robust = robustness_summary(robust_frame)
    defaults = default_levers(search)
    report_dir = settings["report_dir"]
    img = report_dir / "img"
    images = {"tradeoff": plot_tradeoff(search, chance, img / "policy_search_tradeoff.png"),
              "levers": plot_levers(search, defaults, img / "policy_search_levers.png"),
              "robustness": plot_robustness(robust_frame, img / "policy_search_robustness.png")}
    tables = {"policy_search_trials": search.trials, "policy_search_fresh": chance,
              "policy_search_worlds": robust_frame, "policy_search_robustness": robust}
    paths = {}
    for name, frame in tables.items():
        paths[name] = search.folder / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    timing = search.folder / "policy_search_timing.json"  # how long the checks took, kept for --redraw
    if not redraw:
        timing.write_text(json.dumps({"seconds": time.perf_counter() - start}) + "\n")
    seconds = json.loads(timing.read_text())["seconds"] if timing.is_file() else float("nan")
    report = write_report(search, settings, chance, robust_frame, robust, defaults, images,
                          report_dir / "policy_search.md", seconds)
    return {"report": report, **images, **paths}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m experiments.policy_search", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a smoke run at a tiny size (the settings' quick: section)")
    ap.add_argument("--analyse-only", action="store_true", help="no search: check and report the finished search")
    ap.add_argument("--redraw", action="store_true", help="no runs at all: redraw the report from the saved checks")
    ap.add_argument("--search-dir", type=Path, help="the search's folder (default: the settings' search_dir)")
    ap.add_argument("--report-dir", type=Path, help="where policy_search.md and img/ go (default: docs/)")
    ap.add_argument("--fresh-seeds", type=int, help="fresh seeds per policy and scenario")
    ap.add_argument("--settings", type=Path, default=SETTINGS_PATH, help="settings file")
    args = ap.parse_args(argv)

    def work() -> None:
        changes: dict[str, Any] = {}
        if args.fresh_seeds is not None:
            changes["fresh_seeds"] = args.fresh_seeds
        settings = load_settings(args.settings, quick=args.quick, changes=changes)
        if args.search_dir is not None:
            settings["search_dir"] = args.search_dir.resolve()
        if args.report_dir is not None:
            settings["report_dir"] = args.report_dir.resolve()
        start = time.perf_counter()
        paths = run(settings, args.analyse_only, args.redraw)
        print(f"wrote {paths['report']} and {len(paths) - 1} more files [{time.perf_counter() - start:.0f} s]")

    return exit_code(work)


if __name__ == "__main__":
    sys.exit(main())
