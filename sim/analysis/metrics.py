"""Pattern metrics for "one step forward, two steps back" (docs/ODD.md, "Pattern metrics").

This is the one module that turns a run's monthly frame into the pattern metrics.
``pattern_metrics(frame, params=None)`` returns a dict of floats whose keys are
``METRIC_NAMES`` (always all of them, in that order). Every threshold is a field of
``MetricsParams``, whose values live in ``configs/metrics/default.yaml``.

Input
-----
``frame``: one row per month, rows in time order (the index is ignored), with at least
the columns

- ``relations``        float in [-1, 1], the cooperation-conflict index;
- ``pakistan_stance``  ``'engage'`` / ``'pressure'``;
- ``taliban_stance``   ``'engage'`` / ``'pressure'``;
- ``deaths_total``     fatalities in the month;
- ``attacks``          militant attacks in the month;
- ``tolerance``        Pakistan's tolerance threshold that month (fatalities/month).

A stance value other than ``'engage'`` counts as "not engaged"; only the exact value
``'pressure'`` counts as pressure. Write ``n`` for the number of rows; the series spans
``n - 1`` elapsed months (month 0 to month n-1), and rates "per year" / "per decade"
are per 12 / 120 elapsed months.

Metrics
-------
Relations steps. Let ``d[t] = relations[t] - relations[t-1]`` (t = 1..n-1). Month t is
a forward month if ``d[t] > step_eps`` and a backward month if ``d[t] < -step_eps``;
changes within ``[-step_eps, step_eps]`` are noise and break an episode. A forward
(backward) *step* is a maximal run of consecutive forward (backward) months; its size
is ``|sum of d over the run|`` (a positive number, relations units).

- ``forward_steps``       number of forward steps (count).
- ``backward_steps``      number of backward steps (count).
- ``mean_forward_size``   mean size of forward steps (relations units); NaN if none.
- ``mean_backward_size``  mean size of backward steps (relations units); NaN if none.
- ``backward_forward_ratio``  ``mean_backward_size / mean_forward_size`` (ratio);
  NaN if there is no forward step *or* no backward step (the ratio of means is then
  undefined; look at the step counts).  > 1 means the typical setback is bigger than
  the typical gain: "one step forward, two steps back" is a ratio of about 2.

Thaws. A *thaw* is a maximal run of at least ``thaw_min_months`` consecutive months
with ``pakistan_stance == 'engage'``. A thaw occupying months ``s..e`` *ends* at month
``e + 1`` (the first month Pakistan is no longer engaged). A thaw still running in the
last month (``e = n - 1``) is *right-censored*: its end is unobserved. A thaw already
running in month 0 is counted from month 0 (left-censored; its duration is a lower
bound). A *violence spike* is a month with ``deaths_total > tolerance`` (row by row,
so the threshold may vary over time; a NaN tolerance never spikes).

- ``thaws``               number of thaws, censored ones included (count).
- ``mean_thaw_duration``  mean length of the thaws, censored ones included at their
  observed length (months); NaN if no thaw.
- ``reversal_probability``  among thaws that *ended* within the series (censored ones
  are excluded from numerator and denominator), the share that were *reversed*: there
  is a spike month ``t`` with ``s <= t <= e`` (during the thaw) and
  ``(e + 1) - t <= reversal_window_months``, i.e. Pakistan turned to pressure at most
  h months after a spike. Stances react to last month's violence (the model's step
  order), so a spike in the end month ``e + 1`` itself does not count; a spike before
  the thaw began does not count either. Probability in [0, 1]; NaN if no thaw ended
  (no thaw at all, or only a censored one).

Drift, shares, switches.

- ``net_drift``           ``(relations[n-1] - relations[0]) * 12 / (n - 1)``
  (relations units per year); NaN if n < 2.
- ``share_engaged``       share of months with Pakistan engaged (fraction in [0, 1]).
- ``share_hostile``       share of months in mutual pressure: both
  ``pakistan_stance`` and ``taliban_stance`` equal ``'pressure'`` (fraction in [0, 1]).
  Hostility is defined from the choices, not from ``relations``, so it needs no extra
  threshold and complements ``share_engaged``. Both shares are NaN for an empty frame.
- ``regime_switches_per_decade``  number of months whose Pakistani engagement differs
  from the month before, ``* 120 / (n - 1)`` (switches per 120 months); NaN if n < 2.

Spoiler signal. With ``x[t] = 1`` if Pakistan engaged else 0 and ``y[t] = attacks[t]``,
for each lag ``L = 0..max_lag_months`` the Pearson correlation
``r(L) = corr(x[t], y[t + L])`` over the ``n - L`` overlapping months (attacks *after*
engagement; a positive r at L > 0 is the spoiler signal). A lag is scored only if
``n - L >= xcorr_min_pairs`` and both overlapping segments vary.

- ``spoiler_xcorr_lag``   the scored lag with the largest (signed) r (months); the
  smallest such lag on ties.
- ``spoiler_xcorr_max``   that r (correlation in [-1, 1]).
  Both NaN if x or y is constant over the whole series, or if no lag can be scored.

Oscillation.

- ``dominant_period_months``  relations are linearly detrended (the least-squares
  line through months 1..n removed, as ``scipy.signal.detrend``) and their
  periodogram taken (one-sided, fs = 1 per month, boxcar window, as
  ``scipy.signal.periodogram``: ``|rfft|^2``, every bin but 0 and the Nyquist bin
  doubled; computed with NumPy); the result is ``1 / f`` for the non-zero frequency f
  with the most power (months; the shortest resolvable period is 2, the longest n). NaN if n < ``period_min_months`` or if the
  detrended series spans less than ``period_min_range`` (a constant or purely
  trending series has no oscillation).

Violence.

- ``mean_monthly_fatalities``  mean of ``deaths_total`` over the n months (fatalities
  per month; all victims, militants killed in operations included); NaN for an empty
  frame. Compare it with ``tolerance`` (Pakistan's threshold, same unit).

An empty frame gives zero step and thaw counts and NaN for everything else.

Without a frame
---------------
``metrics_from_columns(columns, params=None)`` computes the same metrics from the
columns as sequences (column name -> list or array of the monthly values, e.g. a
model's ``datacollector.model_vars``): a sweep's runs skip building a frame.
``pattern_metrics(frame)`` is that function applied to the frame's columns.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.config.schema import MetricsConfig

__all__ = [
    "METRIC_NAMES",
    "REQUIRED_COLUMNS",
    "DEFAULT_CONFIG_PATH",
    "MetricsParams",
    "load_params",
    "metrics_from_columns",
    "pattern_metrics",
]

METRIC_NAMES: tuple[str, ...] = (
    "forward_steps",
    "backward_steps",
    "mean_forward_size",
    "mean_backward_size",
    "backward_forward_ratio",
    "thaws",
    "mean_thaw_duration",
    "reversal_probability",
    "net_drift",
    "share_engaged",
    "share_hostile",
    "regime_switches_per_decade",
    "spoiler_xcorr_lag",
    "spoiler_xcorr_max",
    "dominant_period_months",
    "mean_monthly_fatalities",
)

REQUIRED_COLUMNS: tuple[str, ...] = (
    "relations",
    "pakistan_stance",
    "taliban_stance",
    "deaths_total",
    "attacks",
    "tolerance",
)

DEFAULT_CONFIG_PATH: Path = Path(__file__).resolve().parents[2] / "configs" / "metrics" / "default.yaml"

_NAN = float("nan")
_TEXT_COLUMNS = ("pakistan_stance", "taliban_stance")


@dataclass(frozen=True)
class MetricsParams:
    """Thresholds of the pattern metrics; values come from ``configs/metrics/default.yaml``.

    step_eps: relations change per month that counts as a step, not noise (relations units).
    thaw_min_months: minimum consecutive engaged months for a thaw (months, >= 1).
    reversal_window_months: longest delay from a spike to the end of a thaw for the
        thaw to count as reversed (months, >= 0).
    max_lag_months: largest lag of attacks behind engagement scored (months, >= 0).
    xcorr_min_pairs: minimum overlapping month pairs for a lag to be scored (>= 2).
    period_min_months: minimum series length for a dominant period (months, >= 2).
    period_min_range: minimum max-min of detrended relations for an oscillation
        (relations units, >= 0).
    """

    step_eps: float
    thaw_min_months: int
    reversal_window_months: int
    max_lag_months: int
    xcorr_min_pairs: int
    period_min_months: int
    period_min_range: float

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type in ("int", int):
                if isinstance(value, bool) or not isinstance(value, (int, np.integer, float)) or (
                    float(value) != int(value)
                ):
                    raise TypeError(f"MetricsParams.{f.name} must be an integer, got {value!r}")
                object.__setattr__(self, f.name, int(value))
            else:
                if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                    raise TypeError(f"MetricsParams.{f.name} must be a number, got {value!r}")
                object.__setattr__(self, f.name, float(value))
        # The allowed ranges are those of the config schema (MetricsConfig), checked before a run.
        ranges = {f.name: f.metadata["range"] for f in dataclasses.fields(MetricsConfig)}
        bad = [name for name, (lo, hi) in ranges.items()
               if not ((lo is None or getattr(self, name) >= lo) and (hi is None or getattr(self, name) <= hi))]
        if bad:
            raise ValueError(f"MetricsParams out of range: {', '.join(f'{b}={getattr(self, b)!r}' for b in bad)}")

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> "MetricsParams":
        """Build from a mapping (dict or OmegaConf DictConfig, e.g. ``cfg.metrics``).

        Every field must be present and no other key is allowed.
        """
        if not isinstance(mapping, dict):
            try:
                from omegaconf import DictConfig, OmegaConf

                if isinstance(mapping, DictConfig):
                    mapping = OmegaConf.to_container(mapping, resolve=True)  # type: ignore[assignment]
            except ImportError:  # pragma: no cover - omegaconf is a dependency
                pass
            mapping = dict(mapping)
        names = {f.name for f in dataclasses.fields(cls)}
        missing = sorted(names - set(mapping))
        extra = sorted(set(mapping) - names)
        if missing or extra:
            raise KeyError(f"metrics config: missing keys {missing}, unknown keys {extra}")
        return cls(**{k: mapping[k] for k in names})


def load_params(path: str | Path | None = None) -> MetricsParams:
    """Load ``MetricsParams`` from a YAML file (default: ``configs/metrics/default.yaml``)."""
    return _load_params_cached(str(Path(path).resolve() if path is not None else DEFAULT_CONFIG_PATH))


@lru_cache(maxsize=8)
def _load_params_cached(path: str) -> MetricsParams:
    from omegaconf import OmegaConf

    return MetricsParams.from_mapping(OmegaConf.load(path))


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start (inclusive) and end (exclusive) indices of the runs of True in ``mask``."""
    padded = np.zeros(mask.size + 2, dtype=np.int8)
    padded[1:-1] = mask
    edges = np.diff(padded)
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _steps(d: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """Number of episodes (runs of ``mask``) and their mean absolute summed change."""
    starts, ends = _runs(mask)
    if starts.size == 0:
        return 0.0, _NAN
    csum = np.concatenate(([0.0], np.cumsum(d)))
    sizes = np.abs(csum[ends] - csum[starts])
    return float(starts.size), float(sizes.mean())


def _spoiler_xcorr(x: np.ndarray, y: np.ndarray, p: MetricsParams) -> tuple[float, float]:
    n = x.size
    if n < 2 or np.all(x == x[0]) or np.all(y == y[0]):
        return _NAN, _NAN
    best_lag, best_r = _NAN, -math.inf
    for lag in range(min(p.max_lag_months, n - p.xcorr_min_pairs) + 1):
        xs = x[: n - lag]
        ys = y[lag:]
        xc = xs - xs.mean()
        yc = ys - ys.mean()
        sxx = xc @ xc
        syy = yc @ yc
        if sxx <= 0.0 or syy <= 0.0:
            continue
        r = float((xc @ yc) / math.sqrt(sxx * syy))
        if r > best_r:
            best_lag, best_r = float(lag), r
    if math.isnan(best_lag):
        return _NAN, _NAN
    return best_lag, best_r


def _detrend_linear(x: np.ndarray) -> np.ndarray:
    """``x`` less its least-squares line over positions 1..n (``scipy.signal.detrend(x, type="linear")``)."""
    n = x.size
    design = np.ones((n, 2))
    design[:, 0] = np.arange(1, n + 1, dtype=float) / n
    coef, *_ = np.linalg.lstsq(design, x, rcond=None)
    return x - design @ coef


def _periodogram_shape(x: np.ndarray) -> np.ndarray:
    """The one-sided periodogram of ``x`` up to its constant factor (1 / n for fs = 1, boxcar).

    ``|rfft(x)|^2`` with every bin but the zero frequency and (n even) the Nyquist
    frequency doubled, as ``scipy.signal.periodogram`` folds the negative frequencies
    in. Only where its maximum lies is used, which a constant factor does not move.
    """
    spectrum = np.fft.rfft(x)
    power = spectrum.real ** 2 + spectrum.imag ** 2
    power[1:-1 if x.size % 2 == 0 else None] *= 2.0
    return power


def _dominant_period(rel: np.ndarray, p: MetricsParams) -> float:
    n = rel.size
    if n < p.period_min_months or n < 2:
        return _NAN
    detrended = _detrend_linear(rel)
    if float(detrended.max() - detrended.min()) < p.period_min_range or np.ptp(rel) == 0.0:
        return _NAN
    power = _periodogram_shape(detrended)[1:]  # drop the zero frequency; bin k (k >= 1) is frequency k / n
    if power.size == 0 or not np.isfinite(power).all() or power.max() <= 0.0:
        return _NAN
    return n / float(np.argmax(power) + 1)  # exact 1 / f, no rounding of k / n


def _params_of(params: MetricsParams | Mapping[str, Any] | None) -> MetricsParams:
    if params is None:
        return load_params()
    if isinstance(params, MetricsParams):
        return params
    return MetricsParams.from_mapping(params)


def pattern_metrics(
    frame: pd.DataFrame, params: MetricsParams | Mapping[str, Any] | None = None
) -> dict[str, float]:
    """The section-6 pattern metrics of one run (definitions in the module docstring).

    ``frame``: one row per month in time order, with the columns in ``REQUIRED_COLUMNS``.
    ``params``: a ``MetricsParams``, a mapping with its fields (e.g. Hydra's
    ``cfg.metrics``), or None to load ``configs/metrics/default.yaml``.
    Returns a dict of floats keyed by ``METRIC_NAMES`` (in that order); NaN where a
    metric is undefined.
    """
    p = _params_of(params)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise KeyError(f"pattern_metrics: frame lacks columns {missing}")
    columns = {c: frame[c].to_numpy() if c in _TEXT_COLUMNS else frame[c].to_numpy(dtype=float)
               for c in REQUIRED_COLUMNS}
    return metrics_from_columns(columns, p)


def metrics_from_columns(
    columns: Mapping[str, Any], params: MetricsParams | Mapping[str, Any] | None = None
) -> dict[str, float]:
    """The pattern metrics from a run's columns, without a frame (module docstring, "Without a frame").

    ``columns``: column name -> the monthly values in time order (a list or a 1-d
    array), for at least the columns in ``REQUIRED_COLUMNS``; ``params`` as for
    ``pattern_metrics``. Same result as ``pattern_metrics`` of a frame of these columns.
    """
    p = _params_of(params)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise KeyError(f"metrics_from_columns: no columns {missing}")
    rel = np.asarray(columns["relations"], dtype=float)
    pak = np.asarray(columns["pakistan_stance"], dtype=object)
    tal = np.asarray(columns["taliban_stance"], dtype=object)
    deaths = np.asarray(columns["deaths_total"], dtype=float)
    attacks = np.asarray(columns["attacks"], dtype=float)
    tolerance = np.asarray(columns["tolerance"], dtype=float)
    n = rel.size

    out: dict[str, float] = dict.fromkeys(METRIC_NAMES, _NAN)

    # --- relations steps -------------------------------------------------------
    d = np.diff(rel)
    out["forward_steps"], out["mean_forward_size"] = _steps(d, d > p.step_eps)
    out["backward_steps"], out["mean_backward_size"] = _steps(d, d < -p.step_eps)
    out["backward_forward_ratio"] = out["mean_backward_size"] / out["mean_forward_size"]

    # --- thaws -------------------------------------------------------------------
    engaged = pak == "engage"
    starts, ends = _runs(engaged)
    keep = (ends - starts) >= p.thaw_min_months
    starts, ends = starts[keep], ends[keep]
    out["thaws"] = float(starts.size)
    if starts.size:
        out["mean_thaw_duration"] = float((ends - starts).mean())
        ended = ends < n  # right-censored thaws have ends == n
        if ended.any():
            s, end_month = starts[ended], ends[ended]  # end_month: first month not engaged
            with np.errstate(invalid="ignore"):
                spike = deaths > tolerance
            idx = np.arange(n)
            last_spike = np.maximum.accumulate(np.where(spike, idx, -1))
            ls = last_spike[end_month - 1]  # latest spike at or before the last engaged month
            reversed_ = (ls >= s) & (end_month - ls <= p.reversal_window_months)
            out["reversal_probability"] = float(reversed_.mean())

    # --- drift, shares, switches -------------------------------------------------
    if n:
        out["share_engaged"] = float(engaged.mean())
        out["share_hostile"] = float(((pak == "pressure") & (tal == "pressure")).mean())
    if n >= 2:
        out["net_drift"] = float((rel[-1] - rel[0]) * 12.0 / (n - 1))
        out["regime_switches_per_decade"] = float(np.count_nonzero(engaged[1:] != engaged[:-1]) * 120.0 / (n - 1))

    # --- spoiler signal and oscillation -------------------------------------------
    out["spoiler_xcorr_lag"], out["spoiler_xcorr_max"] = _spoiler_xcorr(engaged.astype(float), attacks, p)
    out["dominant_period_months"] = _dominant_period(rel, p)

    # --- violence -------------------------------------------------------------------
    if n:
        out["mean_monthly_fatalities"] = float(deaths.mean())
    return out
