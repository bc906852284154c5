"""Compare scenarios: the effect of a policy against another, with honest uncertainty.

A comparison runs a reference scenario A and one or more scenarios B on the same seeds
(common random numbers: whatever the policy does not touch draws the same random
numbers in A and B, so the paired difference is mostly the policy's effect, not
chance) and reports, for each headline total and each pattern metric
(``sim.analysis.metrics``):

    metric, a_mean, b_mean, effect (= b_mean - a_mean), low, high

where ``[low, high]`` is the paired bootstrap interval of the effect over seeds
(``configs/compare/default.yaml``: level, resamples, method and a fixed bootstrap seed,
so the same runs always give the same interval), followed by ``sign_clear`` (the
interval excludes zero), ``n_pairs``, ``width``, ``target_width``, ``seeds_for_width``
and a ``note`` when the interval straddles zero. The seeds-needed estimate and the
target width are explained in that config file and in docs/compare.md.

Scenarios ("arms") are spelled

- ``"baseline"``: a named scenario (``configs/scenario/NAME.yaml``);
- ``"baseline+pakistan.tolerance=100+mediators.strength_scale=2"``: a named scenario
  with overrides joined by ``+`` (each value in Hydra's command-line syntax);
- ``("baseline", {"pakistan.tolerance": 100})``: the same from Python.

Overrides given for the whole comparison apply to every arm; an arm's own overrides win.
Everything is checked (names, overrides, seeds, months) before any run starts, with a
one-line ``ConfigError``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import OverrideType
from hydra.errors import HydraException
from omegaconf import OmegaConf
from scipy import stats

from sim.analysis.metrics import METRIC_NAMES, REQUIRED_COLUMNS, pattern_metrics
from sim.config import CONFIG_DIR, Config, ConfigError, bounded, build, load_config
from sim.sweeps.cached_runs import config_key, run_frames

SETTINGS_PATH = CONFIG_DIR / "compare" / "default.yaml"

# Headline totals of a run, computed from its frame (name -> unit).
HEADLINE_TOTALS: dict[str, str] = {
    "months_engaged": "months with Pakistan engaged",
    "total_deaths": "fatalities over the run",
    "total_returns": "people returned to Afghanistan over the run",
    "total_trade": "USD million over the run",
}
METRICS: tuple[str, ...] = (*HEADLINE_TOTALS, *METRIC_NAMES)
EFFECT_COLUMNS = ("metric", "a_mean", "b_mean", "effect", "low", "high", "sign_clear", "n_pairs", "width",
                  "target_width", "seeds_for_width", "note")

# Frame columns a comparison keeps of each run: the pattern metrics' inputs, the totals'
# inputs and the month-by-month fields of the figure.
FRAME_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys((
    "date", *REQUIRED_COLUMNS, "trade", "returns_voluntary", "returns_forced", "refugees_in_pakistan")))

# Keys a comparison sets itself, so an override may not.
RESERVED_KEYS = {"scenario": "give the scenario as NAME, not as an override",
                 "seed": "the seeds are the comparison's (--seeds, seeds=...)",
                 "months": "the run length is the comparison's (--months, months=...)"}
_ARM_SPLIT = re.compile(r"\+(?=[A-Za-z_][\w.]*=)")  # "+" that starts another key=value


# ------------------------------------------------------------------------- settings
@dataclass(kw_only=True)
class CompareSettings:
    """Analysis settings of comparisons; values and meaning in configs/compare/default.yaml."""

    seeds: int = bounded(1, 1_000_000)
    out: str
    bootstrap_resamples: int = bounded(100, 1_000_000)
    bootstrap_method: Literal["BCa", "percentile"]
    confidence: float = bounded(0.5, 0.999)
    bootstrap_seed: int = bounded(0, 2**32 - 1)
    min_pairs: int = bounded(2, 1000)
    power: float = bounded(0.5, 0.99)
    independent_seed_offset: int = bounded(1, 2**62)
    band_low: float = bounded(0.0, 50.0)
    band_high: float = bounded(50.0, 100.0)
    forest_metrics: list[str]


def load_settings(path: str | Path | None = None) -> CompareSettings:
    """The comparison settings (default: configs/compare/default.yaml), checked."""
    data = OmegaConf.to_container(OmegaConf.load(path or SETTINGS_PATH), resolve=True)
    settings = build(CompareSettings, data, "compare")
    unknown = [m for m in settings.forest_metrics if m not in METRICS]
    if unknown:
        raise ConfigError(f"compare.forest_metrics: unknown metric {unknown[0]!r}; allowed: {', '.join(METRICS)}")
    return settings


# ----------------------------------------------------------------------------- arms
@dataclass
class Arm:
    """One side of a comparison: a named scenario and its own overrides."""

    scenario: str
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.scenario + "".join(f"+{k}={_format_value(v)}" for k, v in self.overrides.items())


def _format_value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def parse_overrides(overrides: Mapping[str, Any] | Iterable[str] | None) -> dict[str, Any]:
    """Overrides as a mapping of config path to value (``key=value`` texts in Hydra syntax)."""
    if overrides is None:
        return {}
    if isinstance(overrides, str):
        overrides = [overrides]
    if isinstance(overrides, Mapping):
        items = [(str(k), v) for k, v in overrides.items()]
    else:
        items = [_parse_override_text(str(text)) for text in overrides]
    for key, _ in items:
        if key in RESERVED_KEYS:
            raise ConfigError(f"{key}: not allowed as an override here; {RESERVED_KEYS[key]}")
    return dict(items)


def _parse_override_text(text: str) -> tuple[str, Any]:
    try:
        parsed = OverridesParser.create().parse_override(text)
    except HydraException:
        raise ConfigError(f"overrides: {text!r} is not key=value (e.g. pakistan.tolerance=100)") from None
    key = parsed.key_or_group
    if parsed.type != OverrideType.CHANGE or parsed.package is not None:
        raise ConfigError(f"{key}: only key=value of an existing parameter is allowed here, not {text!r}")
    if parsed.is_sweep_override():
        raise ConfigError(f"{key}: one value per scenario; give each value as its own scenario (NAME+{key}=VALUE)")
    return key, parsed.value()


def parse_arm(spec: Arm | str | tuple | list) -> Arm:
    """An arm from ``"NAME"``, ``"NAME+key=value+..."`` or ``(NAME, {key: value})``."""
    if isinstance(spec, Arm):
        return Arm(spec.scenario, dict(spec.overrides))
    if isinstance(spec, (tuple, list)) and len(spec) == 2 and isinstance(spec[0], str):
        base = parse_arm(spec[0])
        return Arm(base.scenario, {**base.overrides, **parse_overrides(spec[1])})
    if not isinstance(spec, str):
        raise ConfigError(f"scenario: expected NAME, 'NAME+key=value' or (NAME, {{key: value}}), got {spec!r}")
    name, *texts = _ARM_SPLIT.split(spec.strip())
    if not name or "=" in name or "+" in name:
        raise ConfigError(f"scenario: {spec!r} is not a scenario; write NAME or NAME+key=value (e.g. baseline+pakistan.tolerance=100)")
    return Arm(name, parse_overrides(texts))


def check_seeds(seeds: int | Iterable[int] | None, settings: CompareSettings) -> list[int]:
    """The seeds of a comparison: a count N (seeds 0..N-1) or a list of distinct seeds >= 0."""
    if seeds is None:
        seeds = settings.seeds
    if isinstance(seeds, (bool, np.bool_)):
        raise ConfigError(f"seeds: {seeds!r} is not allowed; give a number of seeds >= 1 or a list of seeds >= 0")
    if isinstance(seeds, (int, np.integer)):
        if seeds < 1:
            raise ConfigError(f"seeds: {int(seeds)} is not allowed; give a number of seeds >= 1")
        return list(range(int(seeds)))
    if isinstance(seeds, str) or not isinstance(seeds, Iterable):
        raise ConfigError(f"seeds: {seeds!r} is not allowed; give a number of seeds >= 1 or a list of seeds >= 0")
    out = list(seeds)
    if not out:
        raise ConfigError("seeds: the list is empty; give at least one seed")
    limit = 2**63 - 1 - settings.independent_seed_offset
    for s in out:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)) or not 0 <= s <= limit:
            raise ConfigError(f"seeds: {s!r} is not allowed; seeds are whole numbers, 0 <= seed <= {limit}")
    if len(set(out)) != len(out):
        twice = next(s for s in out if out.count(s) > 1)
        raise ConfigError(f"seeds: {int(twice)} is given twice; each seed once (a pair per seed)")
    return [int(s) for s in out]


# -------------------------------------------------------------------------- effects
def run_metrics(frame: pd.DataFrame, metrics_params: Any = None) -> dict[str, float]:
    """Headline totals and pattern metrics of one run (keys: ``METRICS``)."""
    totals = {
        "months_engaged": float((frame["pakistan_stance"] == "engage").sum()),
        "total_deaths": float(frame["deaths_total"].sum()),
        "total_returns": float((frame["returns_voluntary"] + frame["returns_forced"]).sum()),
        "total_trade": float(frame["trade"].sum()),
    }
    return {**totals, **pattern_metrics(frame, metrics_params)}


def paired_interval(diffs: np.ndarray, settings: CompareSettings) -> tuple[float, float]:
    """Bootstrap interval of the mean of paired differences (resampling the pairs)."""
    d = np.asarray(diffs, dtype=float)
    if d.size < settings.min_pairs:
        return math.nan, math.nan
    if np.ptp(d) == 0.0:  # every pair differs by the same amount: no sampling uncertainty left
        return float(d[0]), float(d[0])
    for method in dict.fromkeys((settings.bootstrap_method, "percentile")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # BCa on nearly constant data warns and gives NaN: fall back
            res = stats.bootstrap((d,), np.mean, n_resamples=settings.bootstrap_resamples,
                                  confidence_level=settings.confidence, method=method,
                                  rng=np.random.default_rng(settings.bootstrap_seed))
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isfinite(low) and math.isfinite(high):
            return low, high
    return math.nan, math.nan


def target_width(effect: float, settings: CompareSettings) -> float:
    """Interval width at which a repeat study tells the sign with probability ``power``."""
    z_c = stats.norm.ppf(0.5 + settings.confidence / 2)
    z_p = stats.norm.ppf(settings.power)
    return 2.0 * z_c * abs(effect) / (z_c + z_p)


def seeds_for_width(n_pairs: int, width: float, target: float) -> float:
    """Seeds for an interval of width ``target``: the width shrinks as 1/sqrt(seeds)."""
    if not (n_pairs > 0 and math.isfinite(width) and width > 0 and math.isfinite(target) and target > 0):
        return math.nan
    return float(math.ceil(n_pairs * (width / target) ** 2))


def effects(a: pd.DataFrame, b: pd.DataFrame, settings: CompareSettings) -> pd.DataFrame:
    """Effect table of B against A; ``a`` and ``b`` hold one row per pair (same order), a column per metric.

    A metric undefined (NaN) in either run of a pair leaves that pair out of that metric's row.
    """
    rows = []
    for metric in METRICS:
        x = a[metric].to_numpy(dtype=float)
        y = b[metric].to_numpy(dtype=float)
        ok = np.isfinite(x) & np.isfinite(y)
        n = int(ok.sum())
        d = y[ok] - x[ok]
        a_mean = float(x[ok].mean()) if n else math.nan
        b_mean = float(y[ok].mean()) if n else math.nan
        effect = float(d.mean()) if n else math.nan
        low, high = paired_interval(d, settings)
        sign_clear = bool(low > 0 or high < 0)
        width = high - low
        target = target_width(effect, settings) if n else math.nan
        needed = seeds_for_width(n, width, target)
        rows.append({"metric": metric, "a_mean": a_mean, "b_mean": b_mean, "effect": effect, "low": low,
                     "high": high, "sign_clear": sign_clear, "n_pairs": n, "width": width,
                     "target_width": target, "seeds_for_width": needed,
                     "note": _note(n, d, sign_clear, effect, target, needed, settings)})
    return pd.DataFrame(rows, columns=list(EFFECT_COLUMNS))


def _note(n: int, d: np.ndarray, sign_clear: bool, effect: float, target: float, needed: float,
          settings: CompareSettings) -> str:
    if n < settings.min_pairs:
        return f"defined in {n} pair(s) of runs only: too few for an interval (at least {settings.min_pairs})"
    if sign_clear:
        return ""
    if not np.any(d):
        return "the same in every pair of runs"
    if effect == 0.0:
        return "interval straddles zero and the mean difference is 0: more seeds cannot tell a sign"
    return (f"interval straddles zero: about {int(needed)} seeds would narrow it to width {target:.3g} "
            f"({target / abs(effect):.2f} x |effect|), enough to tell the sign in {settings.power:.0%} of repeat studies")


def monthly_difference(a: np.ndarray, b: np.ndarray, settings: CompareSettings) -> tuple[np.ndarray, ...]:
    """Mean paired difference B - A month by month and its percentile bootstrap interval.

    ``a``, ``b``: arrays of shape (pairs, months). The pairs are resampled as in the
    effect intervals (same resample count, level and bootstrap seed); each resample is
    a multinomial weighting of the pairs, so all months share one set of resamples.
    """
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    n = d.shape[0]
    mean = d.mean(axis=0)
    if n < settings.min_pairs:  # too few pairs for a trustworthy band, as for the effect intervals
        return mean, np.full_like(mean, np.nan), np.full_like(mean, np.nan)
    rng = np.random.default_rng(settings.bootstrap_seed)
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=settings.bootstrap_resamples) / n
    tail = 50.0 * (1.0 - settings.confidence)
    low, high = np.percentile(weights @ d, [tail, 100.0 - tail], axis=0)
    return mean, low, high


# ---------------------------------------------------------------------- comparisons
@dataclass
class Comparison:
    """Arms run on paired seeds, with each run's frame and metrics and the effect of each B against A."""

    arms: list[Arm]
    configs: list[Config]
    seeds: list[int]                  # A's seeds; B's are the same (or offset when independent)
    independent: bool
    overrides: dict[str, Any]         # applied to every arm
    settings: CompareSettings
    frames: list[list[pd.DataFrame]]  # per arm, per pair
    metrics: list[pd.DataFrame]       # per arm: one row per pair, a column per metric
    effects: list[pd.DataFrame]       # per B (arms[1:]): its effect table against arms[0]
    ran: int = 0                      # runs done now (the rest came from the cache)
    reused: int = 0

    def seeds_of(self, arm_index: int) -> list[int]:
        offset = self.settings.independent_seed_offset if self.independent and arm_index > 0 else 0
        return [s + offset for s in self.seeds]

    def summary(self) -> pd.DataFrame:
        """Every effect table in one, with the two scenarios named in columns ``a`` and ``b``."""
        parts = [t.assign(a=self.arms[0].label, b=arm.label) for arm, t in zip(self.arms[1:], self.effects)]
        table = pd.concat(parts, ignore_index=True)
        return table[["a", "b", *EFFECT_COLUMNS]]

    def record(self, b_index: int | None = None) -> dict[str, Any]:
        """What was compared, for the ``comparison.json`` next to the tables."""
        arms = self.arms if b_index is None else [self.arms[0], self.arms[b_index]]
        configs = self.configs if b_index is None else [self.configs[0], self.configs[b_index]]
        return {
            "scenarios": [{"label": a.label, "scenario": a.scenario, "overrides": a.overrides,
                           "config_key": config_key(c)} for a, c in zip(arms, configs)],
            "overrides_for_all": self.overrides,
            "months": self.configs[0].n_months,
            "start_date": self.configs[0].scenario.start_date,
            "seeds": self.seeds,
            "common_random_numbers": not self.independent,
            "independent_seed_offset": self.settings.independent_seed_offset if self.independent else None,
            "bootstrap": {"method": self.settings.bootstrap_method, "resamples": self.settings.bootstrap_resamples,
                          "confidence": self.settings.confidence, "seed": self.settings.bootstrap_seed},
            "power": self.settings.power,
        }


def prepare(scenarios: Iterable, months: int | None = None, overrides: Any = None) -> tuple[list[Arm], list[Config], dict]:
    """Parse and validate every arm (nothing runs): arms, their configs and the common overrides."""
    arms = [parse_arm(s) for s in scenarios]
    if len(arms) < 2:
        raise ConfigError("scenarios: give at least two; the first is the reference the others are compared with")
    labels = [a.label for a in arms[1:]]
    twice = next((label for label in labels if labels.count(label) > 1), None)
    if twice is not None:
        raise ConfigError(f"scenarios: {twice} is given twice; name each scenario once after the first")
    common = parse_overrides(overrides)
    configs = [load_config(a.scenario, seed=0, months=months, overrides={**common, **a.overrides} or None)
               for a in arms]
    for arm, config in zip(arms[1:], configs[1:]):
        if config.n_months != configs[0].n_months:
            raise ConfigError(f"months: {arms[0].label} runs {configs[0].n_months} months and {arm.label} "
                              f"{config.n_months}; give months (--months M) to compare them month by month")
    return arms, configs, common


def compare_many(scenarios: Iterable, seeds: int | Iterable[int] | None = None, months: int | None = None,
                 overrides: Any = None, *, independent: bool = False, jobs: int = 1,
                 cache_dir: str | Path | None = None, progress: bool | None = None,
                 settings: CompareSettings | None = None) -> Comparison:
    """Run every scenario on the paired seeds and compare each with the first.

    ``independent=True`` pairs A's seed s with B's seed s + ``independent_seed_offset``
    (no common random numbers: the contrast that shows what they buy).
    ``cache_dir``: the run cache (``sim.sweeps.cached_runs``); None runs everything afresh.
    """
    settings = settings or load_settings()
    seed_list = check_seeds(seeds, settings)
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs == 0 or jobs < -1:
        raise ConfigError(f"jobs: {jobs!r} is not allowed; give a number of processes >= 1 (or -1: every core)")
    arms, configs, common = prepare(scenarios, months, overrides)
    comparison = Comparison(arms, configs, seed_list, bool(independent), common, settings, [], [], [])
    tasks = [(config, s) for i, config in enumerate(configs) for s in comparison.seeds_of(i)]
    done = run_frames(tasks, FRAME_COLUMNS, Path(cache_dir) if cache_dir is not None else None, int(jobs),
                      progress, desc=f"{len(arms)} scenarios x {len(seed_list)} seeds")
    n = len(seed_list)
    comparison.frames = [done.frames[i * n:(i + 1) * n] for i in range(len(arms))]
    comparison.ran, comparison.reused = done.ran, done.reused
    comparison.metrics = [pd.DataFrame([run_metrics(f, c.extras.get("metrics")) for f in frames], columns=list(METRICS))
                          for frames, c in zip(comparison.frames, configs)]
    comparison.effects = [effects(comparison.metrics[0], m, settings) for m in comparison.metrics[1:]]
    return comparison


# --------------------------------------------------------------------------- output
def slug(text: str) -> str:
    """A folder-name version of a label: safe characters only."""
    return re.sub(r"[^A-Za-z0-9._+=-]+", "-", text).strip("-") or "scenario"


def _short(name: str, limit: int = 120) -> str:
    if len(name) <= limit:
        return name
    return f"{name[:limit - 17]}-{hashlib.sha256(name.encode()).hexdigest()[:16]}"


INDEPENDENT_SUFFIX = "_independent-seeds"  # folder suffix of a comparison without common random numbers


def pair_folder(out: str | Path, a: Arm, b: Arm, independent: bool = False) -> Path:
    """``OUT/A_vs_B``: where one pair's effects.csv, comparison.json and compare.png go.

    An independent-seeds comparison gets its own folder (``..._independent-seeds``), so
    it sits next to the paired one instead of replacing it.
    """
    suffix = INDEPENDENT_SUFFIX if independent else ""
    return Path(out) / (_short(f"{slug(a.label)}_vs_{slug(b.label)}") + suffix)


def group_folder(out: str | Path, arms: list[Arm], independent: bool = False) -> Path:
    """``OUT/A_vs_B_C_D``: where the summary of several comparisons goes."""
    suffix = INDEPENDENT_SUFFIX if independent else ""
    return Path(out) / (_short(f"{slug(arms[0].label)}_vs_" + "_".join(slug(a.label) for a in arms[1:])) + suffix)


def write_tables(comparison: Comparison, out: str | Path) -> dict[str, Path]:
    """Write each pair's effects.csv and comparison.json, and with several B the summary.csv."""
    paths: dict[str, Path] = {}
    for i, (arm, table) in enumerate(zip(comparison.arms[1:], comparison.effects), start=1):
        folder = pair_folder(out, comparison.arms[0], arm, comparison.independent)
        folder.mkdir(parents=True, exist_ok=True)
        table.to_csv(folder / "effects.csv", index=False)
        (folder / "comparison.json").write_text(json.dumps(comparison.record(i), indent=1, default=str))
        paths[f"effects:{arm.label}"] = folder / "effects.csv"
    if len(comparison.arms) > 2:
        folder = group_folder(out, comparison.arms, comparison.independent)
        folder.mkdir(parents=True, exist_ok=True)
        comparison.summary().to_csv(folder / "summary.csv", index=False)
        (folder / "comparison.json").write_text(json.dumps(comparison.record(), indent=1, default=str))
        paths["summary"] = folder / "summary.csv"
    return paths


def compare(a: Any, b: Any, seeds: int | Iterable[int] | None = None, months: int | None = None,
            overrides: Any = None, *, independent: bool = False, jobs: int = 1, out: str | Path | None = None,
            progress: bool | None = None) -> pd.DataFrame:
    """Effect table of scenario ``b`` against scenario ``a`` on paired seeds (see the module docstring).

    ``out``: a folder to write ``A_vs_B/effects.csv`` into and keep the run cache in
    (``out/runs``); None writes nothing.
    """
    cache = Path(out) / "runs" if out is not None else None
    comparison = compare_many([a, b], seeds, months, overrides, independent=independent, jobs=jobs,
                              cache_dir=cache, progress=progress)
    if out is not None:
        write_tables(comparison, out)
    table = comparison.effects[0].copy()
    table.attrs.update(a=comparison.arms[0].label, b=comparison.arms[1].label, seeds=comparison.seeds,
                       months=comparison.configs[0].n_months, common_random_numbers=not independent)
    return table
