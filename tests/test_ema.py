"""The model as an EMA Workbench Model (sim/analysis/ema.py, ``sim.ema_model``).

A tiny ``perform_experiments`` runs through ``sim.ema_model()``; its outcomes are the
same numbers ``sim.run`` gives for the same settings and seeds; numpy values from the
workbench work; the uncertainties, levers and outcome kinds are the ones the sensitivity
settings and the policy search name; bad input stops with one line.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from omegaconf import OmegaConf

import sim
from sim.analysis.ema import LEVERS_PATH, SPREAD_SUFFIX, UNCERTAINTIES_PATH, ema_name, run_experiment
from sim.analysis.metrics import METRIC_NAMES
from sim.config import ConfigError

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from ema_workbench import MultiprocessingEvaluator, ScalarOutcome, SequentialEvaluator, perform_experiments

MONTHS = 12
SEEDS = 2


@pytest.fixture(scope="module")
def model():
    return sim.ema_model("baseline", months=MONTHS, seeds=SEEDS)


@pytest.fixture(scope="module")
def eight(model):
    """8 scenarios (Latin hypercube over the uncertainties) x 1 policy drawn from the levers."""
    with SequentialEvaluator(model) as evaluator:
        return evaluator.perform_experiments(scenarios=8, policies=1, uncertainty_sampling_kwargs={"rng": 1},
                                             lever_sampling_kwargs={"rng": 2})


def _overrides(model, row) -> dict:
    return {p.variable_name[0]: row[p.name].item() if hasattr(row[p.name], "item") else row[p.name]
            for p in [*model.uncertainties, *model.levers]}


def test_eight_scenarios_run_through_perform_experiments(model, eight):
    experiments, outcomes = eight
    assert len(experiments) == 8
    names = [p.name for p in [*model.uncertainties, *model.levers]]
    assert set(names) <= set(experiments.columns)
    for p in model.uncertainties:  # every sampled value lies in its range
        column = experiments[p.name]
        assert column.between(p.lower_bound, p.upper_bound).all(), p.name
        assert column.nunique() == 8, p.name  # Latin hypercube: 8 different values
    assert set(outcomes) == set(METRIC_NAMES) | {m + SPREAD_SUFFIX for m in METRIC_NAMES}
    for name, values in outcomes.items():
        assert values.shape == (8,), name
    for name in ("share_engaged", "mean_monthly_fatalities", "forward_steps"):  # defined in every run
        assert np.isfinite(outcomes[name]).all() and np.isfinite(outcomes[name + SPREAD_SUFFIX]).all()
    assert outcomes["share_engaged"].min() >= 0.0 and outcomes["share_engaged"].max() <= 1.0
    assert outcomes["mean_monthly_fatalities"].std() > 0  # the scenarios differ


def test_an_experiment_gives_what_sim_run_gives_for_its_settings_and_seeds(model, eight):
    experiments, outcomes = eight
    for i in (0, 5):
        overrides = _overrides(model, experiments.iloc[i])
        runs = [sim.pattern_metrics(sim.run("baseline", seed, MONTHS, overrides)) for seed in range(SEEDS)]
        for name in ("share_engaged", "mean_monthly_fatalities", "forward_steps", "mean_thaw_duration"):
            values = np.array([r[name] for r in runs])
            defined = values[~np.isnan(values)]
            expect = defined.mean() if defined.size else math.nan
            spread = defined.std(ddof=1) if defined.size > 1 else math.nan
            np.testing.assert_equal(outcomes[name][i], expect, err_msg=name)
            np.testing.assert_allclose(outcomes[name + SPREAD_SUFFIX][i], spread, rtol=1e-12, err_msg=name)


def test_numpy_values_from_the_workbench_are_accepted():
    plain = run_experiment("baseline", MONTHS, (0,), None, **{"pakistan.tolerance": 60.0,
                                                              "pakistan.repatriation_after_months": 6})
    numpy = run_experiment(np.str_("baseline"), np.int64(MONTHS), (np.int64(0),), None,
                           **{"pakistan.tolerance": np.float64(60.0),
                              "pakistan.repatriation_after_months": np.int64(6)})
    assert plain.keys() == numpy.keys()
    for name in plain:
        np.testing.assert_equal(numpy[name], plain[name], err_msg=name)


def test_uncertainties_levers_and_outcome_kinds_come_from_the_settings(model):
    sensitivity = OmegaConf.load(UNCERTAINTIES_PATH).parameters
    search = OmegaConf.load(LEVERS_PATH)
    levers = {p.variable_name[0]: p for p in model.levers}
    uncertain = {p.variable_name[0]: p for p in model.uncertainties}
    assert set(levers) == set(search.hydra.sweeper.params) and all(k.startswith("pakistan.") for k in levers)
    assert set(uncertain) == set(sensitivity) - set(levers)  # a lever is never also an uncertainty
    for path, p in uncertain.items():
        assert p.name == ema_name(path) and p.name.isidentifier()
        assert (p.lower_bound, p.upper_bound) == (sensitivity[path].low, sensitivity[path].high)
    assert (levers["pakistan.tolerance"].lower_bound, levers["pakistan.tolerance"].upper_bound) == (40.0, 160.0)
    assert type(levers["pakistan.repatriation_after_months"]).__name__ == "IntegerParameter"
    kinds = {o.name: o.kind for o in model.outcomes}
    assert kinds["mean_thaw_duration"] == ScalarOutcome.MAXIMIZE
    assert kinds["mean_monthly_fatalities"] == ScalarOutcome.MINIMIZE
    assert kinds["share_engaged"] == ScalarOutcome.INFO


def test_fixed_overrides_leave_the_uncertainties_and_reach_every_run():
    m = sim.ema_model(months=MONTHS, seeds=1, overrides={"mediators.strength_scale": 0.0}, levers=False)
    assert "mediators.strength_scale" not in {p.variable_name[0] for p in m.uncertainties}
    assert "pakistan.tolerance" in {p.variable_name[0] for p in m.uncertainties} and not list(m.levers)
    experiments, outcomes = perform_experiments(m, scenarios=2, uncertainty_sampling_kwargs={"rng": 3})
    overrides = {**_overrides(m, experiments.iloc[1]), "mediators.strength_scale": 0.0}
    expect = sim.pattern_metrics(sim.run("baseline", 0, MONTHS, overrides))
    assert outcomes["mean_monthly_fatalities"][1] == expect["mean_monthly_fatalities"]


@pytest.mark.slow
def test_the_multiprocessing_evaluator_gives_the_sequential_results(model, eight):
    experiments, outcomes = eight
    with MultiprocessingEvaluator(model, n_processes=2) as evaluator:
        mp_experiments, mp_outcomes = evaluator.perform_experiments(
            scenarios=8, policies=1, uncertainty_sampling_kwargs={"rng": 1}, lever_sampling_kwargs={"rng": 2})
    names = [p.name for p in [*model.uncertainties, *model.levers]]
    np.testing.assert_array_equal(mp_experiments[names].to_numpy(), experiments[names].to_numpy())
    for name in outcomes:
        np.testing.assert_array_equal(mp_outcomes[name], outcomes[name], err_msg=name)


@pytest.mark.parametrize("kwargs, says", [
    ({"scenario": "no_such_scenario"}, "scenario: unknown scenario 'no_such_scenario'"),
    ({"seeds": 0}, "ema_model.seeds: 0 is not allowed; give a whole number >= 1"),
    ({"months": 2.5}, "ema_model.months: 2.5 is not allowed"),
    ({"overrides": {"pakistan.tolerence": 50}}, "pakistan.tolerence: unknown parameter; did you mean pakistan.tolerance?"),
    ({"overrides": {"taliban.cohesion": 0.1}, "levers": False}, None),  # a valid fixed value: no error
])
def test_bad_input_stops_with_one_line(kwargs, says):
    if says is None:
        sim.ema_model(months=MONTHS, **kwargs)
        return
    with pytest.raises(ConfigError) as err:
        sim.ema_model(**kwargs)
    assert says in str(err.value) and "\n" not in str(err.value)
