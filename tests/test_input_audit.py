"""Bad input found by a hostile-user audit: each case is stopped with one line before anything runs.

Every test here failed (a traceback, a vague or multi-line message, or bad data silently
accepted) before the fix it names. In-process through the API, ``sim.__main__.prepare``
(the command line's check) and ``sim.sweeps.aggregate.main`` wherever possible.
"""

from __future__ import annotations

import pytest

import sim
from sim.config import ConfigError


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text, text
    return text


# ------------------------------------------------------------------ overrides (API and CLI)
@pytest.mark.parametrize("scenario", [None, "baseline"])
def test_deleting_the_scenario_group_is_refused_with_one_line(scenario):
    # (was: IndexError from the scenario choice of a "~scenario" line)
    with pytest.raises(ConfigError) as err:
        sim.load_config(scenario, overrides=["~scenario"])
    assert one_line(err.value) == "scenario: missing config group"


# ------------------------------------------------------------------------------ events
@pytest.mark.parametrize("op", ["add", "multiply"])
def test_a_huge_whole_number_for_add_or_multiply_is_refused_with_one_short_line(op):
    # (was: OverflowError from math.isfinite on an int too large for a float)
    event = {"date": "+1", "target": "pakistan.tolerance", "op": op, "value": 10**400}
    with pytest.raises(ConfigError) as err:
        sim.load_config(overrides={"scenario.events": [event]})
    message = one_line(err.value)
    assert message.startswith(f"scenario.events[0].value: a whole number of 401 digits is not allowed for op {op}; "
                              f"give a finite number")
    assert len(message) < 200


def test_a_huge_whole_number_parameter_is_named_by_its_length_not_its_digits():
    with pytest.raises(ConfigError) as err:
        sim.load_config(overrides={"pakistan.tolerance": 10**400})
    assert one_line(err.value) == ("pakistan.tolerance: a whole number of 401 digits is out of range; "
                                   "allowed 0 <= value <= 100000")


# ------------------------------------------------------------------------ teaching app
@pytest.mark.parametrize(("raw", "message"), [
    ({"seed": 10**400}, "seed: a whole number of 401 digits is out of range; allowed: a whole number from 0 to 99999"),
    ({"tolerance": 10**400}, "tolerance: a whole number of 401 digits is out of range; allowed: a whole number from"),
    ({"start": ["today"]}, "start: ['today'] is not allowed; allowed: today, stylized"),
    ({"start": {"today": 1}}, "start: {'today': 1} is not allowed; allowed: today, stylized"),
])
def test_app_fields_refuse_huge_and_unhashable_values_with_one_line(raw, message):
    # (was: OverflowError and TypeError "unhashable type")
    from sim.app.app_settings import check_settings

    with pytest.raises(ConfigError) as err:
        check_settings(**raw)
    assert one_line(err.value).startswith(message)


# ------------------------------------------------------------------------- command line
@pytest.mark.parametrize(("argv", "message"), [
    # (was: Hydra's "Error parsing command line" / usage screen, or the current folder silently
    #  added as a config folder for an empty --config-dir=)
    (["--config-dir"], "--config-dir: needs a value"),
    (["-cd"], "-cd: needs a value"),
    (["--config-dir=", "months=1"], "--config-dir: needs a value"),
    (["--unknown-flag", "months=1"], "--unknown-flag: unknown option; allowed: -m/--multirun"),
    (["-x", "months=1"], "-x: unknown option; allowed: -m/--multirun"),
    # (was: argparse's abbreviation made this a sweep that skipped every sweep check)
    (["--multi", "months=1"], "--multi: unknown option; allowed: -m/--multirun"),
    (["-m", "--run", "months=1"], "--run: cannot be combined with -m/--multirun"),
])
def test_command_line_flags_are_checked_before_hydra_starts(argv, message, tmp_path, monkeypatch):
    from sim.__main__ import prepare

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as err:
        prepare(argv)
    assert one_line(err.value).startswith(message)
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize(("argv", "message"), [
    # (was: the later value silently replaced the earlier sweep)
    (["-m", "pakistan.tolerance=10,20", "pakistan.tolerance=30,40"],
     "pakistan.tolerance: given twice (pakistan.tolerance=10,20 and pakistan.tolerance=30,40); a sweep takes each key once"),
    (["-m", "pakistan.tolerance=10,20", "pakistan.tolerance=30"], "pakistan.tolerance: given twice"),
    # (was: ignored by the batched sweeper, a failing job under the basic one)
    (["-m", "sweep.invocation=abc"], "sweep.invocation: set by the sweeper for each job"),
    (["-m", "hydra/sweeper=basic", "sweep.batch=3"], "sweep.batch: set by the sweeper for each job"),
    # (was: the sweep wrote its files into the current folder)
    (["-m", "hydra.sweep.dir="], "hydra.sweep.dir: empty; give the sweep's folder"),
    # (was: the Optuna sweeper ran no trial, divided by zero, or failed on a bare assertion, after starting)
    (["-m", "experiment=policy_search", "hydra.sweeper.n_trials=0"],
     "hydra.sweeper.n_trials: 0 is not allowed; allowed a whole number >= 1"),
    (["-m", "experiment=policy_search", "hydra.sweeper.n_jobs=0"], "hydra.sweeper.n_jobs: 0 is not allowed"),
    (["-m", "experiment=policy_search", "hydra.sweeper.n_trials=2.5"], "hydra.sweeper.n_trials: 2.5 is not allowed"),
    (["-m", "experiment=policy_search", "hydra.sweeper.max_failure_rate=2"],
     "hydra.sweeper.max_failure_rate: 2 is not allowed; allowed 0 <= value <= 1"),
])
def test_sweep_command_lines_that_hydra_would_run_wrongly_are_refused(argv, message, tmp_path, monkeypatch):
    from sim.__main__ import prepare

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as err:
        prepare(argv)
    assert one_line(err.value).startswith(message)
    assert list(tmp_path.iterdir()) == []


def test_a_key_given_twice_without_a_sweep_keeps_the_last_value_as_in_hydra():
    from sim.sweeps.plan import check_sweep

    from sim.__main__ import _check_sweep_lines

    _check_sweep_lines(["pakistan.tolerance=10", "pakistan.tolerance=30"])  # not refused
    assert check_sweep(["pakistan.tolerance=10", "pakistan.tolerance=30"]) == [["pakistan.tolerance=30"]]
