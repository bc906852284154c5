"""The app's page rendered in this process (no browser): the links between its parts."""

from __future__ import annotations

import ipyvuetify as v
import solara

from sim.app.app import Page
from sim.app.app_exercises import EXERCISES
from sim.app.live_chart import LiveChart


def test_clicking_an_event_marker_opens_the_log_at_that_month():
    box, rc = solara.render(Page(), handle_error=False)
    step = rc.find(v.Btn, children=["Step"]).widget
    for _ in range(14):
        step.click()
    chart = rc.find(LiveChart).widgets[0]
    markers = [s for s in chart.shown["series"] if s["type"] == "scatter" and s["data"]]
    assert markers, "no marked event in 14 months of the default run"
    point = markers[0]["data"][0]
    chart.vue_on_click({"seriesName": markers[0]["name"], "data": point})
    shown = [w.unsafe_innerHTML for w in rc.find(solara.widgets.HTML).widgets]
    html = next((text for text in shown if "teach-log-line" in text), "")  # the Log tab is open
    selected = [part for part in html.split("<div") if "teach-log-selected" in part]
    assert selected, "no line of the clicked month is highlighted"
    first_line = point["name"].split(" · ")[0]
    assert any(first_line.replace("'", "&#x27;") in part or first_line in part for part in selected)


def test_setting_up_an_exercise_applies_its_settings_and_policy():
    box, rc = solara.render(Page(), handle_error=False)
    tabs = rc.find(v.Tabs).widget
    tabs.v_model = 3  # the Exercises tab
    rc.find(v.Btn, children=["Exercise 1"]).widget.click()
    rc.find(v.Btn, children=["Set up this exercise (applies and restarts)"]).widget.click()
    exercise = EXERCISES[0]
    assert rc.find(v.Btn, children=["Engage"]), "the play panel did not open"
    shown = [w.unsafe_innerHTML for w in rc.find(solara.widgets.HTML).widgets]
    assert not any("teach-log-line" in text for text in shown)  # a fresh run
    step = rc.find(v.Btn, children=["Step"]).widget
    for _ in range(3):
        step.click()
    table = next(text for text in shown + [w.unsafe_innerHTML for w in rc.find(solara.widgets.HTML).widgets]
                 if "teach-comparison-table" in text)
    assert "<td>Months Pakistan engaged</td><td>3</td>" in table
    assert exercise.stance == "engage" and exercise.settings["play_as_pakistan"]
