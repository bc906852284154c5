"""The model as an EMA Workbench ``Model``, for exploratory modelling (README, docs/sensitivity.md).

    import sim
    from ema_workbench import SequentialEvaluator, perform_experiments
    model = sim.ema_model("baseline", months=60, seeds=3)
    experiments, outcomes = perform_experiments(model, scenarios=100, policies=4)

- **Uncertainties**: the sensitivity ranges (``parameters:`` of
  configs/sensitivity/default.yaml), less any that is also a lever.
- **Levers**: Pakistan's policy settings, exactly the search space of the policy search
  (``hydra.sweeper.params`` of configs/experiment/policy_search.yaml), so EMA Workbench and
  the Optuna search explore the same policies: ``interval(a, b)`` of floats becomes a
  ``RealParameter``, of whole numbers an ``IntegerParameter``, ``choice(...)`` a
  ``CategoricalParameter``.
- **Outcomes**: every pattern metric (sim/analysis/metrics.py) as a ``ScalarOutcome``, the
  mean over the experiment's seeds of the runs where it is defined, plus ``<metric>_sd``,
  its standard deviation over those seeds, so chance stays visible. The policy search's
  objectives (``sweep.objectives`` of the same file) are marked MAXIMIZE or MINIMIZE, the
  rest INFO.
- **Seeds**: every experiment runs the same seeds (common random numbers), ``seeds`` of
  them from ``base_seed`` (configs/sensitivity/ema.yaml).

EMA Workbench wants names that are Python identifiers, so a parameter's name is its config
path with ``__`` for each dot (``pakistan__tolerance``); its ``variable_name`` is the path.
The model function is a plain module-level function, so the model pickles and works with
``SequentialEvaluator`` and ``MultiprocessingEvaluator`` alike; a run gives the same
metrics as ``sim.run`` with the same settings and seed.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from sim.analysis.metrics import METRIC_NAMES, REQUIRED_COLUMNS, metrics_from_columns
from sim.config import CONFIG_DIR, ConfigError, load_config
from sim.model.policy_model import PolicyModel
from sim.sweeps.objective import parse_objectives

with warnings.catch_warnings():  # the workbench warns on import about an optional cluster backend it does not need here
    warnings.filterwarnings("ignore", message="ipyparallel not installed", category=UserWarning)
    import ema_workbench as ema

SETTINGS_PATH = CONFIG_DIR / "sensitivity" / "ema.yaml"
UNCERTAINTIES_PATH = CONFIG_DIR / "sensitivity" / "default.yaml"
LEVERS_PATH = CONFIG_DIR / "experiment" / "policy_search.yaml"
SPREAD_SUFFIX = "_sd"
MODEL_NAME = "pakaf"


def ema_name(path: str) -> str:
    """A config path as an EMA Workbench name (a Python identifier): dots become ``__``."""
    return path.replace(".", "__")


def _load(path: Path) -> dict:
    if not Path(path).is_file():
        raise ConfigError(f"ema_model: {path} does not exist")
    return OmegaConf.to_container(OmegaConf.load(path), resolve=False)


def uncertainty_ranges(path: Path = UNCERTAINTIES_PATH) -> dict[str, tuple[float, float]]:
    """Config path -> (low, high) of every uncertain parameter of the sensitivity settings."""
    params = _load(path).get("parameters") or {}
    out = {}
    for key, p in params.items():
        low, high = p.get("low"), p.get("high")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)) or not low < high:
            raise ConfigError(f"sensitivity.parameters.{key}: low {low!r} must be a number below high {high!r}")
        out[key] = (float(low), float(high))
    return out


def lever_space(path: Path = LEVERS_PATH) -> dict[str, tuple]:
    """Config path -> ``("real", low, high)``, ``("integer", low, high)`` or ``("categorical", choices)``.

    Read from the policy search's ``hydra.sweeper.params`` with Hydra's own override parser.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep

    params = ((_load(path).get("hydra") or {}).get("sweeper") or {}).get("params") or {}
    parser = OverridesParser.create()
    out: dict[str, tuple] = {}
    for key, text in params.items():
        value = parser.parse_override(f"{key}={text}").value()
        if isinstance(value, IntervalSweep):
            whole = isinstance(value.start, int) and isinstance(value.end, int)
            out[key] = ("integer" if whole else "real", value.start, value.end)
        elif isinstance(value, ChoiceSweep):
            out[key] = ("categorical", list(value.list))
        else:
            raise ConfigError(f"hydra.sweeper.params.{key}: {text!r} is not allowed for a lever; give "
                              f"interval(low, high) or choice(a, b, ...)")
    return out


def objective_kinds(path: Path = LEVERS_PATH) -> dict[str, int]:
    """Metric -> ScalarOutcome kind, from the policy search's ``sweep.objectives``."""
    raw = (_load(path).get("sweep") or {}).get("objectives")
    return {name: ema.ScalarOutcome.MINIMIZE if minimised else ema.ScalarOutcome.MAXIMIZE
            for name, minimised in parse_objectives(raw)}


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value, for this module's own checks of whole numbers.

    (The workbench's numpy values go to the config as they are: ``load_config`` accepts them.)
    """
    return value.item() if isinstance(value, np.generic) else value


def run_experiment(scenario: str, months: int | None, seeds: tuple[int, ...], fixed: dict | None = None,
                   **params: Any) -> dict[str, float]:
    """One EMA experiment: the scenario with ``params`` (config path -> value) for every seed.

    Returns per metric the mean over the seeds of the runs where it is defined (NaN if in
    none) and ``<metric>_sd``, the standard deviation over those runs (NaN below two).
    Each seed's config is made by ``load_config`` exactly as ``sim.run`` makes it (a seed
    may choose more than the random draws, e.g. a calibrated parameter set).
    """
    overrides = {**(fixed or {}), **params}
    values: dict[str, list[float]] = {m: [] for m in METRIC_NAMES}
    for seed in seeds:
        config = load_config(scenario, int(seed), None if months is None else int(months), overrides)
        model = PolicyModel(config, collect=REQUIRED_COLUMNS).run()
        # From the collected columns, without a frame (same values as pattern_metrics of the frame).
        for name, value in metrics_from_columns(model.datacollector.model_vars, config.extras.get("metrics")).items():
            values[name].append(float(value))
    out = {}
    for name, series in values.items():
        defined = np.array([v for v in series if not math.isnan(v)])
        out[name] = float(defined.mean()) if defined.size else float("nan")
        out[name + SPREAD_SUFFIX] = float(defined.std(ddof=1)) if defined.size > 1 else float("nan")
    return out


def _whole(value: Any, where: str, low: int) -> int:
    value = _plain(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or float(value) != int(value) or value < low:
        raise ConfigError(f"{where}: {value!r} is not allowed; give a whole number >= {low}")
    return int(value)


def _check_ranges(scenario: str, months: int | None, fixed: dict,
                  ranges: dict[str, tuple]) -> None:
    """Both ends of every range must be valid settings (one-line ``ConfigError`` naming the first bad one)."""
    for end in (0, 1):
        # low ends together, then high ends (of a choice: its first, then its last option)
        values = {path: (spec[1][-end] if spec[0] == "categorical" else spec[1 + end]) for path, spec in ranges.items()}
        try:
            load_config(scenario, None, months, {**fixed, **values})
        except ConfigError as exc:
            raise ConfigError(f"ema_model: {exc}") from None


def ema_model(scenario: str = "baseline", months: int | None = None, seeds: int | None = None,
              base_seed: int | None = None, overrides: dict | None = None, levers: bool = True,
              name: str = MODEL_NAME) -> ema.Model:
    """The model as an ``ema_workbench.Model`` (module docstring); every argument is checked first.

    ``months``, ``seeds`` and ``base_seed`` default to configs/sensitivity/ema.yaml;
    ``overrides`` (config path -> value) are fixed in every experiment and take those
    parameters out of the uncertainties and levers; ``levers=False`` leaves Pakistan's
    settings uncertain instead (plain scenario discovery: the sensitivity ranges only).
    A bad scenario, setting or range raises a one-line ``ConfigError``.
    """
    settings = _load(SETTINGS_PATH)
    months = settings.get("months") if months is None else months
    months = None if months is None else _whole(months, "ema_model.months", 1)
    seeds = _whole(settings.get("seeds") if seeds is None else seeds, "ema_model.seeds", 1)
    base_seed = _whole(settings.get("base_seed") if base_seed is None else base_seed, "ema_model.base_seed", 0)
    fixed = {str(k): v for k, v in (overrides or {}).items()}
    lever_specs = {k: v for k, v in lever_space().items() if k not in fixed} if levers else {}
    uncertain = {k: ("real", lo, hi) for k, (lo, hi) in uncertainty_ranges().items()
                 if k not in fixed and k not in lever_specs}
    if not isinstance(scenario, str):
        raise ConfigError(f"ema_model.scenario: {scenario!r} is not allowed; give a scenario name")
    _check_ranges(scenario, months, fixed, {**uncertain, **lever_specs})

    model = ema.Model(name, function=run_experiment)
    model.uncertainties = [_parameter(path, spec) for path, spec in uncertain.items()]
    model.levers = [_parameter(path, spec) for path, spec in lever_specs.items()]
    kinds = objective_kinds()
    model.outcomes = [ema.ScalarOutcome(m, kind=kinds.get(m, ema.ScalarOutcome.INFO)) for m in METRIC_NAMES] + \
                     [ema.ScalarOutcome(m + SPREAD_SUFFIX) for m in METRIC_NAMES]
    model.constants = [ema.Constant("scenario", scenario), ema.Constant("months", months),
                       ema.Constant("seeds", tuple(range(base_seed, base_seed + seeds))),
                       ema.Constant("fixed", fixed)]
    return model


def _parameter(path: str, spec: tuple):
    kind = spec[0]
    if kind == "real":
        return ema.RealParameter(ema_name(path), float(spec[1]), float(spec[2]), variable_name=path)
    if kind == "integer":
        return ema.IntegerParameter(ema_name(path), int(spec[1]), int(spec[2]), variable_name=path)
    return ema.CategoricalParameter(ema_name(path), spec[1], variable_name=path)
