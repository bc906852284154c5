"""The fast paths of issue 13 give what the plain paths give (behaviour, never timing).

- the row collector (sim/model/collector.py) gives the table Mesa builds from per-column
  lists, for the full table and a sweep's subset, read during the run or at its end, and
  ``mesa.batch_run`` reads the same rows;
- a month's attack deaths (sim/agents/militant.py) are the same whether NumPy or a loop
  computes them, and follow their definition (floor, suicide multiplier, cap);
- the refugee counts from one uniform each (sim/model/world.py) follow their definition;
- the pattern metrics from the collected columns equal those of the frame, and the
  dominant period computed with NumPy equals SciPy's detrend + periodogram;
- the event log's lines follow the changes the frame records;
- ``run()`` (which steps past Mesa's event list when nothing else is scheduled) leaves the
  model as calling ``step()`` month by month does, and still runs events a user scheduled.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import mesa
import numpy as np
import pandas as pd
import pytest

import sim
from sim.agents import militant
from sim.analysis.metrics import REQUIRED_COLUMNS, _dominant_period, load_params, metrics_from_columns, pattern_metrics
from sim.model import world
from sim.model.collector import RowCollector
from sim.model.policy_model import PolicyModel
from sim.sweeps.points import RunSettings, run_metrics


def same_numbers(a: dict, b: dict) -> bool:
    """Equal dicts of floats, NaN equal to NaN, keys in the same order."""
    return list(a) == list(b) and all((math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k] for k in a)


# ------------------------------------------------------------------------ run() and step()
def _stepped(scenario: str, seed: int, months: int, before_run: int | None) -> PolicyModel:
    """A model stepped by ``step()`` to the end (``before_run`` None), or that many steps and then ``run()``."""
    model = PolicyModel(sim.load_config(scenario, seed, months))
    if before_run is None:
        while model.running:
            model.step()
    else:
        for _ in range(before_run):
            model.step()
        model.run()
    return model


@pytest.mark.parametrize("scenario, seed, before_run", [("baseline", 0, 0), ("ttp_talks", 5, 7),
                                                        ("history_2021_2025", 2, 0)])
def test_run_leaves_the_model_as_stepping_month_by_month_does(scenario, seed, before_run):
    by_step = _stepped(scenario, seed, 24, None)
    by_run = _stepped(scenario, seed, 24, before_run)
    pd.testing.assert_frame_equal(by_run.frame(), by_step.frame())
    assert by_run.event_log.lines == by_step.event_log.lines
    assert (by_run.steps, by_run.time, by_run.running) == (by_step.steps, by_step.time, False) == (24, 24, False)
    schedule, reference = by_run._default_schedule, by_step._default_schedule  # Mesa's step schedule carries on
    assert (schedule.next_scheduled_time, schedule.execution_count) == (reference.next_scheduled_time, 24)
    by_run.step()  # a step past the end: refused alike after either
    by_step.step()
    assert by_run.steps == by_step.steps == 25 and by_run.frame().equals(by_step.frame())


def test_run_still_runs_an_event_a_user_scheduled_on_mesas_event_list():
    model = PolicyModel(sim.load_config("baseline", 3, 12))
    seen: list[tuple[float, int]] = []

    def note() -> None:  # (Mesa keeps a weak reference: the function must outlive the call)
        seen.append((model.time, model.steps))

    model.schedule_event(note, at=5.5)
    model.run()
    assert seen == [(5.5, 5)] and model.steps == 12
    pd.testing.assert_frame_equal(model.frame(), _stepped("baseline", 3, 12, None).frame())


# ------------------------------------------------------------------------ the collector
@pytest.mark.parametrize("scenario, seed, collect", [
    ("baseline", 1, True), ("ttp_talks", 3, True), ("history_2021_2025", 0, True), ("baseline", 2, REQUIRED_COLUMNS),
])
def test_rows_give_the_table_mesa_builds_from_columns(scenario, seed, collect):
    model = PolicyModel(sim.load_config(scenario, seed, 30), collect=collect)
    reporters = model.datacollector.model_reporters
    expected: dict[str, list] = {name: [] for name in reporters}  # Mesa's way: one list per column
    for month in range(30):
        model.step()
        for name, report in reporters.items():
            expected[name].append(report())
        if month == 4:  # read during the run (as the app does): later rows still come in
            assert model.datacollector.model_vars == {k: v[:5] for k, v in expected.items()}
    assert model.datacollector.model_vars == expected
    assert list(model.datacollector.model_vars) == list(expected)
    pd.testing.assert_frame_equal(model.datacollector.get_model_vars_dataframe(), pd.DataFrame(expected),
                                  check_exact=True)


def test_columns_of_mixed_or_unusual_values_are_left_to_pandas():
    values = {"ints_then_bool": [1, 2, True], "bool_then_int": [True, 0, 1], "ints_then_float": [1, 2, 3.5],
              "with_none": [1.0, None, 2.0], "huge_int": [2**70, 1, 2], "numpy_scalars": [np.float64(1), np.int64(2), 3],
              "texts": ["a", "b", "c"], "flags": [True, False, True], "floats": [0.1, -0.0, float("nan")],
              "ints": [0, -5, 7]}
    rows = iter(zip(*values.values()))
    current: dict[str, object] = {}
    collector = RowCollector({name: (lambda name=name: current[name]) for name in values})
    model = mesa.Model()
    for _ in range(3):
        current.update(zip(values, next(rows)))
        collector.collect(model)
    pd.testing.assert_frame_equal(collector.get_model_vars_dataframe(), pd.DataFrame(values), check_exact=True)


def test_an_attribute_reporter_of_several_names_stays_one_column():
    from functools import partial
    from operator import attrgetter

    class Thing:
        x, y = 1, 2

    thing = Thing()
    collector = RowCollector({"x": partial(attrgetter("x"), thing), "pair": partial(attrgetter("x", "y"), thing),
                              "y": partial(attrgetter("y"), thing)})
    collector.collect(mesa.Model())
    thing.x = 5
    collector.collect(mesa.Model())
    assert collector.model_vars == {"x": [1, 5], "pair": [(1, 2), (5, 2)], "y": [2, 2]}


class KeywordModel(PolicyModel):
    """A PolicyModel built from keywords, as ``mesa.batch_run`` builds its models (from the stylized start)."""

    def __init__(self, rng: int = 0, months: int = 6):
        super().__init__(sim.load_config("baseline", rng, months, {"start": "stylized"}))


def test_batch_run_reads_the_collected_rows():
    rows = mesa.batch_run(KeywordModel, {"months": [6]}, number_processes=1, rng=[4],
                          data_collection_period=1, display_progress=False)
    frame = KeywordModel(rng=4).run().datacollector.get_model_vars_dataframe()
    assert len(rows) == len(frame) == 6
    for row, (_, expected) in zip(rows, frame.iterrows()):
        for column in ("month", "relations", "attacks", "pakistan_stance", "deaths_total"):
            assert row[column] == expected[column]


# ------------------------------------------------------------------- the attacks' deaths
def deaths_by_definition(draws, suicide, multiplier, cap):
    scaled = [x * multiplier if i < suicide else x for i, x in enumerate(draws)]
    per_attack = [min(math.floor(x), cap) if x < math.inf else cap for x in scaled]  # (NaN < inf is false)
    largest = max(per_attack)
    return sum(per_attack), largest, per_attack.index(largest)


@pytest.mark.parametrize("vector_from", [0, 10**9])  # NumPy for every month, a loop for every month
def test_attack_deaths_follow_their_definition_either_way(monkeypatch, vector_from):
    monkeypatch.setattr(militant, "VECTOR_MIN_ATTACKS", vector_from)
    rng = np.random.default_rng(11)
    cases = 0
    for n in (1, 2, 5, 23, 24, 25, 60, 400):
        for sigma in (0.0, 1.0, 4.0):
            draws = rng.lognormal(math.log(2.0), sigma, n)
            if n > 3:
                draws[n // 2] = math.inf  # an overflowing draw counts as the cap, and so does NaN
                draws[n // 3] = math.nan
                draws[1] = draws[0] = draws.max()  # ties: the first largest is reported
            suicide = int(rng.integers(0, n + 1))
            for cap in (1, 150, 100_000):
                expected = deaths_by_definition(draws.tolist(), suicide, 3.0, cap)
                assert militant._attack_deaths(draws.copy(), suicide, 3.0, cap) == expected
                cases += 1
    assert cases == 8 * 3 * 3


# --------------------------------------------------------------- counts from one uniform
def test_counts_from_one_uniform_follow_their_definition():
    def quantile(u):
        return NormalDist().inv_cdf(min(max(u, 1e-12), 1.0 - 1e-12))

    def binomial(u, n, prob):
        if n <= 0 or prob <= 0.0:
            return 0
        if prob >= 1.0:
            return int(n)
        if n * prob * (1.0 - prob) > 25.0:
            return int(min(n, max(0, round(n * prob + math.sqrt(n * prob * (1.0 - prob)) * quantile(u)))))
        return int(min(n, world._binom_ppf(u, n, prob)))

    def poisson(u, lam):
        if lam > 25.0:
            return int(max(0, round(lam + math.sqrt(lam) * quantile(u))))
        return world._poisson(u, lam)

    uniforms = [0.0, 1e-15, 1e-12, 0.001, 0.3, 0.5, 0.77, 0.999, 1.0 - 1e-13, 1.0]
    for u in uniforms:
        for n in (0, 1, 3, 40, 200, 300, 10_000, 3_000_000):
            for prob in (0.0, 1e-7, 0.01, 0.1, 0.5, 0.9, 0.99, 1.0):
                assert world._binomial(u, n, prob) == binomial(u, n, prob)
        for lam in (0.0, 0.5, 24.9, 25.1, 30.0, 5_000.0):
            assert world._poisson(u, lam) == poisson(u, lam)
    # the clamps are reached: below zero and above the stock
    assert world._poisson(1e-15, 30.0) == 0 < world._poisson(0.5, 30.0)
    assert world._binomial(1e-15, 300, 0.1) == 0 and world._binomial(1.0, 300, 0.9) == 300


# -------------------------------------------------------------------------- the metrics
@pytest.mark.parametrize("scenario, seed, collect", [
    ("baseline", 0, True), ("pressure_first", 3, REQUIRED_COLUMNS), ("engagement_first", 1, REQUIRED_COLUMNS),
    ("history_2021_2025", 2, True),
])
def test_metrics_from_the_columns_equal_those_of_the_frame(scenario, seed, collect):
    model = PolicyModel(sim.load_config(scenario, seed), collect=collect).run()
    from_frame = pattern_metrics(model.frame())
    assert same_numbers(metrics_from_columns(model.datacollector.model_vars), from_frame)
    assert not math.isnan(from_frame["dominant_period_months"])  # the period is compared, not NaN twice


def test_a_sweep_runs_metrics_equal_those_of_the_public_run():
    config = sim.load_config("ttp_talks", 0, 60, {"pakistan.tolerance": 45.0})
    settings = RunSettings(retry_failed=False, keep_runs=False, collect="metrics", fail_on_seed=None, stale_after=60.0)
    for seed in (0, 5):
        frame = sim.run("ttp_talks", seed=seed, months=60, overrides={"pakistan.tolerance": 45.0})
        assert same_numbers(run_metrics(config, seed, settings, None, None), pattern_metrics(frame))


def test_metrics_from_columns_name_a_missing_column():
    with pytest.raises(KeyError, match="tolerance"):
        metrics_from_columns({c: [1.0] for c in REQUIRED_COLUMNS if c != "tolerance"})


def test_dominant_period_is_that_of_scipys_periodogram():
    from scipy import signal

    p = load_params()

    def by_scipy(x):
        if x.size < p.period_min_months or x.size < 2:
            return math.nan
        detrended = signal.detrend(x, type="linear")
        if float(detrended.max() - detrended.min()) < p.period_min_range or np.ptp(x) == 0.0:
            return math.nan
        power = signal.periodogram(detrended, fs=1.0, detrend=False)[1][1:]
        if power.size == 0 or not np.isfinite(power).all() or power.max() <= 0.0:
            return math.nan
        return x.size / float(np.argmax(power) + 1)

    rng = np.random.default_rng(3)
    series = [sim.run(sc, seed=s)["relations"].to_numpy() for sc, s in (("baseline", 0), ("no_mediators", 4))]
    for k in range(600):
        n = int(rng.integers(2, 260))
        t = np.arange(n)
        kind = k % 5
        if kind == 0:
            series.append(np.cumsum(rng.normal(size=n)) * 0.05)
        elif kind == 1:
            series.append(np.sin(2 * np.pi * t / rng.integers(2, 60)) + 0.01 * rng.normal(size=n))
        elif kind == 2:  # a square wave: odd harmonics of equal spacing
            series.append(np.sign(np.sin(2 * np.pi * t / rng.integers(2, 60) + 0.1)))
        elif kind == 3:  # two periods, even and odd lengths (with and without a Nyquist bin)
            series.append(np.sin(2 * np.pi * t / 12) + 0.5 * np.sin(2 * np.pi * t / 24))
        else:  # a month-to-month flip against a slower wave: the Nyquist bin, not doubled, may win
            series.append(rng.uniform(0.3, 1.0) * (-1.0) ** t + np.sin(2 * np.pi * t / 10))
    found = 0
    for x in series:
        expected = by_scipy(x)
        got = _dominant_period(x, p)
        assert (math.isnan(expected) and math.isnan(got)) or got == expected, (x.size, got, expected)
        found += not math.isnan(got)
    assert found > 400


# ------------------------------------------------------------------------ the event log
def lines_by_month(lines: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in lines:
        stamp, text = line.split(": ", 1)
        out.setdefault(stamp, []).append(text)
    return out


@pytest.mark.parametrize("scenario, seed", [("baseline", 0), ("ttp_talks", 3), ("pressure_first", 1),
                                            ("history_2021_2025", 0)])
def test_event_log_lines_follow_the_changes_in_the_frame(scenario, seed):
    model = sim.build_model(scenario, seed=seed).run()
    frame = model.frame()
    logged = lines_by_month(model.event_log.lines)
    mediators = [c.removeprefix("mediator_").removesuffix("_active") for c in frame if c.startswith("mediator_")]
    seen = 0
    for t in range(1, len(frame)):
        now, before = frame.iloc[t], frame.iloc[t - 1]
        texts = logged.get(f"{now['date']:%Y-%m}", [])

        def logs(start: str) -> bool:
            return any(text.startswith(start) for text in texts)

        expectations = [
            (now["pakistan_stance"] != before["pakistan_stance"], logs("Pakistan turns to")),
            (now["taliban_stance"] != before["taliban_stance"], logs("The Taliban turn to")),
            (now["border"] != before["border"], logs("Pakistan reopens") or logs("Pakistan restricts")
             or logs("The border crossings are shut")),
            (now["diplomatic_level"] != before["diplomatic_level"], logs("Relations ")),
            (now["ceasefire_ttp"] and not before["ceasefire_ttp"], logs("TTP ceasefire begins")),
            (before["ceasefire_ttp"] and not now["ceasefire_ttp"], logs("TTP ceasefire ends")),
            (bool(now["pakistan_strikes"]), logs("Pakistan strikes")),
            (now["pakistan_forced_repatriation"] and not before["pakistan_forced_repatriation"],
             logs("Pakistan begins forced repatriation")),
        ] + [(now[f"mediator_{m}_active"] and not before[f"mediator_{m}_active"], logs(f"{m.capitalize()} steps in"))
             for m in mediators]
        for happened, logged_it in expectations:
            assert bool(happened) == logged_it, (t, texts)
            seen += bool(happened)
    assert seen > 10
