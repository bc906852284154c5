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
