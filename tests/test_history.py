"""The history replay: its timeline loads, every event applies in the month it names,
bad input fails with one line, and forced / free mode do what they say."""

from __future__ import annotations

import copy

import pandas as pd
import pytest

import sim
from sim.config import ConfigError, load_config
from sim.config.calendar import add_months
from sim.config.history import record_frame, stance_spans
from sim.model.policy_model import PolicyModel

SCENARIO = "history_2021_2025"


@pytest.fixture(scope="module")
def forced_config():
    return load_config(SCENARIO, overrides={"history.mode": "forced"})


@pytest.fixture(scope="module")
def free_config():
    return load_config(SCENARIO, overrides={"history.mode": "free"})


def run(config, seed):
    cfg = copy.deepcopy(config)
    cfg.seed = seed
    return PolicyModel(cfg).run().frame()


# ----------------------------------------------------------------------------- loading
def test_timeline_loads_and_spans_august_2021_to_november_2025(forced_config):
    sc = forced_config.scenario
    assert sc.start_date == "2021-08"
    assert add_months(pd.Timestamp("2021-08-01").date(), sc.months - 1) == pd.Timestamp("2025-11-01").date()
    model = PolicyModel(copy.deepcopy(forced_config))
    assert len(model.timeline.events) == len(sc.events)
    assert all(ev.spec.note for ev in model.timeline.events), "every event writes a plain-language log line"


def test_timeline_names_the_record_of_the_issue(free_config):
    """The events the issue lists are all in the timeline, in the right month."""
    events = {(e.date, e.target) for e in free_config.scenario.events}
    for date, target in [
        ("2021-08", "militants.ttp.strength"),          # takeover, prisoners freed
        ("2021-10", "pakistan.ttp_talks"),              # TTP talks
        ("2021-11", "militants.ttp.ceasefire"),         # November 2021 ceasefire
        ("2022-04", "pakistan.strikes"),                # April 2022 strikes
        ("2022-05", "militants.ttp.ceasefire"),         # May-November 2022 ceasefire and jirga
        ("2023-08", "pakistan.transit_restrictions"),   # transit bans and fees
        ("2023-10", "pakistan.forced_repatriation"),    # the repatriation drive
        ("2024-03", "pakistan.un_accusation"),          # accusations at the UN
        ("2024-03", "pakistan.strikes"),                # strikes in 2024
        ("2024-12", "pakistan.strikes"),
        ("2025-05", "pakistan.military_weight"),        # India-Pakistan crisis
        ("2025-05", "world.diplomatic_level"),          # ambassadors
        ("2025-05", "mediators.parties.china.strength"),  # Beijing meeting
        ("2025-07", "pakistan.connectivity"),           # July 2025 talks, railway
        ("2025-10", "pakistan.strikes"),                # October 2025 strikes
        ("2025-10", "world.border"),                    # crossings shut
        ("2025-10", "mediators.parties.qatar.strength"),  # Doha ceasefire
        ("2025-10", "mediators.parties.turkiye.available"),
        ("2025-11", "mediators.parties.turkiye.strength"),  # Istanbul talks
        ("2025-11", "taliban.diversification"),         # trade off Pakistani routes
        ("2024-01", "taliban.diversification_policy"),  # Kabul steers trade to Iran's ports
        ("2025-02", "world.refugees.enforcement_documented"),  # Islamabad/Rawalpindi relocation order
        ("2025-04", "world.refugees.enforcement_documented"),  # phase two: card holders
        ("2025-07", "world.refugees.enforcement_registered"),  # phase three: PoR cards expired
        ("2025-09", "world.refugees.enforcement_registered"),  # deportations of PoR holders
    ]:
        assert (date, target) in events, f"missing {target} in {date}"


def test_forced_mode_adds_one_hold_per_recorded_stance_span(forced_config, free_config):
    spans = stance_spans(forced_config)
    extra = len(forced_config.scenario.events) - len(free_config.scenario.events)
    assert extra == len(spans) > 0
    holds = [e for e in forced_config.scenario.events if e.target.endswith(".stance")]
    for side in ("pakistan", "taliban"):
        months = sum(e.months for e in holds if e.target == f"{side}.stance")
        assert months == forced_config.scenario.months, f"{side}: the record must cover every month"


# ----------------------------------------------------------------------------- events apply on time
def _watch(model):
    """Wrap the timeline so each month records, per event, the target's value after stage 1."""
    seen = {i: {} for i in range(len(model.timeline.events))}
    before = {}
    original = model.timeline.apply

    def apply(step):
        for i, ev in enumerate(model.timeline.events):
            if ev.start == step:
                before[i] = ev.binding.get()
        started = original(step)
        for i, ev in enumerate(model.timeline.events):
            seen[i][step] = ev.binding.get()
        apply.started[step] = [model.timeline.events.index(ev) for ev in started]
        apply.dates[step] = model.date
        return started

    apply.started, apply.dates = {}, {}
    model.timeline.apply = apply
    return seen, before, apply


@pytest.mark.parametrize("mode", ["forced", "free"])
def test_every_event_applies_in_the_month_it_names(mode, forced_config, free_config):
    config = copy.deepcopy(forced_config if mode == "forced" else free_config)
    model = PolicyModel(config)
    seen, before, apply = _watch(model)
    model.run()
    events = model.timeline.events
    for i, ev in enumerate(events):
        named = pd.Timestamp(ev.spec.date + "-01").date()
        starts = [s for s, idx in apply.started.items() if i in idx]
        assert starts == [ev.start], f"{ev.spec.target} ({ev.spec.date}) started at {starts}"
        assert apply.dates[ev.start] == named, f"{ev.spec.target} applied in {apply.dates[ev.start]}, not {named}"
        spec = ev.spec
        expected = {"set": spec.value, "add": None, "multiply": None}[spec.op]
        if spec.op == "add":
            expected = before[i] + spec.value
        elif spec.op == "multiply":
            expected = before[i] * spec.value
        held = range(ev.start, ev.start + max(spec.months, 1))
        for step in held:
            if step >= model.n_months:
                break
            if step > ev.start and spec.op != "set":
                break  # a held add/multiply applies once, at its start
            value = seen[i][step]
            assert value == pytest.approx(expected) if isinstance(expected, float) else value == expected, (
                f"{spec.target}: {value!r} in month {step}, expected {expected!r} ({spec.note})")


def test_held_parameter_returns_to_its_value_after_the_hold(free_config):
    """Arrivals surge for 28 months after the takeover, then fall back to the scenario's level."""
    model = PolicyModel(copy.deepcopy(free_config))
    values = []
    for _ in range(30):
        model.step()
        values.append(model.config.world.refugees.arrivals_per_month)
    assert values[0] == values[27] == 20000
    assert values[28] == free_config.world.refugees.arrivals_per_month == 3000


def test_event_effects_show_in_the_frame(forced_config):
    f = run(forced_config, 0).set_index("date")
    assert f.loc["2022-04-01", "pakistan_strikes"] and not f.loc["2022-03-01", "pakistan_strikes"]
    assert f.loc["2021-11-01", "attacks_ttp"] <= f.loc["2021-12-01", "attacks_ttp"] + 5
    assert (f.loc["2025-10-01":"2025-11-01", "border"] == "closed").all()
    assert not f.loc["2023-09-01", "pakistan_forced_repatriation"]
    assert f.loc["2023-10-01":, "pakistan_forced_repatriation"].all()
    assert f.loc["2023-10-01", "returns_forced"] > 10 * max(1, f.loc["2023-09-01", "returns_forced"])
    assert f.loc["2025-05-01", "diplomatic_level"] == "ambassador"


# ----------------------------------------------------------------------------- modes
def test_forced_mode_follows_the_record_every_month(forced_config):
    record = record_frame(forced_config)
    for seed in range(5):
        f = run(forced_config, seed)
        assert list(f["pakistan_stance"]) == list(record["pakistan"])
        assert list(f["taliban_stance"]) == list(record["taliban"])


def test_free_mode_lets_the_agents_choose_while_events_still_happen(free_config, forced_config):
    record = record_frame(forced_config)
    differs = 0
    for seed in range(5):
        f = run(free_config, seed).set_index("date")
        differs += int((f["pakistan_stance"].to_numpy() != record["pakistan"].to_numpy()).any())
        assert f.loc["2024-03-01", "pakistan_strikes"] and f.loc["2024-03-01", "pakistan_un_accusation"]
        assert (f.loc["2025-10-01":"2025-11-01", "border"] == "closed").all()
    assert differs > 0, "in free mode the agents should sometimes depart from the record"


def test_cli_path_honours_history_mode():
    a = sim.run(SCENARIO, seed=3, overrides={"history.mode": "forced"})
    b = sim.run(SCENARIO, seed=3, overrides={"history.mode": "forced"})
    pd.testing.assert_frame_equal(a, b)
    assert (a.loc[a["date"] == "2024-06-01", "pakistan_stance"] == "pressure").all()


# ----------------------------------------------------------------------------- one-line errors
def _error(overrides) -> str:
    with pytest.raises(ConfigError) as info:
        sim.build_model(SCENARIO, overrides=overrides)
    msg = str(info.value)
    assert "\n" not in msg, f"error must be one line: {msg!r}"
    return msg


@pytest.mark.parametrize("date,expect", [
    ("2023-13", "is not a month"),
    ("23-10", "is not a month"),
    ("2021-07", "before the scenario starts"),
    ("+x", "is not a month offset"),
])
def test_event_with_bad_date_fails_with_one_line(date, expect):
    msg = _error({"scenario.events": [{"date": date, "target": "pakistan.strikes", "value": True}]})
    assert msg.startswith("scenario.events[0].date:") and expect in msg


def test_event_with_unknown_target_fails_with_one_line():
    msg = _error({"scenario.events": [{"date": "2022-01", "target": "pakistan.tolerence", "value": 50}]})
    assert msg.startswith("scenario.events[0].target: unknown target 'pakistan.tolerence'")


def test_event_with_bad_value_fails_with_one_line():
    msg = _error({"scenario.events": [{"date": "2022-01", "target": "taliban.stance", "value": "war"}]})
    assert msg.startswith("scenario.events[0].value:") and "engage, pressure" in msg


@pytest.mark.parametrize("overrides,expect", [
    ({"history.mode": "replay"}, "history.mode: 'replay' is not allowed"),
    ({"history.stances": [{"from": "2021-08", "pakistan": "engage", "taliban": "fight"}]},
     "history.stances[0].taliban: 'fight' is not a stance"),
    ({"history.stances": [{"from": "2021-09", "pakistan": "engage", "taliban": "engage"}]},
     "history.stances[0].from: the record must start at the scenario's start"),
    ({"history.stances": [{"from": "2021-08", "pakistan": "engage", "taliban": "engage"},
                          {"from": "2021-08", "pakistan": "pressure", "taliban": "engage"}]},
     "history.stances[1].from: 2021-08 must come after the previous entry's month"),
    ({"history.stances": [{"from": "2021-08", "pakistan": "engage", "taliban": "engage", "when": 1}]},
     "history.stances[0].when: unknown key"),
    ({"history.stances": [{"from": "2021-08", "pakistan": "engage", "taliban": "engage"},
                          {"from": "2026-01", "pakistan": "pressure", "taliban": "engage"}]},
     "history.stances[1].from: 2026-01 is after the scenario ends"),
    ({"history.stances": []}, "history.stances: missing or empty"),
])
def test_bad_history_block_fails_with_one_line(overrides, expect):
    assert _error(overrides).startswith(expect)


def test_history_mode_is_rejected_by_scenarios_without_a_record():
    with pytest.raises(ConfigError) as info:
        load_config("baseline", overrides={"history.mode": "forced"})
    assert "\n" not in str(info.value) and str(info.value).startswith("history")


# ----------------------------------------------------------------------------- refugees by status (issue 11)
@pytest.fixture(scope="module")
def forced_frames(forced_config):
    return [run(forced_config, seed).set_index("date") for seed in range(4)]


def test_stocks_by_status_balance_every_month(forced_frames):
    for f in forced_frames:
        reg, doc, und = (f[f"refugees_{s}"].diff().iloc[1:] for s in ("registered", "documented", "undocumented"))
        g = f.iloc[1:]
        assert (reg == -g["returns_registered"]).all()
        assert (doc == -g["returns_documented"] - g["status_lapses"]).all()
        assert (und == g["refugee_arrivals"] + g["status_lapses"] - g["returns_undocumented"]).all()
        by_status = g["returns_registered"] + g["returns_documented"] + g["returns_undocumented"]
        assert (by_status == g["returns_voluntary"] + g["returns_forced"]).all()


def _mean(frames, column, first, last):
    return float(sum(f.loc[first:last, column].mean() for f in frames) / len(frames))


def test_each_phase_fires_on_its_date_and_moves_the_status_it_targets(forced_frames):
    f0 = forced_frames[0]
    # Phase one, 3 October 2023: undocumented Afghans
    assert f0.loc[:"2023-09-01", "enforcement_undocumented"].eq(0).all()
    assert f0.loc["2023-10-01", "enforcement_undocumented"] > 0.9
    assert _mean(forced_frames, "returns_undocumented", "2023-10-01", "2023-11-01") > 20 * _mean(
        forced_frames, "returns_undocumented", "2023-07-01", "2023-09-01")
    # card holders and PoR holders are spared until their phases (fear spills over only in part)
    assert f0.loc[:"2025-01-01", "enforcement_documented"].eq(0).all()
    assert f0.loc[:"2025-01-01", "enforcement_registered"].eq(0).all()
    # the relocation order (February 2025), then phase two (April 2025): card holders
    assert 0 < f0.loc["2025-02-01", "enforcement_documented"] < f0.loc["2025-04-01", "enforcement_documented"]
    assert _mean(forced_frames, "returns_documented", "2025-04-01", "2025-05-01") > 3 * _mean(
        forced_frames, "returns_documented", "2024-10-01", "2025-01-01")
    # phase three: PoR cards expire (July 2025), deportations from September 2025
    assert f0.loc["2025-06-01", "enforcement_registered"] < f0.loc["2025-07-01", "enforcement_registered"]
    assert f0.loc["2025-08-01", "enforcement_registered"] < f0.loc["2025-09-01", "enforcement_registered"]
    assert _mean(forced_frames, "returns_registered", "2025-09-01", "2025-10-01") > 3 * _mean(
        forced_frames, "returns_registered", "2025-04-01", "2025-06-01")


def test_returns_ease_in_2024_after_the_autumn_2023_peak(forced_frames):
    peak = _mean(forced_frames, "returns_undocumented", "2023-10-01", "2023-12-01")
    lull = _mean(forced_frames, "returns_undocumented", "2024-04-01", "2024-12-01")
    assert lull < 0.5 * peak
    assert lull > 2 * _mean(forced_frames, "returns_undocumented", "2023-01-01", "2023-09-01"), \
        "the drive goes on in 2024, at a lower intensity"


def test_iran_route_is_on_in_the_replay_and_takes_trade_when_pakistan_squeezes(forced_config, forced_frames):
    assert forced_config.influences.iran_route is True
    f = forced_frames[0]
    assert f.loc["2025-11-01", "trade_via_iran"] > f.loc["2023-06-01", "trade_via_iran"]
    assert f.loc["2025-11-01", "trade"] < f.loc["2023-06-01", "trade"]
