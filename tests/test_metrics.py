"""Tests of sim.analysis.metrics on hand-made series whose answers are worked out by hand below."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from sim.analysis.metrics import (
    DEFAULT_CONFIG_PATH,
    METRIC_NAMES,
    MetricsParams,
    load_params,
    pattern_metrics,
)

# Test parameters are fixed here (not read from the yaml) so the expected values below
# do not move when the default config is retuned.
P = MetricsParams(
    step_eps=0.01,
    thaw_min_months=3,
    reversal_window_months=2,
    max_lag_months=6,
    xcorr_min_pairs=5,
    period_min_months=24,
    period_min_range=0.02,
)

E, R = "engage", "pressure"


def make_frame(relations=None, pak=None, tal=None, deaths=None, attacks=None, tolerance=50.0, n=None):
    """A metrics frame. Any column left out gets a neutral filler of the right length."""
    lengths = [len(x) for x in (relations, pak, tal, deaths, attacks) if x is not None]
    if n is None:
        n = lengths[0] if lengths else 0
    assert all(m == n for m in lengths), "columns of unequal length"
    return pd.DataFrame(
        {
            "relations": np.zeros(n) if relations is None else np.asarray(relations, dtype=float),
            "pakistan_stance": [R] * n if pak is None else list(pak),
            "taliban_stance": [R] * n if tal is None else list(tal),
            "deaths_total": np.zeros(n, dtype=int) if deaths is None else np.asarray(deaths, dtype=int),
            "attacks": np.zeros(n, dtype=int) if attacks is None else np.asarray(attacks, dtype=int),
            "tolerance": np.broadcast_to(np.asarray(tolerance, dtype=float), (n,)).copy(),
        }
    )


def is_nan(x) -> bool:
    return isinstance(x, float) and math.isnan(x)


# ---------------------------------------------------------------- relations steps


def test_staircase_steps_sizes_ratio_and_drift():
    rel = [0.0, 0.1, 0.2, 0.2, 0.1, -0.1, -0.1, -0.1, 0.0, 0.1, 0.1, -0.1, -0.3]
    # monthly changes: +.1 +.1 | 0 | -.1 -.2 | 0 0 | +.1 +.1 | 0 | -.2 -.2
    # forward steps: {+.1,+.1}=0.2, {+.1,+.1}=0.2        -> 2 steps, mean 0.2
    # backward steps: {-.1,-.2}=0.3, {-.2,-.2}=0.4       -> 2 steps, mean 0.35
    m = pattern_metrics(make_frame(rel), P)
    assert m["forward_steps"] == 2.0
    assert m["backward_steps"] == 2.0
    assert m["mean_forward_size"] == pytest.approx(0.2)
    assert m["mean_backward_size"] == pytest.approx(0.35)
    assert m["backward_forward_ratio"] == pytest.approx(0.35 / 0.2)
    # 13 rows = 12 elapsed months = one year; drift -0.3 per year
    assert m["net_drift"] == pytest.approx(-0.3)


def test_one_forward_two_back_gives_ratio_two():
    # up 0.1, down 0.2, alternating, each a one-month step
    rel = [0.0, 0.1, -0.1, 0.0, -0.2, -0.1, -0.3]
    m = pattern_metrics(make_frame(rel), P)
    assert (m["forward_steps"], m["backward_steps"]) == (3.0, 3.0)
    assert m["backward_forward_ratio"] == pytest.approx(2.0)


def test_noise_below_eps_is_not_a_step_and_breaks_episodes():
    # wiggles of 0.005 < eps never count
    m = pattern_metrics(make_frame([0.0, 0.005, 0.0, 0.005, 0.0]), P)
    assert m["forward_steps"] == 0.0 and m["backward_steps"] == 0.0
    assert is_nan(m["mean_forward_size"]) and is_nan(m["mean_backward_size"])
    assert is_nan(m["backward_forward_ratio"])
    # a rise, a sub-eps pause, a rise: two forward steps of 0.1 each, not one of 0.2+
    m = pattern_metrics(make_frame([0.0, 0.1, 0.105, 0.205]), P)
    assert m["forward_steps"] == 2.0
    assert m["mean_forward_size"] == pytest.approx(0.1)
    # forward steps but no backward step: ratio undefined
    assert is_nan(m["backward_forward_ratio"])


def test_step_eps_comes_from_params():
    rel = [0.0, 0.05, 0.1]  # two changes of 0.05
    assert pattern_metrics(make_frame(rel), P)["forward_steps"] == 1.0
    coarse = dataclasses.replace(P, step_eps=0.06)
    assert pattern_metrics(make_frame(rel), coarse)["forward_steps"] == 0.0


# ---------------------------------------------------------------- thaws


def test_two_thaws_one_reversed_after_spike_one_not():
    # month:  0 1 | 2 3 4 5 6 | 7 8 9 | 10 11 12 13 | 14 15 | 16 17 | 18 19
    pak = [R] * 2 + [E] * 5 + [R] * 3 + [E] * 4 + [R] * 2 + [E] * 2 + [R] * 2
    deaths = [0] * 20
    deaths[5] = 100  # spike in thaw A (months 2-6); A ends at month 7: 7 - 5 = 2 <= h=2 -> reversed
    deaths[11] = 100  # spike in thaw B (months 10-13); B ends at 14: 14 - 11 = 3 > 2 -> not reversed
    deaths[14] = 100  # spike in B's end month itself: not during the thaw, must not count
    m = pattern_metrics(make_frame(pak=pak, deaths=deaths, tolerance=50.0), P)
    # the 2-month run (16-17) is shorter than thaw_min_months=3 and is not a thaw
    assert m["thaws"] == 2.0
    assert m["mean_thaw_duration"] == pytest.approx((5 + 4) / 2)
    assert m["reversal_probability"] == pytest.approx(0.5)
    assert m["share_engaged"] == pytest.approx(11 / 20)
    # switches at months 2, 7, 10, 14, 16, 18 over 19 elapsed months
    assert m["regime_switches_per_decade"] == pytest.approx(6 * 120 / 19)


def test_reversal_window_boundary():
    # one thaw in months 0-4, ends at month 5; a single spike at month s
    pak = [E] * 5 + [R] * 3
    for spike_month, expected in [(4, 1.0), (3, 1.0), (2, 0.0), (0, 0.0)]:
        deaths = [0] * 8
        deaths[spike_month] = 100
        m = pattern_metrics(make_frame(pak=pak, deaths=deaths), P)  # h = 2
        assert m["reversal_probability"] == expected, spike_month
    wide = dataclasses.replace(P, reversal_window_months=5)
    deaths = [100] + [0] * 7  # spike at month 0, end at 5: 5 <= 5
    assert pattern_metrics(make_frame(pak=pak, deaths=deaths), wide)["reversal_probability"] == 1.0


def test_spike_before_thaw_does_not_count():
    wide = dataclasses.replace(P, reversal_window_months=10)
    pak = [R] * 2 + [E] * 3 + [R] * 3  # thaw months 2-4, ends at 5
    deaths = [0, 100, 0, 0, 0, 0, 0, 0]  # spike at month 1, before the thaw
    m = pattern_metrics(make_frame(pak=pak, deaths=deaths), wide)
    assert m["reversal_probability"] == 0.0


def test_spike_uses_time_varying_tolerance():
    pak = [E] * 4 + [R] * 4  # thaw months 0-3 (left-censored, still counted), ends at 4
    deaths = [0, 0, 0, 80, 0, 0, 0, 0]
    high = [50.0] * 3 + [100.0] + [50.0] * 4  # 80 <= 100 that month: no spike
    low = [50.0] * 3 + [60.0] + [50.0] * 4  # 80 > 60: spike
    assert pattern_metrics(make_frame(pak=pak, deaths=deaths, tolerance=high), P)["reversal_probability"] == 0.0
    assert pattern_metrics(make_frame(pak=pak, deaths=deaths, tolerance=low), P)["reversal_probability"] == 1.0
    # deaths equal to tolerance are not above it
    equal = [50.0] * 3 + [80.0] + [50.0] * 4
    assert pattern_metrics(make_frame(pak=pak, deaths=deaths, tolerance=equal), P)["reversal_probability"] == 0.0


def test_censored_thaw_counts_as_thaw_but_not_in_reversal_probability():
    pak = [R] * 2 + [E] * 5 + [R] * 2 + [E] * 4  # second thaw runs to the end
    deaths = [0] * 13
    deaths[6] = 100  # first thaw ends at 7: reversed
    m = pattern_metrics(make_frame(pak=pak, deaths=deaths), P)
    assert m["thaws"] == 2.0
    assert m["mean_thaw_duration"] == pytest.approx(4.5)
    assert m["reversal_probability"] == 1.0  # 1 of 1 ended thaws (0.5 if the censored one counted)
    # only a censored thaw: probability undefined
    m = pattern_metrics(make_frame(pak=[R] * 3 + [E] * 5, deaths=[100] * 8), P)
    assert m["thaws"] == 1.0
    assert is_nan(m["reversal_probability"])


def test_no_thaw():
    # engaged runs of 2 months only (< 3), plus violence
    pak = [E, E, R, E, E, R, R, R, E, E]
    m = pattern_metrics(make_frame(pak=pak, deaths=[100] * 10), P)
    assert m["thaws"] == 0.0
    assert is_nan(m["mean_thaw_duration"])
    assert is_nan(m["reversal_probability"])
    assert m["share_engaged"] == pytest.approx(6 / 10)


def test_thaw_min_months_comes_from_params():
    pak = [E, E, R, E, E, R, R, R, E, E]
    two = dataclasses.replace(P, thaw_min_months=2)
    assert pattern_metrics(make_frame(pak=pak), two)["thaws"] == 3.0


# ---------------------------------------------------------------- shares, drift, switches


def test_shares_engaged_and_hostile():
    pak = [R, R, E, E, R]
    tal = [R, E, R, E, R]
    m = pattern_metrics(make_frame(pak=pak, tal=tal), P)
    assert m["share_engaged"] == pytest.approx(2 / 5)
    assert m["share_hostile"] == pytest.approx(2 / 5)  # months 0 and 4: both in pressure


def test_net_drift_and_switches_per_decade():
    n = 121  # 120 elapsed months = ten years
    rel = np.linspace(-0.5, 0.5, n)
    pak = [R] * 30 + [E] * 30 + [R] * 30 + [E] * 31  # 3 switches in a decade
    m = pattern_metrics(make_frame(rel, pak=pak), P)
    assert m["net_drift"] == pytest.approx(1.0 / 10)
    assert m["regime_switches_per_decade"] == pytest.approx(3.0)


# ---------------------------------------------------------------- degenerate series


def test_constant_series():
    n = 60
    m = pattern_metrics(make_frame([0.2] * n, attacks=[5] * n), P)
    assert m["forward_steps"] == 0.0 and m["backward_steps"] == 0.0
    for k in ("mean_forward_size", "mean_backward_size", "backward_forward_ratio"):
        assert is_nan(m[k]), k
    assert m["net_drift"] == 0.0
    assert m["share_engaged"] == 0.0
    assert m["share_hostile"] == 1.0
    assert m["regime_switches_per_decade"] == 0.0
    assert m["thaws"] == 0.0
    assert is_nan(m["spoiler_xcorr_lag"]) and is_nan(m["spoiler_xcorr_max"])
    assert is_nan(m["dominant_period_months"])


def test_single_row_frame():
    m = pattern_metrics(make_frame([0.3], pak=[E], tal=[E], deaths=[10], attacks=[2]), P)
    assert list(m) == list(METRIC_NAMES)
    assert all(isinstance(v, float) for v in m.values())
    assert m["forward_steps"] == 0.0 and m["backward_steps"] == 0.0
    assert m["thaws"] == 0.0  # one engaged month < thaw_min_months
    assert m["share_engaged"] == 1.0 and m["share_hostile"] == 0.0
    for k in (
        "net_drift",
        "regime_switches_per_decade",
        "reversal_probability",
        "mean_thaw_duration",
        "spoiler_xcorr_lag",
        "spoiler_xcorr_max",
        "dominant_period_months",
    ):
        assert is_nan(m[k]), k


def test_empty_frame():
    m = pattern_metrics(make_frame(n=0), P)
    assert list(m) == list(METRIC_NAMES)
    assert m["forward_steps"] == 0.0 and m["thaws"] == 0.0
    assert is_nan(m["share_engaged"]) and is_nan(m["net_drift"])
    assert is_nan(m["mean_monthly_fatalities"])


def test_mean_monthly_fatalities_is_the_mean_of_deaths_total():
    m = pattern_metrics(make_frame(deaths=[0, 10, 50, 20]), P)
    assert m["mean_monthly_fatalities"] == pytest.approx(20.0)
    # it does not depend on stances or tolerance
    m2 = pattern_metrics(make_frame(pak=[E] * 4, deaths=[0, 10, 50, 20], tolerance=5.0), P)
    assert m2["mean_monthly_fatalities"] == m["mean_monthly_fatalities"]


def test_all_engaged_series():
    n = 36
    rng = np.random.default_rng(1)
    m = pattern_metrics(make_frame(pak=[E] * n, tal=[E] * n, attacks=rng.integers(0, 20, n)), P)
    assert m["thaws"] == 1.0
    assert m["mean_thaw_duration"] == 36.0
    assert is_nan(m["reversal_probability"])  # the one thaw is censored
    assert m["share_engaged"] == 1.0 and m["share_hostile"] == 0.0
    assert m["regime_switches_per_decade"] == 0.0
    # engagement never varies: no cross-correlation
    assert is_nan(m["spoiler_xcorr_lag"]) and is_nan(m["spoiler_xcorr_max"])


# ---------------------------------------------------------------- oscillation


@pytest.mark.parametrize("period", [12, 24, 40, 60])
def test_dominant_period_of_sine(period):
    t = np.arange(240)  # 240 is a multiple of each period, so 1/period is a periodogram bin
    m = pattern_metrics(make_frame(0.5 * np.sin(2 * np.pi * t / period)), P)
    assert m["dominant_period_months"] == pytest.approx(period)


def test_dominant_period_ignores_linear_trend():
    t = np.arange(240)
    rel = 0.3 * np.sin(2 * np.pi * t / 24) + 0.003 * t - 0.4
    assert pattern_metrics(make_frame(rel), P)["dominant_period_months"] == pytest.approx(24)


def test_no_period_for_pure_trend_or_short_series():
    assert is_nan(pattern_metrics(make_frame(np.linspace(-0.5, 0.5, 120)), P)["dominant_period_months"])
    t = np.arange(20)  # shorter than period_min_months=24
    assert is_nan(pattern_metrics(make_frame(np.sin(2 * np.pi * t / 4)), P)["dominant_period_months"])


# ---------------------------------------------------------------- spoiler signal


def _lagged_spoiler(lag: int, n: int = 120):
    rng = np.random.default_rng(7)
    engaged = rng.random(n) < 0.5
    attacks = np.full(n, 10)
    attacks[lag:] += 5 * engaged[: n - lag]  # attacks[t] = 10 + 5 * engaged[t - lag]
    return [E if e else R for e in engaged], attacks


@pytest.mark.parametrize("lag", [0, 2, 5])
def test_spoiler_lag_is_recovered(lag):
    pak, attacks = _lagged_spoiler(lag)
    m = pattern_metrics(make_frame(pak=pak, attacks=attacks), P)
    # at the true lag attacks are an exact affine function of engagement: r = 1
    assert m["spoiler_xcorr_lag"] == float(lag)
    assert m["spoiler_xcorr_max"] == pytest.approx(1.0)


def test_spoiler_lag_beyond_max_lag_is_not_found():
    pak, attacks = _lagged_spoiler(2)
    short = dataclasses.replace(P, max_lag_months=1)
    m = pattern_metrics(make_frame(pak=pak, attacks=attacks), short)
    assert m["spoiler_xcorr_lag"] in (0.0, 1.0)
    assert m["spoiler_xcorr_max"] < 0.5


def test_spoiler_takes_largest_signed_not_absolute_correlation():
    # attacks[t] = 10 - 5 x[t] + 3 x[t-2] with x i.i.d.: r(0) ~ -5/sqrt(34) ~ -0.86 (largest
    # in magnitude, but negative), r(2) ~ +3/sqrt(34) ~ +0.51 -> the spoiler lag is 2
    rng = np.random.default_rng(3)
    n = 120
    x = (rng.random(n) < 0.5).astype(int)
    attacks = 10 - 5 * x
    attacks[2:] += 3 * x[:-2]
    m = pattern_metrics(make_frame(pak=[E if v else R for v in x], attacks=attacks), P)
    assert m["spoiler_xcorr_lag"] == 2.0
    assert 0.3 < m["spoiler_xcorr_max"] < 0.7


def test_spoiler_small_hand_example():
    # engaged  1 1 0 0 1 1 0 0 ;  attacks 0 3 3 0 0 3 3 0  (= engagement one month later)
    pak = [E, E, R, R, E, E, R, R]
    attacks = [0, 3, 3, 0, 0, 3, 3, 0]
    m = pattern_metrics(make_frame(pak=pak, attacks=attacks), dataclasses.replace(P, max_lag_months=3))
    # lag 0: x=11001100, y=03300330 -> means 1/2, 3/2; cov sum = (.5)(-1.5)+(.5)(1.5)+(-.5)(1.5)
    #   +(-.5)(-1.5)+(.5)(-1.5)+(.5)(1.5)+(-.5)(1.5)+(-.5)(-1.5) = 0 -> r = 0
    # lag 1: x=1100110, y=3300330 -> y = 3x exactly -> r = 1
    assert m["spoiler_xcorr_lag"] == 1.0
    assert m["spoiler_xcorr_max"] == pytest.approx(1.0)


# ---------------------------------------------------------------- config and interface


def test_metrics_params_have_no_defaults_and_yaml_matches():
    for f in dataclasses.fields(MetricsParams):
        assert f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING, f.name
    cfg = OmegaConf.to_container(OmegaConf.load(DEFAULT_CONFIG_PATH))
    assert set(cfg) == {f.name for f in dataclasses.fields(MetricsParams)}
    assert load_params() == MetricsParams(**cfg)


def test_yaml_is_plain_and_every_key_commented():
    text = DEFAULT_CONFIG_PATH.read_text()
    assert "defaults:" not in text and "@package" not in text
    for line in text.splitlines():
        if line and not line.lstrip().startswith("#") and ":" in line:
            assert "#" in line.split(":", 1)[1], f"uncommented key: {line}"


def test_params_none_mapping_and_dataclass_agree():
    t = np.arange(120)
    frame = make_frame(0.5 * np.sin(2 * np.pi * t / 24), pak=[E, E, E, R] * 30, attacks=t % 7)
    a = pattern_metrics(frame)
    b = pattern_metrics(frame, load_params())
    c = pattern_metrics(frame, OmegaConf.load(DEFAULT_CONFIG_PATH))
    d = pattern_metrics(frame, OmegaConf.to_container(OmegaConf.load(DEFAULT_CONFIG_PATH)))
    for other in (b, c, d):
        assert a.keys() == other.keys()
        for k in a:
            assert (is_nan(a[k]) and is_nan(other[k])) or a[k] == other[k], k


def test_bad_params_and_missing_columns_raise():
    with pytest.raises(KeyError):
        MetricsParams.from_mapping({"step_eps": 0.01})
    with pytest.raises(KeyError):
        MetricsParams.from_mapping({**dataclasses.asdict(P), "bogus": 1})
    with pytest.raises(ValueError):
        dataclasses.replace(P, thaw_min_months=0)
    with pytest.raises(TypeError):
        dataclasses.replace(P, max_lag_months=2.5)
    with pytest.raises(KeyError):
        pattern_metrics(make_frame([0.0, 0.1]).drop(columns="tolerance"), P)


def test_metric_names_order_and_types():
    assert len(METRIC_NAMES) == len(set(METRIC_NAMES)) == 16
    m = pattern_metrics(make_frame([0.0, 0.1, 0.0]), P)
    assert tuple(m) == METRIC_NAMES
    assert all(type(v) is float for v in m.values())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(min_value=0, max_value=80),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    p_engage=st.floats(min_value=0.0, max_value=1.0),
)
def test_random_frames_give_well_formed_metrics(n, seed, p_engage):
    rng = np.random.default_rng(seed)
    frame = make_frame(
        np.clip(np.cumsum(rng.normal(0, 0.05, n)), -1, 1),
        pak=np.where(rng.random(n) < p_engage, E, R),
        tal=np.where(rng.random(n) < 0.5, E, R),
        deaths=rng.poisson(40, n),
        attacks=rng.poisson(10, n),
        tolerance=rng.uniform(20, 80, n),
        n=n,
    )
    m = pattern_metrics(frame, P)
    assert tuple(m) == METRIC_NAMES and all(type(v) is float for v in m.values())
    for k in ("forward_steps", "backward_steps", "thaws"):
        assert m[k] >= 0 and m[k] == int(m[k])
    for k in ("share_engaged", "share_hostile", "reversal_probability"):
        assert is_nan(m[k]) or 0.0 <= m[k] <= 1.0
    assert is_nan(m["spoiler_xcorr_max"]) or -1.0 - 1e-12 <= m["spoiler_xcorr_max"] <= 1.0 + 1e-12
    assert is_nan(m["spoiler_xcorr_lag"]) or m["spoiler_xcorr_lag"] in range(P.max_lag_months + 1)
    assert is_nan(m["mean_thaw_duration"]) or m["mean_thaw_duration"] >= P.thaw_min_months
    assert is_nan(m["dominant_period_months"]) or 2.0 <= m["dominant_period_months"] <= n
