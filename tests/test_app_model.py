"""The teaching app's model logic, without a browser (the browser run is tests/test_app.py).

The app must run the CLI's model: same settings and seed, same months. In
play-as-Pakistan mode only Pakistan's decision is replaced; everything else decides
as usual, and a free reference run with the same config and seed runs alongside.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import sim
from sim.agents.pakistan import ENGAGE_INSTRUMENTS, INSTRUMENTS, PRESSURE_INSTRUMENTS
from sim.analysis.metrics import load_params
from sim.app.app_model import StudentChoice, TeachingModel, controls_in_use
from sim.app.app_report import (
    HISTORY_MODE_WORDS,
    METRIC_ROWS,
    metric_rows,
    month_summary,
    play_report,
    settings_in_use,
    thaw_endings,
    would_have_differed,
)
from sim.app.app_settings import (
    CONTROLS,
    START_CHOICES,
    START_KEY,
    check_settings,
    config_value,
    control_defaults,
    controls_to_overrides,
    default_start,
    scenario_by_words,
    scenario_words,
    start_supported,
)
from sim.app.app_plots import militant_groups
from sim.config import ConfigError, load_config, scenario_names


def moved_controls() -> dict[str, float]:
    """Every slider moved by a few steps from its starting mark, inside its range."""
    out = {}
    for name, c in CONTROLS.items():
        start = control_defaults()[name]
        moved = start + 3 * c.step if start + 3 * c.step <= c.hi else start - 3 * c.step
        out[name] = int(moved) if c.kind == "int" else round(moved, 6)
    return out


def instruments_of(row: pd.Series) -> dict[str, bool]:
    return {name: bool(row[f"pakistan_{name}"]) for name in INSTRUMENTS}


# ------------------------------------------------------------------ same model as the CLI
def test_app_defaults_run_exactly_the_cli_model():
    app = TeachingModel().run().frame()
    cli = sim.run("baseline", seed=0)
    pd.testing.assert_frame_equal(app, cli)


def test_moved_sliders_run_exactly_the_cli_model_with_those_overrides():
    controls = moved_controls()
    overrides = {CONTROLS[name].path: value for name, value in controls.items()}
    app = TeachingModel(seed=7, **controls)
    assert {k: v for k, v in app.overrides.items() if k != START_KEY} == overrides
    frame = app.run().frame()
    pd.testing.assert_frame_equal(frame, sim.run("baseline", seed=7, overrides=overrides))
    assert app.config.pakistan.tolerance == controls["tolerance"]
    assert app.config.taliban.cohesion == pytest.approx(controls["taliban_cohesion"])
    # the frame's tolerance is the tolerance *now* (it may carry the record's over from today): check it where
    # the run starts from the hand-set values
    start = {"start": "stylized"} if start_supported() else {}
    calm = TeachingModel(seed=7, **controls, **start)
    calm.step()
    assert (calm.frame()["tolerance"] == controls["tolerance"]).all()


@pytest.mark.skipif(not start_supported(), reason="the model has no 'start' setting yet")
@pytest.mark.parametrize("start", list(START_CHOICES))
def test_each_start_runs_the_cli_model_with_that_start(start):
    app = TeachingModel(seed=2, start=start)
    for _ in range(12):
        app.step()
    cli = sim.build_model("baseline", seed=2, overrides={START_KEY: start})
    for _ in range(12):
        cli.step()
    pd.testing.assert_frame_equal(app.frame(), cli.frame())


def test_the_app_starts_where_the_cli_starts_by_default():
    assert check_settings().start == default_start()


def test_sidebar_controls_start_at_the_config_values_within_their_ranges():
    for name, c in CONTROLS.items():
        value = control_defaults()[name]
        assert min(c.lo, value) <= value <= max(c.hi, value)
        assert value == pytest.approx(config_value(load_config("baseline"), c.path))


def test_an_untouched_slider_leaves_the_scenario_value():
    assert controls_to_overrides(dict.fromkeys(CONTROLS)) == {}
    one = {"taliban_cohesion": 0.45, "tolerance": 95.4}
    assert controls_to_overrides(one) == {"taliban.cohesion": 0.45, "pakistan.tolerance": 95}


@pytest.mark.parametrize("scenario", scenario_names())
def test_every_scenario_keeps_its_own_values_under_untouched_sliders(scenario):
    model = TeachingModel(scenario_name=scenario)
    cli = sim.build_model(scenario)
    in_use = controls_in_use(scenario, model.settings.start, model.run_seed)
    for name, c in CONTROLS.items():
        assert config_value(model.config, c.path) == config_value(cli.config, c.path) == in_use[name], c.path


def test_scenarios_are_named_in_plain_words_and_map_back():
    assert scenario_words("china_mediation") == "China mediation"
    assert scenario_words("history_2021_2025") == "History 2021–2025"
    assert sorted(scenario_by_words().values()) == scenario_names()
    assert len(scenario_by_words()) == len(scenario_names())


def test_settings_in_use_show_the_config_values_and_which_the_student_set():
    model = TeachingModel(seed=4, tolerance=moved_controls()["tolerance"])
    rows = {label: (value, mine) for label, value, mine in settings_in_use(model)}
    assert rows["Random seed"] == ("4", True)
    value, mine = rows[CONTROLS["tolerance"].label]
    assert mine and value.startswith(f"{moved_controls()['tolerance']:g}")
    value, mine = rows[CONTROLS["taliban_cohesion"].label]
    assert not mine and value == f"{model.config.taliban.cohesion:g}"


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("field, value, words", [
    ("seed", float("nan"), "seed: nan is not allowed"),
    ("seed", "nan", "seed: nan is not allowed"),
    ("seed", float("inf"), "seed: inf is not allowed"),
    ("seed", "-inf", "seed: -inf is not allowed"),
    ("seed", "three", "seed: 'three' is not a number"),
    ("seed", 2.5, "seed: 2.5 is not a whole number"),
    ("seed", "2.5", "seed: 2.5 is not a whole number"),
    ("seed", -1, "seed: -1 is out of range"),
    ("seed", "", "seed: None is not a number"),
    ("tolerance", float("nan"), "tolerance: nan is not allowed"),
    ("tolerance", "lots", "tolerance: 'lots' is not a number"),
    ("tolerance", 12.5, "tolerance: 12.5 is not a whole number"),
    ("mediator_strength", float("inf"), "mediator_strength: inf is not allowed"),
    ("taliban_cohesion", 1.5, "taliban_cohesion: 1.5 is out of range"),
    ("taliban_cohesion", True, "taliban_cohesion: True is not a number"),
    ("scenario", "utopia", "scenario: 'utopia' is not a scenario"),
    ("start", "yesterday", "start: 'yesterday' is not allowed"),
    ("play_as_pakistan", "yes", "play_as_pakistan: 'yes' is not allowed"),
])
def test_bad_input_is_refused_with_one_line_before_any_model_is_built(field, value, words):
    with pytest.raises(ConfigError) as info:
        check_settings(**{field: value})
    message = str(info.value)
    assert message.startswith(words) and "\n" not in message and "allowed" in message
    with pytest.raises(ConfigError, match=f"^{field}: "):
        TeachingModel(**{{"scenario": "scenario_name"}.get(field, field): value})


def test_a_seed_typed_as_text_is_the_same_run_as_the_number():
    assert check_settings(seed=" 12 ") == check_settings(seed=12)
    assert check_settings(seed="7.0").seed == 7


def test_an_unknown_setting_is_refused():
    with pytest.raises(ConfigError, match="^tolerence: unknown setting"):
        check_settings(tolerence=50)


# ------------------------------------------------------------------------- play mode
def test_the_next_month_follows_the_students_stance_and_instruments():
    model = TeachingModel(seed=2, play_as_pakistan=True)
    model.set_choice("pressure", {"border_closure": True, "strikes": True, "talks": True})
    model.step()
    row = model.frame().iloc[-1]
    assert row["pakistan_stance"] == "pressure"
    used = instruments_of(row)
    assert used == {name: name in ("transit_restrictions", "border_closure", "strikes") for name in INSTRUMENTS}
    assert row["border"] == "closed"

    model.set_choice("engage", {"ttp_talks": True, "trade_facilitation": False})
    model.step()
    row = model.frame().iloc[-1]
    assert row["pakistan_stance"] == "engage"
    assert instruments_of(row) == {name: name in ("talks", "ttp_talks") for name in INSTRUMENTS}


def test_a_choice_stays_in_force_until_changed():
    model = TeachingModel(seed=2, play_as_pakistan=True)
    model.set_choice("pressure", {"forced_repatriation": True})
    for _ in range(4):
        model.step()
    frame = model.frame()
    assert (frame["pakistan_stance"] == "pressure").all()
    assert frame["pakistan_forced_repatriation"].all()


@pytest.mark.parametrize("seed", [0, 5])
def test_playing_the_models_own_choices_reproduces_the_free_run(seed):
    """Only Pakistan's decision is replaced: echo the free model's choices and nothing differs."""
    free = sim.build_model("baseline", seed=seed)
    student = TeachingModel(seed=seed, play_as_pakistan=True)
    while not free.finished:
        free.step()
        student.set_choice(free.pakistan.stance, dict(free.pakistan.instruments))
        student.step()
    pd.testing.assert_frame_equal(student.frame().drop(columns="pakistan_p_engage"),
                                  free.frame().drop(columns="pakistan_p_engage"))
    assert student.event_log.lines == free.event_log.lines
    pd.testing.assert_frame_equal(student.reference.frame(), free.frame())


def test_the_reference_run_is_the_free_model_even_when_the_student_differs():
    # the stylized start: an open border to close (from today it may be shut already)
    start = "stylized" if start_supported() else None
    student = TeachingModel(seed=1, play_as_pakistan=True, start=start)
    student.set_choice("pressure", {"border_closure": True})
    for _ in range(24):
        student.step()
    free = sim.build_model("baseline", seed=1, overrides={START_KEY: start} if start else None)
    for _ in range(24):
        free.step()
    pd.testing.assert_frame_equal(student.reference.frame(), free.frame())
    assert (student.frame()["pakistan_stance"] == "pressure").all()
    assert not student.frame()["border"].eq(free.frame()["border"]).all()


def test_playing_the_history_replay_frees_the_taliban_from_the_record():
    scenario = "history_2021_2025"
    if scenario not in scenario_names():
        pytest.skip(f"no {scenario} scenario")
    assert load_config(scenario).extras["history"]["mode"] == "forced"
    model = TeachingModel(scenario_name=scenario, play_as_pakistan=True)
    assert model.config.extras["history"]["mode"] == "free"
    assert ("History replay", HISTORY_MODE_WORDS["free"], True) in settings_in_use(model)
    model.set_choice("pressure")
    for _ in range(12):
        model.step()
    assert (model.frame()["pakistan_stance"] == "pressure").all()
    watching = TeachingModel(scenario_name=scenario)
    assert watching.config.extras["history"]["mode"] == "forced"  # without play: the CLI's replay


def test_connectivity_projects_need_a_mediators_backing():
    model = TeachingModel(seed=0, play_as_pakistan=True)
    model.set_choice("engage", {"connectivity": True})
    model.world.mediation = 0.0  # last month: nobody mediated
    assert not model.connectivity_available()
    model.step()
    assert not model.frame()["pakistan_connectivity"].iloc[-1]
    model.world.mediation = 1.0  # last month: full mediation
    assert model.connectivity_available()
    model.step()
    assert model.frame()["pakistan_connectivity"].iloc[-1]


def test_a_choice_uses_only_its_own_stances_instruments():
    choice = StudentChoice("engage", dict.fromkeys(INSTRUMENTS, True))
    resolved = choice.resolved(connectivity_available=True)
    assert [n for n, on in resolved.items() if on] == list(ENGAGE_INSTRUMENTS)
    resolved = StudentChoice("pressure", dict.fromkeys(INSTRUMENTS, True)).resolved(False)
    assert [n for n, on in resolved.items() if on] == list(PRESSURE_INSTRUMENTS)


def test_bad_choices_are_refused():
    model = TeachingModel(play_as_pakistan=True)
    with pytest.raises(ValueError, match="stance"):
        model.set_choice("appease")
    with pytest.raises(ValueError, match="instruments"):
        model.set_choice("engage", {"bribes": True})


def test_steps_after_the_end_change_nothing():
    model = TeachingModel(seed=0)
    model.run()
    rows = len(model.frame())
    model.step()
    assert len(model.frame()) == rows == model.n_months
    assert model.running is False


# ---------------------------------------------------------------------- the play report
def _frame(stances: str, deaths: list[int], tolerance: float = 50.0) -> pd.DataFrame:
    """A hand-made path: E = engage, P = pressure, one letter a month."""
    return pd.DataFrame({"pakistan_stance": ["engage" if c == "E" else "pressure" for c in stances],
                         "deaths_total": deaths, "tolerance": tolerance})


def test_a_thaw_ended_by_choice_is_counted_apart_from_one_reversed_after_a_spike():
    params = load_params()
    k, h = params.thaw_min_months, params.reversal_window_months
    calm = "E" * (k + 1) + "P"                       # ended with no spike at all
    spiked = "E" * (k + 1) + "P"                     # a spike in its last engaged month
    running = "E" * k                                # still engaged at the end
    stances = calm + spiked + running
    deaths = [0] * len(stances)
    deaths[len(calm) + k] = 100                      # the spike, one month before the turn
    ends = thaw_endings(_frame(stances, deaths), params)
    assert (ends.thaws, ends.after_spike, ends.by_choice, ends.running) == (3, 1, 1, 1)
    # the same turn long after the spike counts as a choice
    late = "E" * (h + k + 2) + "P"
    deaths = [100] + [0] * (len(late) - 1)
    assert thaw_endings(_frame(late, deaths), params).by_choice == 1
    # too short to be a thaw
    assert thaw_endings(_frame("E" * (k - 1) + "P", [0] * k), params).thaws == 0


def test_the_play_report_compares_both_paths_over_the_same_months():
    model = TeachingModel(seed=0, play_as_pakistan=True)
    model.set_choice("pressure")
    for _ in range(12):
        model.step()
    snap = model.snapshot()
    rows = {what: (yours, models) for what, yours, models in play_report(snap.frame, snap.reference, snap.params)}
    ref = model.reference.frame()
    assert rows["Months Pakistan engaged"] == ("0", str(int((ref["pakistan_stance"] == "engage").sum())))
    assert rows["Deaths in Pakistan, total"] == (f"{int(snap.frame['deaths_total'].sum()):,}",
                                                 f"{int(ref['deaths_total'].sum()):,}")
    assert rows["Relations now"][1] == f"{ref['relations'].iloc[-1]:+.2f}"
    ends = thaw_endings(ref, snap.params)
    assert rows["... ended after a violence spike"][1] == str(ends.after_spike)


def test_what_the_model_would_have_done_is_read_from_its_rule_in_the_students_world():
    frame = pd.DataFrame({"pakistan_stance": ["engage", "engage", "pressure", "pressure"],
                          "pakistan_p_engage": [0.9, 0.2, 0.4, 0.7]})
    assert would_have_differed(frame) == 2
    model = TeachingModel(seed=3, play_as_pakistan=True)
    model.set_choice("pressure")
    for _ in range(6):
        model.step()
    frame = model.frame()
    assert would_have_differed(frame) == int((frame["pakistan_p_engage"] > 0.5).sum())


# ---------------------------------------------------------------------- what is shown
def test_snapshot_shows_log_newest_first_and_the_metrics_so_far():
    model = TeachingModel(seed=0, play_as_pakistan=True)
    empty = model.snapshot()
    assert len(empty.frame) == 0 and empty.log_newest_first == [] and empty.reference_metrics is None
    for _ in range(30):
        model.step()
    snap = model.snapshot()
    assert snap is model.snapshot()  # cached within a month
    assert snap.log_newest_first == model.event_log.lines[::-1] != []
    assert _same(snap.metrics, sim.pattern_metrics(model.frame()))
    assert _same(snap.reference_metrics, sim.pattern_metrics(model.reference.frame()))
    model.step()
    later = model.snapshot()
    assert later is not snap and later.serial != snap.serial and len(later.frame) == 31


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.isclose(a[k], b[k], equal_nan=True) for k in a)


def test_metric_rows_read_not_yet_until_a_metric_exists():
    rows = metric_rows({}, 3)
    assert len(rows) == len(METRIC_ROWS) and {value for _, value, _ in rows} == {"not yet"}
    rows = dict((label, value) for label, value, _ in metric_rows({"share_engaged": 0.25, "thaws": 2.0}, 3))
    assert rows["Months Pakistan engaged"] == "25%" and rows["Thaws so far"] == "2"


def test_month_summary_names_the_choices_and_the_outcome():
    model = TeachingModel(seed=0, play_as_pakistan=True)
    model.set_choice("pressure", {"border_closure": True})
    model.step()
    row = model.frame().iloc[-1]
    text = month_summary(row, militant_groups(model.frame()))
    assert text.startswith(f"{row['date']:%Y-%m}: Pakistan PRESSURE (transit restrictions, border closure)")
    assert f"{int(row['deaths_total'])} deaths" in text and "border closed" in text
    assert not math.isnan(row["relations"])
