"""Scenario comparison (issue 18): paired effects, their intervals, the seeds-needed
estimate, common random numbers, the run cache and one-line errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import sim
from sim.analysis import compare as cmp
from sim.config import ConfigError
from sim.sweeps.cached_runs import config_key

# Short runs and few seeds keep these tests fast; the effects they look for are large
# enough to show at this size (measured numbers in docs/compare.md).
MONTHS = 24


def test_effects_table_has_the_promised_columns_and_rows(tmp_path):
    table = sim.compare("baseline", "no_mediators", seeds=3, months=12, out=tmp_path, progress=False)
    assert list(table.columns[:6]) == ["metric", "a_mean", "b_mean", "effect", "low", "high"]
    assert list(table["metric"]) == list(cmp.METRICS)
    written = pd.read_csv(tmp_path / "baseline_vs_no_mediators" / "effects.csv")
    assert list(written.columns[:6]) == ["metric", "a_mean", "b_mean", "effect", "low", "high"]
    np.testing.assert_allclose(written["effect"], table["effect"], equal_nan=True)
    # effect is the paired mean difference, so it equals the difference of the two means
    np.testing.assert_allclose(table["effect"], table["b_mean"] - table["a_mean"], atol=1e-9, equal_nan=True)


def test_scenario_against_itself_has_zero_effects_whose_intervals_contain_zero():
    table = sim.compare("baseline", "baseline", seeds=8, months=MONTHS, progress=False)
    defined = table[table["n_pairs"] >= cmp.load_settings().min_pairs]
    assert set(cmp.HEADLINE_TOTALS) <= set(defined["metric"]) and len(defined) >= 8
    assert (defined["effect"] == 0).all()
    assert ((defined["low"] <= 0) & (defined["high"] >= 0)).all()
    assert not defined["sign_clear"].any()
    assert (defined["note"] == "the same in every pair of runs").all()


def test_intervals_cover_the_true_mean_difference_about_as_often_as_stated():
    """Honest uncertainty: on skewed synthetic differences with a known mean (heavy
    tails like fatalities), 95% intervals from 30 pairs hold the true mean about 95%
    of the time, and from 3 pairs (fewer than min_pairs) give no interval at all."""
    settings = dataclasses.replace(cmp.load_settings(), bootstrap_resamples=1999)
    rng = np.random.default_rng(11)
    studies, hits = 200, 0
    for _ in range(studies):
        d = rng.lognormal(0.0, 0.75, size=30) - np.exp(0.75**2 / 2)  # true mean 0
        low, high = cmp.paired_interval(d, settings)
        hits += low <= 0 <= high
    assert 0.87 <= hits / studies <= 0.99
    assert all(np.isnan(cmp.paired_interval(rng.normal(size=settings.min_pairs - 1), settings)))


def test_known_effect_of_mediation_is_found_with_the_right_sign(tmp_path):
    """Mediation switched off against strong mediation: mediators push Pakistan towards
    engagement (docs/ODD.md), so B engages more months and spends fewer in mutual pressure."""
    a, b = "baseline+mediators.strength_scale=0", ("baseline", {"mediators.strength_scale": 3})
    table = sim.compare(a, b, seeds=12, months=48, out=tmp_path, progress=False).set_index("metric")
    for metric in ("share_engaged", "months_engaged"):
        assert table.loc[metric, "effect"] > 0
        assert table.loc[metric, "low"] > 0, table.loc[metric]
        assert table.loc[metric, "sign_clear"]
    assert table.loc["share_hostile", "high"] < 0
    # swapping A and B negates every effect and mirrors its interval (runs come from the cache)
    back = sim.compare(b, a, seeds=12, months=48, out=tmp_path, progress=False).set_index("metric")
    np.testing.assert_allclose(back["effect"], -table["effect"], atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(back["low"], -table["high"], rtol=0.05, atol=1e-6, equal_nan=True)


def test_common_random_numbers_give_narrower_intervals_than_independent_seeds():
    """A refugee policy: Afghans return voluntarily four times as often. It touches only
    the refugee flows, so on the same seed both scenarios see the same start and mostly the
    same violence, border closures and deportation drives, and the paired difference in
    returns is mostly the policy's own effect. With independent seeds the seed-to-seed
    spread of returns (deportation drives, closures) comes on top, and the interval of the
    same effect is many times wider (measured: about 11 times, docs/compare.md). Fatalities, which the
    policy reaches only through fewer deportations to be aggrieved at, barely differ on the
    same seeds, so their paired interval is narrow too."""
    a, b = "baseline", "baseline+world.refugees.voluntary_return_rate=0.004"
    crn = sim.compare(a, b, seeds=12, months=MONTHS, progress=False).set_index("metric")
    ind = sim.compare(a, b, seeds=12, months=MONTHS, independent=True, progress=False).set_index("metric")
    assert crn.loc["total_returns", "low"] > 0  # the policy's effect, found on both
    assert ind.loc["total_returns", "effect"] > 0
    assert crn.loc["total_returns", "width"] < 0.5 * ind.loc["total_returns", "width"]
    assert crn.loc["total_deaths", "width"] < 0.5 * ind.loc["total_deaths", "width"]


def test_seeds_needed_estimate_reaches_the_stated_power():
    """The estimate says how many pairs make the interval exclude zero with probability
    `power` when the effect is as estimated. Checked on synthetic differences with a
    known mean and spread: studies of the suggested size tell the sign about that often."""
    settings = dataclasses.replace(cmp.load_settings(), bootstrap_resamples=999, bootstrap_method="percentile")
    rng = np.random.default_rng(7)
    pilot = rng.normal(0.3, 1.0, size=400)
    low, high = cmp.paired_interval(pilot, settings)
    effect, spread = pilot.mean(), pilot.std(ddof=1)
    target = cmp.target_width(effect, settings)
    needed = int(cmp.seeds_for_width(pilot.size, high - low, target))
    normal_theory = ((1.96 + 0.8416) * spread / effect) ** 2
    assert abs(needed / normal_theory - 1) < 0.15, (needed, normal_theory)
    hits = 0
    studies = 300
    for _ in range(studies):
        lo, hi = cmp.paired_interval(rng.normal(effect, spread, size=needed), settings)
        hits += lo > 0
    assert abs(hits / studies - settings.power) < 0.1


def test_interval_of_constant_and_too_few_differences():
    settings = cmp.load_settings()
    assert cmp.paired_interval(np.full(5, 2.5), settings) == (2.5, 2.5)
    assert all(np.isnan(cmp.paired_interval(np.array([1.0]), settings)))
    n = settings.min_pairs
    a = pd.DataFrame({m: [1.0] * (n - 1) + [np.nan] for m in cmp.METRICS})  # one pair undefined in A
    table = cmp.effects(a, a + 1.0 + np.arange(n)[:, None] * 0.1, settings)
    assert (table["n_pairs"] == n - 1).all()
    assert table["low"].isna().all() and table["note"].str.contains("too few").all()
    assert np.allclose(table["effect"], 1.0 + 0.1 * np.arange(n - 1).mean())


def test_monthly_difference_band_holds_its_mean_and_is_zero_for_identical_runs():
    settings = cmp.load_settings()
    rng = np.random.default_rng(3)
    a = rng.normal(size=(30, 12))
    mean, low, high = cmp.monthly_difference(a, a + 1.0 + rng.normal(scale=0.5, size=a.shape), settings)
    assert np.all(low <= mean) and np.all(mean <= high) and np.all(low > 0)
    mean, low, high = cmp.monthly_difference(a, a, settings)
    assert np.all(mean == 0) and np.all(low == 0) and np.all(high == 0)


def test_both_spellings_of_a_scenario_with_overrides_give_the_same_config():
    arms, configs, _ = cmp.prepare(["baseline+pakistan.tolerance=100+mediators.strength_scale=2",
                                    ("baseline", {"pakistan.tolerance": 100.0, "mediators.strength_scale": 2})])
    assert configs[0].pakistan.tolerance == 100.0 and configs[0].mediators.strength_scale == 2.0
    assert config_key(configs[0]) == config_key(configs[1])
    assert arms[0].label == "baseline+pakistan.tolerance=100+mediators.strength_scale=2"
    # an override for all applies to both, and an arm's own override wins over it
    _, configs, _ = cmp.prepare(["baseline", "baseline+pakistan.tolerance=60"], overrides=["pakistan.tolerance=70"])
    assert [c.pakistan.tolerance for c in configs] == [70.0, 60.0]


def test_run_cache_is_reused_and_gives_the_same_frames(tmp_path):
    config = sim.load_config("baseline", months=12)
    tasks = [(config, 0), (config, 1), (config, 0)]
    first = cmp.run_frames(tasks, cmp.FRAME_COLUMNS, tmp_path, progress=False)
    assert (first.ran, first.reused) == (2, 0)
    again = cmp.run_frames(tasks, cmp.FRAME_COLUMNS, tmp_path, progress=False)
    assert (again.ran, again.reused) == (0, 2)
    for x, y in zip(first.frames, again.frames):
        pd.testing.assert_frame_equal(x, y)
    fresh = cmp.run_frames([(config, 1)], cmp.FRAME_COLUMNS, None, progress=False).frames[0]
    pd.testing.assert_frame_equal(fresh, again.frames[1])
    assert not list(tmp_path.rglob("*.tmp"))
    other = sim.load_config("baseline", months=12, overrides={"pakistan.tolerance": 90})
    assert config_key(other) != config_key(config)
    assert config_key(dataclasses.replace(config, seed=5)) == config_key(config)  # the seed is the file name


@pytest.mark.parametrize("kwargs, field", [
    ({"a": "no_such_scenario"}, "scenario"),
    ({"b": "baseline+pakistan.tolerence=60"}, "pakistan.tolerence"),
    ({"b": "baseline+pakistan.tolerance=-5"}, "pakistan.tolerance"),
    ({"b": "baseline+pakistan.tolerance=60,70"}, "pakistan.tolerance"),
    ({"b": "=60"}, "scenario"),
    ({"b": 42}, "scenario"),
    ({"seeds": []}, "seeds"),
    ({"seeds": 0}, "seeds"),
    ({"seeds": -3}, "seeds"),
    ({"seeds": [1, -1]}, "seeds"),
    ({"seeds": [2, 2]}, "seeds"),
    ({"seeds": True}, "seeds"),
    ({"months": 0}, "months"),
    ({"overrides": {"seed": 3}}, "seed"),
    ({"overrides": ["nosuch.key=1"]}, "nosuch.key"),
    ({"b": "history_2021_2025", "months": None}, "months"),
])
def test_bad_input_is_one_line_naming_the_field(kwargs, field, tmp_path):
    args = {"a": "baseline", "b": "no_mediators", "seeds": 2, "months": 6, "out": tmp_path, "progress": False,
            **kwargs}
    with pytest.raises(ConfigError) as err:
        sim.compare(**args)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{field}:"), message
    assert not any(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize("argv, field", [
    (["baseline"], "scenarios"),
    (["baseline", "nosuch"], "scenario"),
    (["baseline", "no_mediators", "--seeds", "0"], "seeds"),
    (["baseline", "no_mediators", "--seeds", "many"], "seeds"),
    (["baseline", "no_mediators", "pakistan.tolerence=60"], "pakistan.tolerence"),
    (["baseline", "baseline+x", "no_mediators", "no_mediators"], "scenario"),
    (["baseline", "no_mediators", "no_mediators"], "scenarios"),
])
def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(argv, field, tmp_path, capsys):
    from experiments import compare as cli

    try:
        code = cli.main([*argv, "--out", str(tmp_path / "out"), "--months", "6"])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith(f"error: {field}:"), err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_cli_writes_tables_and_figures_for_several_scenarios(tmp_path, capsys):
    from experiments import compare as cli

    out = tmp_path / "out"
    argv = ["baseline", "no_mediators", "--seeds", "3", "china_mediation+mediators.strength_scale=2",
            "--months", "12", "--out", str(out)]  # options may sit between the scenarios
    assert cli.main(argv) == 0
    for b in ("no_mediators", "china_mediation+mediators.strength_scale=2"):
        folder = out / f"baseline_vs_{b}"
        assert (folder / "effects.csv").is_file() and (folder / "compare.png").stat().st_size > 10_000
    group = out / "baseline_vs_no_mediators_china_mediation+mediators.strength_scale=2"
    summary = pd.read_csv(group / "summary.csv")
    assert set(summary["b"]) == {"no_mediators", "china_mediation+mediators.strength_scale=2"}
    assert list(summary.columns[:8]) == ["a", "b", "metric", "a_mean", "b_mean", "effect", "low", "high"]
    assert (group / "forest.png").stat().st_size > 10_000
    assert "9 runs done, 0 reused" in capsys.readouterr().out
    assert cli.main(argv) == 0  # a re-run reads every run from the cache
    assert "0 runs done, 9 reused" in capsys.readouterr().out
    assert cli.main([*argv[:2], "--independent", *argv[2:]]) == 0  # A's runs reused, B's on other seeds
    assert "6 runs done, 3 reused" in capsys.readouterr().out
    assert (out / "baseline_vs_no_mediators_independent-seeds" / "effects.csv").is_file()
    assert (out / "baseline_vs_no_mediators" / "effects.csv").is_file()  # the paired one is kept


@pytest.mark.slow
def test_runs_in_parallel_processes_equal_runs_in_this_process():
    config = sim.load_config("baseline", months=12)
    tasks = [(config, 0), (config, 1), (config, 2)]
    here = cmp.run_frames(tasks, cmp.FRAME_COLUMNS, None, jobs=1, progress=False).frames
    there = cmp.run_frames(tasks, cmp.FRAME_COLUMNS, None, jobs=2, progress=False).frames
    for x, y in zip(here, there):
        pd.testing.assert_frame_equal(x, y)
