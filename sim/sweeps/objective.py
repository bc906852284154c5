"""The value a sweep job returns to an optimising sweeper (Hydra's Optuna sweeper).

``sweep.objectives`` lists pattern metrics (sim/analysis/metrics.py). A plain name is
maximised; a leading ``-`` says the sweeper *minimises* it. The sign only says the
direction: the value returned is the metric itself, so it must match the sweeper's
``hydra.sweeper.direction`` entry by entry (``check_objectives`` makes sure of that before
anything runs). Example: configs/experiment/policy_search.yaml, docs/policy_search.md.

A point's objective is the mean over its runs with status ok of the runs where the
metric is defined, the same rule as a point's value in the sweep table and the
sensitivity report. Where no run defines it, a metric whose undefined value has a plain
reading gets that number (``UNDEFINED_MEANS``: no thaw in any seed = 0 months of thaw);
any other gets None, which the Optuna sweeper records as a failed trial and its sampler
leaves out (the experiment sets ``max_failure_rate`` so that this does not stop the
search). Neither NaN nor an infinity is returned: Optuna refuses NaN, and its TPE sampler
breaks on infinities.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

from sim.analysis.metrics import METRIC_NAMES
from sim.config import ConfigError

MINIMISE_PREFIX = "-"
STATUS_OK = "ok"  # a run's status in a point's rows (sim/sweeps/sweep.py writes "ok" or "failed")
DIRECTIONS = {"maximize": False, "minimize": True}  # Optuna's word -> minimised?
# Metrics whose undefined value means "it never happened", read as a number when no run defines them.
UNDEFINED_MEANS = {"mean_thaw_duration": 0.0}  # no thaw at all: no month of thaw was held


def parse_objectives(objectives: Sequence[str] | None) -> list[tuple[str, bool]]:
    """``sweep.objectives`` as (metric, minimised) pairs; one-line ``ConfigError`` for a bad entry."""
    if objectives is None:
        return []
    if isinstance(objectives, str) or not isinstance(objectives, Iterable):
        raise ConfigError(f"sweep.objectives: {objectives!r} is not a list; give a list of metric names, "
                          f"e.g. [mean_thaw_duration, -mean_monthly_fatalities]")
    parsed = []
    for entry in objectives:
        text = str(entry).strip()
        minimised = text.startswith(MINIMISE_PREFIX)
        name = text.removeprefix(MINIMISE_PREFIX).strip()
        if name not in METRIC_NAMES:
            raise ConfigError(f"sweep.objectives: {text!r} is not a pattern metric; allowed (a leading - to "
                              f"minimise): {', '.join(METRIC_NAMES)}")
        if any(name == seen for seen, _ in parsed):
            raise ConfigError(f"sweep.objectives: {name} is listed twice; give each metric once")
        parsed.append((name, minimised))
    return parsed


def _objectives_of(cfg: DictConfig | Mapping) -> list[tuple[str, bool]]:
    if isinstance(cfg, DictConfig):
        raw = OmegaConf.select(cfg, "sweep.objectives", default=None)
        raw = OmegaConf.to_container(raw, resolve=True) if OmegaConf.is_config(raw) else raw
    else:
        raw = (cfg.get("sweep") or {}).get("objectives")
    return parse_objectives(raw)


def check_objectives(cfg: DictConfig | Mapping) -> list[tuple[str, bool]]:
    """Check ``sweep.objectives`` against the sweeper's ``hydra.sweeper.direction`` (if both are set).

    ``cfg`` is a composed config with its ``hydra`` node (as ``check_sweep`` composes it).
    Raises a one-line ``ConfigError`` for an unknown metric, a count that differs from the
    directions, or a ``-`` prefix that disagrees with its direction. Returns the parsed objectives.
    """
    parsed = _objectives_of(cfg)
    if isinstance(cfg, DictConfig):
        direction = OmegaConf.select(cfg, "hydra.sweeper.direction", default=None)
        direction = OmegaConf.to_container(direction) if OmegaConf.is_config(direction) else direction
    else:
        direction = ((cfg.get("hydra") or {}).get("sweeper") or {}).get("direction")
    if not parsed or direction is None:
        return parsed
    directions = [direction] if isinstance(direction, str) else list(direction)
    words = [getattr(d, "name", d) for d in directions]  # (Optuna's Direction enum or its name)
    if len(words) != len(parsed):
        raise ConfigError(f"sweep.objectives: {len(parsed)} objective{'s' * (len(parsed) != 1)} but "
                          f"hydra.sweeper.direction has {len(words)}; give one direction per objective, same order")
    for k, ((name, minimised), word) in enumerate(zip(parsed, words)):
        if str(word) not in DIRECTIONS:
            raise ConfigError(f"hydra.sweeper.direction[{k}]: {word!r} is not allowed; allowed: maximize, minimize")
        if DIRECTIONS[str(word)] != minimised:
            shown = f"{MINIMISE_PREFIX}{name}" if minimised else name
            raise ConfigError(f"sweep.objectives: {shown} is {'minimised' if minimised else 'maximised'} but "
                              f"hydra.sweeper.direction[{k}] is {word}; write "
                              f"{'-' if word == 'minimize' else ''}{name} or change the direction")
    return parsed


def _rows(rows: Any) -> list[Mapping]:
    if hasattr(rows, "to_dict"):  # a DataFrame of the point's runs
        return rows.to_dict("records")
    return list(rows)


def _mean_defined(values: list[float]) -> float:
    defined = [v for v in values if v is not None and not math.isnan(v)]
    return math.fsum(defined) / len(defined) if defined else float("nan")


def point_objective(cfg: DictConfig | Mapping, rows: Any) -> float | tuple[float | None, ...] | None:
    """The value a sweep job returns to the sweeper: per objective, the mean over the ok runs.

    ``rows`` are the point's runs (dicts or a DataFrame with ``status`` and every metric).
    Returns None when ``sweep.objectives`` is empty or unset (a plain sweep), a float for
    one objective and a tuple for several, in the order listed. A metric no ok run defines
    gives its ``UNDEFINED_MEANS`` value, else None (a failed trial; module docstring).
    """
    parsed = _objectives_of(cfg)
    if not parsed:
        return None
    ok = [r for r in _rows(rows) if r.get("status") == STATUS_OK]
    values = []
    for name, minimised in parsed:
        mean = _mean_defined([float(r[name]) for r in ok if r.get(name) is not None])
        values.append(mean if not math.isnan(mean) else UNDEFINED_MEANS.get(name))
    return values[0] if len(values) == 1 else tuple(values)
