"""Numpy-driven clients (issue 13): numpy scalars are accepted wherever a Python number is.

EMA Workbench, pandas rows and SALib hand over ``numpy.float64``, ``float32``,
``int64`` and ``bool_``; each must give exactly the run the same Python value gives.
Anything that is not a plain value still gets one clear line.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sim
from sim.config import ConfigError, load_config

MONTHS = 24


@pytest.mark.parametrize(("numpy_value", "python_value", "key"), [
    (np.float64(55.5), 55.5, "pakistan.tolerance"),
    (np.float32(0.3), float(np.float32(0.3)), "taliban.cohesion"),
    (np.int64(6), 6, "pakistan.repatriation_after_months"),
    (np.int32(55), 55, "pakistan.tolerance"),
    (np.bool_(True), True, "influences.iran_route"),
])
def test_numpy_override_values_give_the_same_config(numpy_value, python_value, key):
    a = load_config("baseline", overrides={key: numpy_value})
    b = load_config("baseline", overrides={key: python_value})
    assert a == b
    group, _, name = key.rpartition(".")
    value = getattr(getattr(a, group), name)
    assert type(value) is type(getattr(getattr(b, group), name))  # plain Python, not numpy


def test_numpy_seed_months_and_values_give_identical_frames():
    numpy_frame = sim.run("baseline", seed=np.int64(7), months=np.int64(MONTHS),
                          overrides={"pakistan.tolerance": np.float64(60.0), "influences.iran_route": np.bool_(True),
                                     "mediators.strength_scale": np.float32(1.5)})
    python_frame = sim.run("baseline", seed=7, months=MONTHS,
                           overrides={"pakistan.tolerance": 60.0, "influences.iran_route": True,
                                      "mediators.strength_scale": 1.5})
    pd.testing.assert_frame_equal(numpy_frame, python_frame)


def test_numpy_values_inside_events_give_identical_frames():
    a = sim.run("baseline", seed=1, months=MONTHS, overrides={"scenario.events": [
        {"date": "+2", "target": "pakistan.tolerance", "op": "multiply", "value": np.float64(0.5), "months": np.int64(3)},
        {"date": "+4", "target": "pakistan.strikes", "value": np.bool_(True)}]})
    b = sim.run("baseline", seed=1, months=MONTHS, overrides={"scenario.events": [
        {"date": "+2", "target": "pakistan.tolerance", "op": "multiply", "value": 0.5, "months": 3},
        {"date": "+4", "target": "pakistan.strikes", "value": True}]})
    pd.testing.assert_frame_equal(a, b)


def test_a_float64_whole_number_is_a_whole_number():
    assert load_config(seed=np.float64(3.0)).seed == 3
    assert load_config(overrides={"pakistan.repatriation_after_months": np.float64(5.0)}).pakistan \
        .repatriation_after_months == 5


@pytest.mark.parametrize(("overrides", "seed", "field"), [
    ({"pakistan.tolerance": np.array([60.0, 70.0])}, 0, "pakistan.tolerance"),
    ({"pakistan.tolerance": {60.0}}, 0, "pakistan.tolerance"),
    ({"pakistan.tolerance": object()}, 0, "pakistan.tolerance"),
    ({"pakistan.tolerance": np.datetime64("2020-01-01")}, 0, "pakistan.tolerance"),
    ({"pakistan.tolerance": np.float64("nan")}, 0, "pakistan.tolerance"),
    ({"pakistan.tolerance": np.float64("inf")}, 0, "pakistan.tolerance"),
    (None, np.float64(2.5), "seed"),
    (None, np.array(3), "seed"),
    (None, "3", "seed"),
])
def test_anything_else_gets_one_line_naming_the_field(overrides, seed, field):
    with pytest.raises(ConfigError) as err:
        load_config("baseline", seed=seed, overrides=overrides)
    text = str(err.value)
    assert text.startswith(f"{field}: ") and "\n" not in text
