"""The teaching app's model logic, without a browser (the browser run is tests/test_app.py).

The app must run the CLI's model: same settings and seed, same months. In
play-as-Pakistan mode only Pakistan's decision is replaced; everything else decides
as usual, and a free reference run with the same config and seed runs alongside.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

import sim
from sim.app.app_model import (
    CONTROLS,
    HISTORY_MODE_WORDS,
    Snapshot,
    StudentChoice,
    TeachingModel,
    comparison_rows,
    config_value,
    control_defaults,
    controls_to_overrides,
    model_params,
    month_summary,
    settings_in_use,
)
from sim.config import load_config, scenario_names
from sim.output.dashboard import STANCE_COLOURS, militant_groups
from sim.agents.pakistan import ENGAGE_INSTRUMENTS, INSTRUMENTS, PRESSURE_INSTRUMENTS


def moved_controls() -> dict[str, float]:
    """Every slider moved by a few steps from its starting mark, inside its range."""
    out = {}
    for name, c in CONTROLS.items():
        start = control_defaults()[name]
        moved = start + 3 * c.step if start + 3 * c.step <= c.hi else start - 3 * c.step
        out[name] = int(moved) if c.kind == "SliderInt" else round(moved, 6)
    return out


def instruments_of(row: pd.Series) -> dict[str, bool]:
    return {name: bool(row[f"pakistan_{name}"]) for name in INSTRUMENTS}


# ------------------------------------------------------------------ same model as the CLI
def test_app_defaults_run_exactly_the_cli_model():
    params = {name: spec["value"] for name, spec in model_params().items()}
    app = TeachingModel(**params).run().frame()
    cli = sim.run("baseline", seed=params["seed"])
    pd.testing.assert_frame_equal(app, cli)


def test_moved_sliders_run_exactly_the_cli_model_with_those_overrides():
    controls = moved_controls()
    overrides = {CONTROLS[name].path: value for name, value in controls.items()}
    app = TeachingModel(seed=7, **controls)
    assert app.overrides == overrides
    frame = app.run().frame()
    pd.testing.assert_frame_equal(frame, sim.run("baseline", seed=7, overrides=overrides))
    assert (frame["tolerance"] == controls["tolerance"]).all()
    assert app.config.taliban.cohesion == pytest.approx(controls["taliban_cohesion"])


def test_solaraviz_reset_builds_the_same_model_from_the_sidebar_values():
    """Mesa's Reset rebuilds ``type(model)(**params)``; its scenario handling must not interfere."""
    from mesa.visualization.solara_viz import _build_model_init_kwargs, _check_model_params

    params = model_params()
    values = {name: spec["value"] for name, spec in params.items()}
    values.update(moved_controls(), seed=3)
    first = TeachingModel()
    _check_model_params(first, params)
    kwargs = _build_model_init_kwargs(first, values, add_scenario_when_empty=True,
                                      require_model_accepts_scenario=True)
    rebuilt = type(first)(**kwargs).run().frame()
    overrides = {CONTROLS[name].path: v for name, v in moved_controls().items()}
    pd.testing.assert_frame_equal(rebuilt, sim.run("baseline", seed=3, overrides=overrides))


def test_sidebar_inputs_start_at_the_config_values_within_their_ranges():
    params = model_params()
    assert params["scenario_name"]["values"] == scenario_names()
    for name, c in CONTROLS.items():
        spec = params[name]
        assert spec["min"] <= spec["value"] <= spec["max"]
        assert spec["value"] == pytest.approx(config_value(load_config("baseline"), c.path))


def test_a_slider_at_its_starting_mark_leaves_the_scenario_value():
    defaults = control_defaults()
    assert controls_to_overrides(defaults) == {}
    assert controls_to_overrides(dict.fromkeys(CONTROLS)) == {}
    nudged = {name: value + 0.4 * CONTROLS[name].step for name, value in defaults.items()}
    assert controls_to_overrides(nudged) == {}
    one_step = {"taliban_cohesion": defaults["taliban_cohesion"] + CONTROLS["taliban_cohesion"].step}
    assert controls_to_overrides(one_step) == {"taliban.cohesion": pytest.approx(one_step["taliban_cohesion"])}


@pytest.mark.parametrize("scenario", scenario_names())
def test_every_scenario_keeps_its_own_values_under_untouched_sliders(scenario):
    model = TeachingModel(scenario_name=scenario, **control_defaults())
    own = load_config(scenario)
    for c in CONTROLS.values():
        assert config_value(model.config, c.path) == config_value(own, c.path), c.path


def test_settings_in_use_show_the_config_values_and_which_the_student_set():
    model = TeachingModel(seed=4, tolerance=moved_controls()["tolerance"])
    rows = {label: (value, mine) for label, value, mine in settings_in_use(model)}
    assert rows["Random seed"] == ("4", True)
    value, mine = rows[CONTROLS["tolerance"].label]
    assert mine and value.startswith(f"{moved_controls()['tolerance']:g}")
    value, mine = rows[CONTROLS["taliban_cohesion"].label]
    assert not mine and value == f"{model.config.taliban.cohesion:g}"


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
    pd.testing.assert_frame_equal(student.frame(), free.frame())
    assert student.event_log.lines == free.event_log.lines
    pd.testing.assert_frame_equal(student.reference.frame(), free.frame())


def test_the_reference_run_is_the_free_model_even_when_the_student_differs():
    student = TeachingModel(seed=1, play_as_pakistan=True)
    student.set_choice("pressure", {"border_closure": True})
    for _ in range(24):
        student.step()
    free = sim.build_model("baseline", seed=1)
    for _ in range(24):
        free.step()
    pd.testing.assert_frame_equal(student.reference.frame(), free.frame())
    assert (student.frame()["pakistan_stance"] == "pressure").all()
    assert not student.frame()["border"].eq(free.frame()["border"]).all()


class WithForcedEngagement(TeachingModel):
    """The app's model plus a scenario event forcing Pakistan to engage in months 1-2."""

    EVENTS = [{"date": "+1", "target": "pakistan.stance", "value": "engage", "months": 2},
              {"date": "+1", "target": "pakistan.strikes", "value": False, "months": 2}]

    def _load(self):
        return load_config(self.scenario_name, self.run_seed, None, {**self.overrides, "scenario.events": self.EVENTS})


def test_the_student_overrides_scenario_forcing_which_holds_again_afterwards():
    free = WithForcedEngagement(seed=0)
    for _ in range(3):
        free.step()
    assert list(free.frame()["pakistan_stance"].iloc[1:3]) == ["engage", "engage"]

    student = WithForcedEngagement(seed=0, play_as_pakistan=True)
    student.set_choice("pressure", {"strikes": True})
    student.step()
    student.step()
    assert student.pakistan.forced_stance == "engage"  # the scenario's hold is restored after the month
    assert student.pakistan.forced_instruments == {"strikes": False}
    student.step()
    frame = student.frame()
    assert (frame["pakistan_stance"] == "pressure").all()
    assert frame["pakistan_strikes"].all()


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
    free = sim.build_model(scenario, overrides={"history.mode": "free"})
    for _ in range(12):
        free.step()
    pd.testing.assert_frame_equal(model.reference.frame(), free.frame())
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


def test_comparison_rows_compare_the_two_paths_month_for_month():
    model = TeachingModel(seed=0, play_as_pakistan=True)
    model.set_choice("pressure")
    for _ in range(12):
        model.step()
    snap: Snapshot = model.snapshot()
    rows = {what: (yours, models) for what, yours, models in
            comparison_rows(snap.frame, snap.reference, snap.metrics, snap.reference_metrics)}
    ref = model.reference.frame()
    assert rows["Months Pakistan engaged"] == ("0", str(int((ref["pakistan_stance"] == "engage").sum())))
    assert rows["Deaths in Pakistan, total"] == (f"{int(snap.frame['deaths_total'].sum()):,}",
                                                 f"{int(ref['deaths_total'].sum()):,}")
    assert rows["Relations now"][1] == f"{ref['relations'].iloc[-1]:+.2f}"


def test_month_summary_names_the_choices_and_the_outcome():
    model = TeachingModel(seed=0, play_as_pakistan=True)
    model.set_choice("pressure", {"border_closure": True})
    model.step()
    row = model.frame().iloc[-1]
    text = month_summary(row, militant_groups(model.frame()))
    assert text.startswith(f"{row['date']:%Y-%m}: Pakistan PRESSURE (transit restrictions, border closure)")
    assert f"{int(row['deaths_total'])} deaths" in text and "border closed" in text


# ------------------------------------------------------------------------------ plots
def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _has_colour(fig, colour: str) -> bool:
    from matplotlib.colors import to_rgb

    return any(np.allclose(p.get_facecolor()[:3], to_rgb(colour)) for ax in fig.axes for p in ax.patches)


def test_every_plot_draws_before_the_first_month_and_changes_as_months_pass():
    from sim.app.app_plots import comparison_figure, refugees_figure, relations_figure, trade_figure, violence_figure
    from sim.config.calendar import add_months

    model = TeachingModel(seed=0, play_as_pakistan=True)
    model.set_choice("pressure")
    start, end = model.start_date, add_months(model.start_date, model.n_months)
    draws = (relations_figure, trade_figure, refugees_figure, violence_figure)
    before = [_png(draw(model.frame(), start, end)) for draw in draws]
    for _ in range(6):
        model.step()
    frame = model.frame()
    for draw, image in zip(draws, before):
        fig = draw(frame, start, end)
        assert _png(fig) != image, draw.__name__
        assert _has_colour(fig, STANCE_COLOURS["pressure"]), f"{draw.__name__}: no stance band"
    fig = comparison_figure(frame, model.reference.frame(), start, end)
    assert _has_colour(fig, STANCE_COLOURS["pressure"]) and _png(fig)


def test_every_instrument_has_a_plain_label_in_the_play_panel():
    from sim.app.app import INSTRUMENT_LABELS

    assert set(INSTRUMENT_LABELS) == set(INSTRUMENTS)


def test_plot_captions_report_the_latest_month():
    from sim.app.app import captions

    model = TeachingModel(seed=0)
    assert set(captions(model.frame()).values()) == {"No month simulated yet."}
    for _ in range(5):
        model.step()
    row = model.frame().iloc[-1]
    text = captions(model.frame())
    assert text["relations"].startswith(f"{row['date']:%Y-%m}: relations {row['relations']:+.2f}")
    assert f"{int(row['deaths_total'])} deaths against a tolerance of {row['tolerance']:g}" in text["violence"]
    assert f"returns {int(row['returns_voluntary']):,} voluntary" in text["refugees"]
