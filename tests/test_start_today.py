"""Scenarios start from today (docs/ODD.md, "Starting from today"; sim/model/handover.py).

A run with ``start=today`` replays the record (August 2021 - November 2025, forced mode)
with its own seed and parameter set and hands every state over to the agents in
December 2025. These tests check the hand-over state against an independent replay,
field by field; that overrides act only from the hand-over on; that ``start=stylized``
keeps the hand-set 2026 start; the parameter draws; reproducibility with a cold and a
warm cache, in one process and across processes; and the one-line errors.
"""

from __future__ import annotations

import dataclasses
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.config import ConfigError, load_config
from sim.config import start as start_settings
from sim.model import handover
from sim.model.policy_model import PolicyModel
from sim.model.world import WorldState

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Each test module run gets its own disk cache, so the repo's results/ stays untouched."""
    monkeypatch.setenv(handover.CACHE_ENV, str(tmp_path_factory.getbasetemp() / "replay_cache"))


def same(a, b) -> bool:
    """Equality of two state values, generators by their state, slot objects slot by slot."""
    if isinstance(a, np.random.Generator):
        return isinstance(b, np.random.Generator) and a.bit_generator.state == b.bit_generator.state
    if isinstance(a, random.Random):
        return isinstance(b, random.Random) and a.getstate() == b.getstate()
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if hasattr(a, "__slots__") and not isinstance(a, (int, float, str)):
        return type(a) is type(b) and all(same(getattr(a, s), getattr(b, s)) for s in a.__slots__)
    return a == b


def independent_replay(seed: int, draw: int) -> PolicyModel:
    """The record replayed directly (no snapshot cache), its holds ended as the record ends."""
    model = PolicyModel(handover.replay_config(seed, draw)).run()
    handover.end_holds(model)
    return model


# ------------------------------------------------------------------ the hand-over
@pytest.mark.parametrize("seed,draw", [(0, 0), (5, 2)])
def test_state_at_handover_equals_the_replays_end_state_field_by_field(seed, draw):
    handover.clear_cache()
    replayed = independent_replay(seed, draw)
    run = sim.build_model("baseline", seed=seed, overrides={"params_draw": draw})  # not yet stepped
    assert run.params_draw == draw
    theirs, ours = handover.carried_objects(replayed), handover.carried_objects(run)
    assert theirs.keys() == ours.keys()
    checked = 0
    for name, obj in theirs.items():
        for attr, value in handover.state_of(obj).items():
            assert same(getattr(ours[name], attr), value), f"{name}.{attr} differs at the hand-over"
            checked += 1
    for attr, value in handover.model_streams(replayed).items():
        assert same(getattr(run, attr), value), f"model.{attr} (a random stream) differs at the hand-over"
    assert checked > 100  # world, both states, every militant group and mediator, the influences
    # The record's late-2025 facts carried as today's parameters (India's outreach after Muttaqi's visit, ...)
    assert run.config.influences.india_outreach == replayed.config.influences.india_outreach
    assert run.config.pakistan.military_weight == replayed.config.pakistan.military_weight
    # ... but not the replay's own switches (the record supplied strikes; the future's agents choose them)
    assert run.config.pakistan.strike_prob == load_config("baseline").pakistan.strike_prob != 0


def test_the_handover_is_not_the_stylized_start():
    """The check above can fail: the stylized start differs from the replay's end in every kind of state."""
    replayed = independent_replay(0, 0)
    stylized = sim.build_model("baseline", seed=0, overrides={"start": "stylized"})
    for attr in ("relations", "refugees_undocumented", "trade", "border"):
        assert getattr(stylized.world, attr) != getattr(replayed.world, attr), attr
    assert stylized.militants["ttp"].strength != replayed.militants["ttp"].strength
    assert stylized.pakistan.attractions.pressure != replayed.pakistan.attractions.pressure


def test_frame_holds_the_forward_months_and_the_replay_stays_on_the_model():
    model = sim.build_model("baseline", seed=1, months=18).run()
    frame = model.frame()
    first, span = start_settings.record_span()
    assert len(frame) == 18
    assert frame["date"].iloc[0] == pd.Timestamp(start_settings.handover_month())
    replay = model.replay_frame
    assert len(replay) == span and replay["date"].iloc[0] == pd.Timestamp(first)
    assert replay["date"].iloc[-1] < frame["date"].iloc[0]
    # the frame's first month continues the replay's last (the stocks move by one month's flows)
    stock = replay["refugees_in_pakistan"].iloc[-1]
    flows = frame[["refugee_arrivals", "returns_voluntary", "returns_forced"]].iloc[0]
    assert frame["refugees_in_pakistan"].iloc[0] == stock + flows["refugee_arrivals"] - flows["returns_voluntary"] - flows["returns_forced"]
    # pattern metrics read the forward months only
    assert sim.pattern_metrics(frame) == sim.pattern_metrics(model.frame())
    # a copy: changing it does not change the next run's replay
    replay.loc[0, "relations"] = 99.0
    assert model.replay_frame.loc[0, "relations"] != 99.0


def test_overrides_change_nothing_before_december_2025_and_change_the_future():
    seed, months = 2, 36
    base = sim.build_model("baseline", seed=seed, months=months, overrides={"params_draw": "best"}).run()
    changed = sim.build_model("baseline", seed=seed, months=months,
                              overrides={"params_draw": "best", "pakistan.tolerance": 400.0,
                                         "militants.groups.ttp.attack_rate": 8.0}).run()
    pd.testing.assert_frame_equal(base.replay_frame, changed.replay_frame)
    assert changed.config.pakistan.tolerance == 400.0
    assert changed.config.militants.groups["ttp"].attack_rate == 8.0  # the override beats the draw
    a, b = base.frame(), changed.frame()
    assert (a["attacks_ttp"].sum(), a["pakistan_p_engage"].mean()) != (b["attacks_ttp"].sum(), b["pakistan_p_engage"].mean())


def test_a_tolerance_set_from_today_is_the_tolerance_pakistan_weighs():
    """The habituation state carried from the replay is an offset: a new tolerance acts at once."""
    kw = dict(seed=1, months=24, overrides={"params_draw": "best"})
    low = sim.run("baseline", **kw)
    high = sim.run("baseline", seed=1, months=24, overrides={"params_draw": "best", "pakistan.tolerance": 400.0})
    assert (low["tolerance"] == 80.0).all() and (high["tolerance"] == 400.0).all()
    assert (high["pakistan_stance"] == "engage").mean() > (low["pakistan_stance"] == "engage").mean() + 0.5


def test_scenario_settings_beat_the_records_facts():
    """A parameter the record moved (Türkiye brought in, October 2025) is today's value, unless the scenario sets it."""
    model = sim.build_model("no_mediators", seed=0, months=2)
    assert not any(m.params.available for m in model.mediators.values())
    moved = {path: value for path, value in model.record.today_params.items()
             if path.startswith("mediators.parties.") and path.endswith(".available")}
    if not moved:
        pytest.skip("the record brings in no mediator")
    baseline = sim.build_model("baseline", seed=0, months=2)
    for path, value in moved.items():
        assert handover.get_path(baseline.config, path) == value != handover.get_path(load_config("baseline"), path)


# ------------------------------------------------------------------ the stylized start
def test_stylized_start_is_the_hand_set_2026_start():
    config = load_config("baseline", seed=0, overrides={"start": "stylized"})
    model = PolicyModel(config)
    assert model.params_draw is None and model.replay_frame is None
    assert model.start_date.isoformat() == "2026-01-01" == config.scenario.start_date + "-01"
    fresh = WorldState.initial(model.config.world, list(model.militants), model.config.pakistan.economic_stress)
    for f in dataclasses.fields(WorldState):
        assert same(getattr(model.world, f.name), getattr(fresh, f.name)), f.name
    for name, group in model.militants.items():
        assert group.strength == config.militants.groups[name].strength
    assert model.pakistan.stance == config.pakistan.initial_stance
    frame = model.run().frame()
    assert frame["date"].iloc[0] == pd.Timestamp("2026-01-01")
    pd.testing.assert_frame_equal(frame, sim.run("baseline", seed=0, overrides={"start": "stylized"}))


def test_history_scenario_is_the_record_whatever_start_says():
    for start in ("today", "stylized"):
        model = sim.build_model("history_2021_2025", seed=0, months=3, overrides={"start": start})
        assert model.params_draw is None and model.replay_frame is None
        assert model.start_date == start_settings.record_span()[0]


def test_every_named_scenario_runs_from_today():
    month = pd.Timestamp(start_settings.handover_month())
    for name in sim.config.scenario_names():
        if name.startswith("history"):
            continue
        frame = sim.run(name, seed=0, months=3)
        assert len(frame) == 3 and frame["date"].iloc[0] == month, name


# ------------------------------------------------------------------ parameter draws
def test_different_seeds_draw_different_parameter_sets_and_a_seed_always_the_same():
    n = len(start_settings.ensemble().sets)
    draws = [start_settings.draw_index("auto", seed, n) for seed in range(30)]
    assert len(set(draws)) > 1 and all(0 <= d < n for d in draws)
    assert draws == [start_settings.draw_index("auto", seed, n) for seed in range(30)]
    models = {seed: sim.build_model("baseline", seed=seed, months=1) for seed in range(8)}
    assert len({m.params_draw for m in models.values()}) > 1
    for seed, model in models.items():
        values = start_settings.ensemble().sets[model.params_draw].values
        assert model.config.militants.groups["ttp"].attack_rate == values["militants.groups.ttp.attack_rate"]
    assert sim.build_model("baseline", seed=3, months=1, overrides={"params_draw": "best"}).params_draw == 0


def test_a_fixed_draw_gives_identical_runs_with_a_cold_or_warm_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(handover.CACHE_ENV, str(tmp_path / "cache"))
    args = dict(seed=4, months=24, overrides={"params_draw": 1})
    handover.clear_cache()
    before = dict(handover.stats)
    cold = sim.run("pressure_first", **args)                     # replayed, written to disk
    warm_process = sim.run("pressure_first", **args)            # this process's snapshot
    handover.clear_cache()
    warm_disk = sim.run("pressure_first", **args)               # read from disk
    assert handover.stats["replays"] == before["replays"] + 1
    assert handover.stats["disk_hits"] == before["disk_hits"] + 1
    monkeypatch.setenv(handover.CACHE_ENV, "off")
    handover.clear_cache()
    no_cache = sim.run("pressure_first", **args)
    for other in (warm_process, warm_disk, no_cache):
        pd.testing.assert_frame_equal(cold, other)
    assert list((tmp_path / "cache").glob("*.pkl"))  # written whole (no temporary file left)
    assert not list((tmp_path / "cache").glob(".*.tmp"))


class KeywordModel(PolicyModel):
    """A subclass built from keywords, as ``mesa.batch_run`` builds models."""

    def __init__(self, rng: int = 0, months: int = 12):
        super().__init__(load_config("baseline", seed=int(rng), months=months))


def test_a_subclass_built_from_keywords_starts_from_today_with_a_cold_cache(monkeypatch):
    monkeypatch.setenv(handover.CACHE_ENV, "off")
    handover.clear_cache()
    frame = KeywordModel(rng=7).run().frame()
    reference = sim.run("baseline", seed=7, months=12)
    pd.testing.assert_frame_equal(frame, reference)


@pytest.mark.slow
def test_same_seed_and_draw_give_identical_runs_across_processes(tmp_path):
    code = ("import json, sim; f = sim.run('baseline', seed=6, months=12); "
            "print(json.dumps([float(x) for x in f['relations']] + [int(x) for x in f['attacks']]))")
    env = {"PATH": "/usr/bin:/bin", handover.CACHE_ENV: str(tmp_path / "cache")}
    outs = [subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                           check=True).stdout for _ in range(2)]  # the first cold, the second from disk
    assert outs[0] == outs[1]
    here = sim.run("baseline", seed=6, months=12)
    assert json.loads(outs[0]) == [float(x) for x in here["relations"]] + [int(x) for x in here["attacks"]]


# ------------------------------------------------------------------ one-line errors
@pytest.mark.parametrize("overrides,message", [
    ({"start": "tomorrow"}, "start: 'tomorrow' is not allowed; allowed values: today, stylized"),
    ({"params_draw": "worst"}, "params_draw: 'worst' is not allowed; allowed: auto, best, or a set index"),
    ({"params_draw": 10_000}, "params_draw: 10000 is out of range; allowed: auto, best, or a set index"),
    ({"params_draw": -1}, "params_draw: -1 is out of range; allowed: auto, best, or a set index"),
])
def test_bad_start_settings_are_refused_with_one_line(overrides, message):
    with pytest.raises(ConfigError) as err:
        load_config("baseline", overrides=overrides)
    text = str(err.value)
    assert text.startswith(message) and "\n" not in text


@pytest.mark.slow
def test_cli_refuses_an_unknown_start_with_one_line():
    out = subprocess.run([sys.executable, "-m", "sim", "start=tomorrow"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip() == "error: start: 'tomorrow' is not allowed; allowed values: today, stylized"


# ------------------------------------------------------------------ the dashboard
def test_dashboard_draws_the_replayed_record_before_the_future(tmp_path):
    from matplotlib import colors
    import matplotlib.pyplot as plt

    from sim.output import dashboard

    model = sim.build_model("baseline", seed=0, months=12).run()
    both = dashboard.with_history(model.frame(), model.replay_frame)
    assert len(both) == len(model.replay_frame) + 12 and both["date"].is_monotonic_increasing
    drawn = []
    original = dashboard.shade_history
    dashboard.shade_history = lambda axes, start, end: (drawn.append((start, end)), original(axes, start, end))
    try:
        path = dashboard.plot_run(model.frame(), tmp_path / "d.png", history=model.replay_frame)
        dashboard.plot_run(model.frame(), tmp_path / "s.png")   # no history: nothing shaded
    finally:
        dashboard.shade_history = original
    assert path.stat().st_size > 20_000
    assert drawn == [(model.replay_frame["date"].iloc[0], model.frame()["date"].iloc[0])]
    assert colors.to_hex(dashboard.RECORD_COLOUR) not in {colors.to_hex(c) for c in
                                                          (*dashboard.STANCE_COLOURS.values(), *dashboard.GROUP_COLOURS.values())}
    plt.close("all")


def test_dashboard_counts_the_closed_months_of_the_run_not_of_the_replay(tmp_path, monkeypatch):
    """The trade panel's "closed N months" is the run's own count, as the printed summary's."""
    from matplotlib.axes import Axes

    from sim.output import dashboard

    model = sim.build_model("baseline", seed=0, months=12).run()
    run_closed = int((model.frame()["border"] == "closed").sum())
    replay_closed = int((model.replay_frame["border"] == "closed").sum())
    assert replay_closed > 0  # otherwise the two counts could not differ
    titles = []
    original = Axes.set_title
    monkeypatch.setattr(Axes, "set_title", lambda ax, text, *a, **k: (titles.append(text), original(ax, text, *a, **k))[1])
    dashboard.plot_run(model.frame(), tmp_path / "d.png", history=model.replay_frame)
    trade = [t for t in titles if t.startswith("Trade")]
    assert trade and f"closed {run_closed} months since" in trade[0]
