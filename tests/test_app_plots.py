"""The app's charts as ECharts options (no browser): what each chart draws, and one colour per meaning."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sim.app.app_ensemble import run_ensemble
from sim.app.app_model import StudentChoice, TeachingModel
from sim.app.app_plots import (
    CHARTS,
    MARKERS,
    PALETTE,
    STRIP_ROWS,
    Axis,
    ChartInput,
    chart_options,
    event_months,
    log_by_month,
    mix,
    stance_runs,
)
from sim.app.app_settings import check_settings


def series(option: dict, name: str) -> dict:
    return next(s for s in option["series"] if s["name"] == name)


def names(option: dict) -> list[str]:
    return [s["name"] for s in option["series"]]


@pytest.fixture(scope="module")
def run():
    model = TeachingModel(seed=0)
    for _ in range(40):
        model.step()
    return model


def data_of(model, **extra) -> ChartInput:
    snap = model.snapshot()
    return ChartInput(Axis(model.start_date, model.n_months), snap.frame, snap.log, **extra)


def test_every_colour_has_one_meaning():
    colours = [c.lower() for c in PALETTE.values()]
    assert len(colours) == len(set(colours)), "a colour is used for two meanings"


def test_series_colours_come_from_the_palette_only(run):
    allowed = {c.lower() for c in PALETTE.values()}
    for name, option in chart_options(data_of(run, ghost=run.frame())).items():
        for s in option["series"]:
            colour = s.get("itemStyle", {}).get("color") or s.get("lineStyle", {}).get("color")
            if colour:
                assert colour.lower() in allowed, (name, s["name"], colour)


def test_charts_span_the_whole_run_and_hold_the_months_so_far(run):
    options = chart_options(data_of(run))
    assert set(options) == set(CHARTS)
    for option in options.values():
        axis = option["xAxis"][1]["data"]
        assert len(axis) == run.n_months and axis[0] == f"{run.start_date:%Y-%m}"
        json.dumps(option)  # plain JSON: what goes to the browser
    relations = series(options["relations"], "relations")["data"]
    assert relations == pytest.approx(list(run.frame()["relations"]), abs=1e-3)
    deaths = sum(np.array(s["data"]) for s in options["violence"]["series"]
                 if s.get("stack") == "deaths")
    assert list(deaths) == pytest.approx(list(run.frame()["deaths_total"]), abs=1e-3)


def test_legends_sit_below_the_data(run):
    for option in chart_options(data_of(run)).values():
        assert option["legend"]["bottom"] == 0 and option["legend"]["type"] == "scroll"
        assert option["grid"][1]["bottom"] > 20  # room for the legend under the axis labels


def test_the_stance_strip_shows_both_sides_month_by_month(run):
    option = chart_options(data_of(run))["relations"]
    areas = series(option, "stance")["markArea"]["data"]
    frame = run.frame()
    labels = option["xAxis"][0]["data"]
    rows = ((STRIP_ROWS.index("Pakistan"), "pakistan_stance"), (STRIP_ROWS.index("Taliban"), "taliban_stance"))
    for row, column in rows:
        shown = {}
        for start, end in areas:
            if start["yAxis"] != row:
                continue
            first, stop = labels.index(start["xAxis"]), labels.index(end["xAxis"])
            for k in range(first, max(stop, first + 1)):
                shown[k] = start["itemStyle"]["color"]
        want = {k: PALETTE["engage"] if s == "engage" else PALETTE["pressure"] for k, s in enumerate(frame[column])}
        assert {k: c for k, c in shown.items() if k < len(frame)} == want


def test_stance_colours_blend_with_the_share_engaged():
    assert mix(1.0) == PALETTE["engage"] and mix(0.0) == PALETTE["pressure"]
    assert stance_runs([1.0, 1.0, 0.0, None, 0.5]) == [(0, 1, 1.0), (2, 2, 0.0), (4, 4, 0.5)]


def test_event_markers_mark_the_months_of_strikes_closures_ceasefires_and_mediation():
    frame = pd.DataFrame({
        "pakistan_strikes": [False, True, False, True],
        "border": ["open", "closed", "closed", "open"],
        "ceasefire_ttp": [False, False, True, True],
        "mediator_china_active": [True, False, False, True],
    })
    assert event_months(frame) == {"strike": [1, 3], "closure": [1], "ceasefire": [2], "mediation": [0, 3]}


def test_a_marker_carries_its_months_log_lines(run):
    data = data_of(run)
    lines = log_by_month(run.event_log.lines)
    option = chart_options(data)["trade"]
    for kind, (label, _, _) in MARKERS.items():
        for point in series(option, label)["data"]:
            month = f"{pd.Timestamp(run.frame()['date'].iloc[point['month']]):%Y-%m}"
            assert point["name"] == " · ".join(lines.get(month, [label]))


def test_the_previous_run_is_drawn_as_a_grey_ghost(run):
    ghost = TeachingModel(seed=9)
    for _ in range(20):
        ghost.step()
    option = chart_options(data_of(run, ghost=ghost.frame()))["relations"]
    trace = series(option, "previous run: relations")
    assert trace["lineStyle"]["color"] == PALETTE["ghost"]
    assert trace["data"] == pytest.approx(list(ghost.frame()["relations"]), abs=1e-3)
    assert "previous run: relations" not in names(chart_options(data_of(run))["relations"])


def test_play_mode_draws_the_models_own_path_dashed_in_the_same_colour():
    model = TeachingModel(seed=1, play_as_pakistan=True)
    model.set_choice("pressure")
    for _ in range(10):
        model.step()
    snap = model.snapshot()
    option = chart_options(data_of(model, reference=snap.reference))["trade"]
    own, mine = series(option, "trade, model's own"), series(option, "trade")
    assert own["lineStyle"]["type"] == "dashed" and own["lineStyle"]["color"] == mine["lineStyle"]["color"]
    assert own["data"] == pytest.approx(list(snap.reference["trade"]), abs=1e-3)


def test_many_seeds_draw_the_median_and_a_band_that_holds_it():
    model = TeachingModel(seed=0)
    ensemble = run_ensemble(check_settings(seed=0), 24, n_seeds=6)
    options = chart_options(ChartInput(Axis(model.start_date, model.n_months), model.frame(), [], ensemble=ensemble))
    for chart, column, name, shift in (("relations", "relations", "relations", 1.0), ("trade", "trade", "trade", 0.0),
                                      ("violence", "deaths_total", "deaths, all groups", 0.0)):
        option = options[chart]
        low = np.array(series(option, f"{name}: middle 80% of runs band low")["data"], float) - shift
        gap = np.array(series(option, f"{name}: middle 80% of runs")["data"], float)
        median = np.array(series(option, f"{name} (median)")["data"], float)
        band = ensemble.band(column)
        assert low == pytest.approx(band["low"].to_numpy(), abs=1e-3)
        assert (gap >= 0).all() and (low - 1e-3 <= median).all() and (median <= low + gap + 1e-3).all()
    shifted = series(options["relations"], "relations: middle 80% of runs band low")["yAxisIndex"]
    axis = options["relations"]["yAxis"][shifted]
    assert (axis["min"], axis["max"], axis["show"]) == (0.0, 2.0, False)


def test_many_seeds_in_play_mode_add_the_models_own_median():
    ensemble = run_ensemble(check_settings(seed=0, play_as_pakistan=True), 12, StudentChoice.for_stance("pressure"),
                            n_seeds=4)
    model = TeachingModel(seed=0)
    option = chart_options(ChartInput(Axis(model.start_date, model.n_months), model.frame(), [],
                                      ensemble=ensemble))["relations"]
    own = series(option, "relations, model's own")
    assert own["data"] == pytest.approx(list(ensemble.band("relations", "model")["median"]), abs=1e-3)
