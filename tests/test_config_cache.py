"""Compose once (issue 13): a cached composition gives exactly what a fresh Hydra composition gives.

The reference here composes with Hydra directly, every time, and sets the values with
OmegaConf, as ``sim.config`` did before the cache; the cached path must give equal
configs and identical frames, and no caller's change may leak into the cache.
"""

from __future__ import annotations

import copy
import os

import pandas as pd
import pytest
from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from omegaconf import OmegaConf, open_dict

import sim
from sim.config import CONFIG_DIR, ConfigError, cache, compose, load_config, validate
from sim.model.policy_model import PolicyModel

EVENTS = [
    {"date": "+2", "target": "pakistan.strikes", "value": True, "months": 1, "note": "a strike"},
    {"date": "+3", "target": "world.border", "value": "closed", "months": 4},
    {"date": "+5", "target": "pakistan.tolerance", "op": "multiply", "value": 0.5},
]
CASES = [  # (scenario, seed, months, overrides)
    ("baseline", 0, 36, None),
    ("baseline", 3, 36, {"pakistan.tolerance": 55, "mediators.strength_scale": 1.5}),
    ("baseline", 1, 36, {"scenario.events": EVENTS}),
    ("pressure_first", 2, 36, {"taliban.cohesion": 0.4}),
    (None, 4, 36, {"scenario": "engagement_first", "world.trade.base": 120.0}),
    ("history_2021_2025", 0, 30, {"history.mode": "free"}),
    ("history_2021_2025", 1, 30, {"history.mode": "forced", "militants.resettled_per_release": 800}),
    ("baseline", 5, 36, ["pakistan.tolerance=45", "output.figures=false", "metrics.thaw_min_months=4"]),
    (None, 6, 36, ["scenario=china_mediation", "mediators.parties.china.strength=0.9"]),
]


def fresh(scenario, seed, months, overrides) -> sim.Config:
    """Hydra composition from scratch, values set with OmegaConf: the behaviour before the cache."""
    lines, values = [], {}
    if isinstance(overrides, dict):
        for k, v in overrides.items():
            (lines.append(f"{k}={v}") if k == "scenario" else values.__setitem__(k, v))
    elif overrides:
        lines = list(overrides)
    if scenario is not None:
        lines.append(f"scenario={scenario}")
    lines += [f"seed={seed}", f"months={'null' if months is None else months}"]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        cfg = hydra_compose(config_name="config", overrides=lines)
    for key, value in values.items():
        with open_dict(cfg):
            OmegaConf.update(cfg, key, value, merge=False)
    return validate(cfg)


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_cached_config_equals_a_fresh_composition(case):
    reference = fresh(*case)
    first = load_config(*case)   # may compose (a miss) ...
    second = load_config(*case)  # ... this one is served from the cache
    assert first == reference
    assert second == reference


@pytest.mark.parametrize("case", [CASES[2], CASES[4], CASES[6], CASES[7]], ids=["events", "scenario-choice",
                                                                               "interpolation", "lines"])
def test_cached_runs_give_frames_identical_to_fresh_ones(case):
    expected = PolicyModel(fresh(*case)).run().frame()
    pd.testing.assert_frame_equal(sim.run(*case), expected)
    pd.testing.assert_frame_equal(sim.run(*case), expected)


def test_compose_returns_the_same_raw_config_as_hydra():
    reference = fresh("baseline", 0, 12, None)
    raw = compose("baseline", 0, 12)
    assert validate(raw) == reference
    assert OmegaConf.to_container(raw) == OmegaConf.to_container(compose("baseline", 0, 12))


def test_composition_is_done_once_per_group_choice():
    load_config("low_tolerance", overrides={"pakistan.tolerance": 30})
    before = dict(cache.stats)
    for value in (31, 32, 33):
        load_config("low_tolerance", seed=value, overrides={"pakistan.tolerance": value})
    assert cache.stats["misses"] == before["misses"]
    assert cache.stats["hits"] == before["hits"] + 3


def test_a_callers_changes_never_reach_the_cache():
    events = [dict(EVENTS[0])]
    overrides = {"scenario.events": events}
    a = load_config("baseline", overrides=overrides)
    events[0]["value"] = "not a bool"        # the caller edits its own list afterwards
    a.pakistan.tolerance = 1.0               # and the config it got
    a.scenario.events.clear()
    raw = compose("baseline")
    raw.pakistan.tolerance = 2.0             # and a raw config
    del raw.scenario.events[0:]
    b = load_config("baseline", overrides={"scenario.events": [dict(EVENTS[0])]})
    assert b == fresh("baseline", 0, None, {"scenario.events": [dict(EVENTS[0])]})
    assert load_config("baseline") == fresh("baseline", 0, None, None)
    assert len(compose("baseline").scenario.events) == len(fresh("baseline", 0, None, None).scenario.events)


def test_a_config_file_edited_on_disk_is_read_again(tmp_path):
    folder = tmp_path / "configs"
    (folder / "scenario").mkdir(parents=True)
    text = (CONFIG_DIR / "scenario" / "baseline.yaml").read_text().replace("name: baseline", "name: mine")
    mine = folder / "scenario" / "mine.yaml"
    mine.write_text(text)
    sim.config.add_config_dir(folder)
    try:
        assert load_config("mine").scenario.months == 120
        mine.write_text(text.replace("months: 120", "months: 60"))
        os.utime(mine, ns=(mine.stat().st_atime_ns, mine.stat().st_mtime_ns + 10**9))
        assert load_config("mine").scenario.months == 60
    finally:
        sim.config.remove_config_dir(folder)
    with pytest.raises(ConfigError, match="unknown scenario 'mine'"):
        load_config("mine")


def test_a_value_set_under_an_interpolation_is_resolved_again():
    config = load_config("history_2021_2025", overrides={"militants.resettled_per_release": 321})
    adds = [e.value for e in config.scenario.events if e.target.endswith(".strength") and e.op == "add"]
    assert 321 in adds
    assert 321 not in [e.value for e in load_config("history_2021_2025").scenario.events]


def test_cache_holds_deep_copies_only():
    base = load_config("baseline")
    again = copy.deepcopy(base)
    base.militants.groups["ttp"].attack_rate = 99.0
    assert load_config("baseline") == again
