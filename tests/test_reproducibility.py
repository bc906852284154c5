"""Same config and seed give identical results; different seeds differ."""

from __future__ import annotations

import pandas as pd

import sim
from tests.helpers import config, run


def test_same_seed_same_table_and_log():
    a = sim.build_model("baseline", seed=7, months=60).run()
    b = sim.build_model("baseline", seed=7, months=60).run()
    pd.testing.assert_frame_equal(a.frame(), b.frame())
    assert a.event_log.lines == b.event_log.lines


def test_different_seeds_differ():
    a, b = run(config(seed=1, months=60)), run(config(seed=2, months=60))
    assert not a["deaths_total"].equals(b["deaths_total"])


def test_stepping_by_hand_equals_run():
    stepped = sim.build_model("baseline", seed=3, months=24)
    for _ in range(24):
        stepped.step()
    assert not stepped.running
    pd.testing.assert_frame_equal(stepped.frame(), sim.run("baseline", seed=3, months=24))


def test_config_object_and_scenario_name_give_the_same_run():
    cfg = sim.load_config("baseline", seed=5, months=36, overrides={"pakistan.tolerance": 60})
    pd.testing.assert_frame_equal(
        sim.build_model(cfg).run().frame(),
        sim.run("baseline", seed=5, months=36, overrides={"pakistan.tolerance": 60}),
    )


def test_a_run_leaves_its_config_untouched():
    cfg = sim.load_config("history_2021_2025", seed=1)
    before = repr(cfg)
    first = sim.build_model(cfg).run().frame()
    assert repr(cfg) == before
    pd.testing.assert_frame_equal(first, sim.build_model(cfg).run().frame())


def test_stepping_past_the_end_changes_nothing():
    model = sim.build_model("baseline", seed=2, months=12).run()
    before = model.frame()
    for _ in range(3):
        model.step()
    assert not model.running
    pd.testing.assert_frame_equal(model.frame(), before)
