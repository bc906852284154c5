"""Bad input stops a run before it starts, with one line naming the field and what is allowed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import sim
from sim.config import ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"pakistan.strike_prob": 1.5}, "pakistan.strike_prob: 1.5 is out of range; allowed 0 <= value <= 1"),
    ({"pakistan.tolerance": -5}, "pakistan.tolerance: -5.0 is out of range; allowed 0 <= value <= 100000"),
    ({"pakistan.tolerance": "lots"}, "pakistan.tolerance: expected a number, got 'lots'"),
    ({"militants.groups.ttp.deaths_per_attack_max": 2.5}, "militants.groups.ttp.deaths_per_attack_max: expected a whole number"),
    ({"influences.iran_route": 3}, "influences.iran_route: expected true or false, got 3"),
    ({"pakistan.initial_stance": "war"}, "pakistan.initial_stance: 'war' is not allowed; allowed values: engage, pressure"),
    ({"pakistan.tolerence": 50}, "pakistan.tolerence: unknown parameter; did you mean pakistan.tolerance?"),
    ({"scenario.start_date": "2026-13"}, "scenario.start_date: '2026-13' is not a month"),
])
def test_bad_values_fail_with_one_line(overrides, expected):
    with pytest.raises(ConfigError) as err:
        sim.build_model("baseline", overrides=overrides)
    message = str(err.value)
    assert expected in message
    assert "\n" not in message


def test_unknown_scenario_names_the_allowed_ones():
    with pytest.raises(ConfigError) as err:
        sim.run("no_such_scenario")
    assert str(err.value).startswith("scenario: unknown scenario 'no_such_scenario'; allowed: ")
    assert "baseline" in str(err.value)


@pytest.mark.parametrize(("event", "expected"), [
    ({"date": "2026-14", "target": "pakistan.tolerance", "value": 50}, "scenario.events[0].date: '2026-14' is not a month"),
    ({"date": "2020-01", "target": "pakistan.tolerance", "value": 50}, "scenario.events[0].date: 2020-01 is before the scenario starts"),
    ({"date": "+3", "target": "pakistan.courage", "value": 1}, "scenario.events[0].target: unknown target 'pakistan.courage'"),
    ({"date": "+3", "target": "pakistan.stance", "value": "war"}, "scenario.events[0].value: 'war' is not a stance"),
])
def test_bad_events_fail_before_the_model_is_built(event, expected):
    for load in (sim.load_config, sim.build_model):  # checked with the config, not when the event fires
        with pytest.raises(ConfigError) as err:
            load("baseline", overrides={"scenario.events": [event]})
        assert expected in str(err.value)
        assert "\n" not in str(err.value)


@pytest.mark.parametrize(("args", "expected"), [
    (["scenario=nowhere"], "error: scenario: unknown scenario 'nowhere'"),
    (["pakistan.strike_prob=1.5"], "error: pakistan.strike_prob: 1.5 is out of range; allowed 0 <= value <= 1"),
    (["taliban.cohesion=high"], "error: taliban.cohesion: expected a number, got 'high'"),
    (["pakistan.tolerence=3"], "error: pakistan.tolerence: unknown parameter; did you mean pakistan.tolerance?"),
    (["pakistan=nope"], "error: pakistan: unknown option 'nope'; allowed: default"),
])
def test_cli_stops_before_the_run_with_one_line(args, expected, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sim", *args, f"hydra.run.dir={tmp_path}/run"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith(expected)
    assert not (tmp_path / "run").exists()
