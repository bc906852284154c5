"""Reliability of the command line and the API (issue 14, cases 2, 3, 4, 6, 7, 8, 9).

Every bad input is stopped before anything runs, with one line naming the field; a run
never shares its folder with another; generated bad inputs (hypothesis) check that for
many more inputs than the examples. CLI cases start a process each and are marked slow.
"""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
import tempfile
import threading
import typing
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.agents.pakistan import INSTRUMENTS
from sim.agents.taliban import ACTIONS
from sim.config import CONFIG_DIR, ConfigError, load_config, validate
from sim.config import events as config_events
from sim.config.loading import compose_with_hydra_settings
from sim.config.schema import MetricsConfig
from sim.model.events import bind
from sim.output.files import CLAIM_FILE, claim_run_dir

ROOT = Path(__file__).resolve().parents[1]


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text, text
    return text


def cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env)


def assert_refused(proc: subprocess.CompletedProcess, field: str) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: {field}"), lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    return lines[0]


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*"))


# ------------------------------------------------------------------ 2. one folder per run
def test_a_timestamped_folder_taken_in_the_same_second_gets_the_next_free_name(tmp_path):
    first = claim_run_dir(tmp_path / "seed0_2026-01-01_10-00-00", fixed=False)
    second = claim_run_dir(tmp_path / "seed0_2026-01-01_10-00-00", fixed=False)
    third = claim_run_dir(tmp_path / "seed0_2026-01-01_10-00-00", fixed=False)
    assert [first.name, second.name, third.name] == ["seed0_2026-01-01_10-00-00", "seed0_2026-01-01_10-00-00_2",
                                                      "seed0_2026-01-01_10-00-00_3"]
    assert all((p / CLAIM_FILE).exists() for p in (first, second, third))


def test_runs_claiming_one_folder_at_once_each_get_their_own(tmp_path):
    got: list[Path] = []
    barrier = threading.Barrier(8)

    def claim():
        barrier.wait()
        got.append(claim_run_dir(tmp_path / "run", fixed=False))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 8


def test_a_named_folder_is_used_once_then_refused_unless_overwrite(tmp_path):
    folder = tmp_path / "mine"
    assert claim_run_dir(folder, fixed=True) == folder
    (folder / "events.log").write_text("stale log of the earlier run\n")
    with pytest.raises(ConfigError) as err:
        claim_run_dir(folder, fixed=True)
    assert one_line(err.value).startswith(f"hydra.run.dir: {folder} holds another run")
    assert (folder / "events.log").exists()
    assert claim_run_dir(folder, fixed=True, overwrite=True) == folder
    assert sorted(p.name for p in folder.iterdir()) == [CLAIM_FILE]  # replaced whole: no stale events.log


def test_a_named_empty_folder_is_taken_and_a_foreign_folder_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert claim_run_dir(empty, fixed=True) == empty
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(ConfigError, match="holds other files"):
            claim_run_dir(foreign, fixed=True, overwrite=overwrite)
    assert (foreign / "thesis.tex").read_text() == "mine"


@pytest.mark.slow
def test_cli_runs_in_one_folder_pattern_and_second_get_two_folders_and_a_named_run_is_kept(tmp_path):
    pattern = "hydra.run.dir=out/seed0_${now:%Y}"  # the same name for every run this year
    for _ in range(2):
        proc = cli(["months=2", "output.figures=false", pattern], tmp_path)
        assert proc.returncode == 0, proc.stderr
    folders = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(folders) == 2 and folders[1] == folders[0] + "_2"
    for name in folders:
        assert (tmp_path / "out" / name / "timeseries.csv").exists()
    named = tmp_path / "out" / folders[0]
    before = {p: p.read_bytes() for p in files_under(named) if p.is_file()}
    assert_refused(cli(["months=3", f"hydra.run.dir={named}"], tmp_path), f"hydra.run.dir: {named} holds another run")
    assert {p: p.read_bytes() for p in files_under(named) if p.is_file()} == before
    proc = cli(["months=3", "output.event_log=false", "output.figures=false", "output.overwrite=true",
                f"hydra.run.dir={named}"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not (named / "events.log").exists()  # the earlier run's log went with it
    assert len(pd.read_csv(named / "timeseries.csv")) == 3


# ---------------------------------------------------- 3. events checked before anything runs
BAD_EVENTS = [
    ({"date": "2026-13", "target": "pakistan.tolerance", "value": 50}, "scenario.events[0].date: '2026-13'"),
    ({"date": "+-3", "target": "pakistan.tolerance", "value": 50}, "scenario.events[0].date: '+-3'"),
    ({"date": "garbage", "target": "pakistan.tolerance", "value": 50}, "scenario.events[0].date: 'garbage'"),
    ({"date": "+3", "target": "pakistan.courage", "value": 1}, "scenario.events[0].target: unknown target"),
    ({"date": "+3", "target": "militants.nobody.strength", "value": 1}, "scenario.events[0].target: unknown target"),
    ({"date": "+3", "target": "pakistan.tolerance", "value": "high"}, "scenario.events[0].value: 'high' must be a number"),
    ({"date": "+3", "target": "pakistan.strikes", "value": 1}, "scenario.events[0].value: 1 must be true or false"),
    ({"date": "+3", "target": "world.border", "value": "ajar"}, "scenario.events[0].value: 'ajar' is not a border"),
    ({"date": "+3", "target": "world.diplomatic_level", "value": 7}, "scenario.events[0].value: 7 is out of range"),
    ({"date": "+3", "target": "militants.ttp.strength", "value": -5}, "scenario.events[0].value: -5.0 is out of range"),
    ({"date": "+3", "target": "pakistan.strike_prob", "value": 1.5}, "scenario.events[0].value: 1.5 is out of range"),
    ({"date": "+3", "target": "pakistan.tolerance", "op": "multiply", "value": math.nan},
     "scenario.events[0].value: nan is not allowed for op multiply"),
    ({"date": "+3", "target": "pakistan.tolerance", "op": "add", "value": math.inf},
     "scenario.events[0].value: inf is not allowed for op add"),
    ({"date": "+3", "target": "pakistan.tolerance", "op": "multiply", "value": -2},
     "scenario.events[0].value: -2 is out of range for op multiply"),
    ({"date": "+3", "target": "pakistan.stance", "op": "add", "value": 1}, "scenario.events[0].op: add needs a numeric"),
]


@pytest.mark.parametrize(("event", "expected"), BAD_EVENTS, ids=[e[1].split(": ", 1)[1][:30] for e in BAD_EVENTS])
def test_bad_events_are_refused_by_load_config(event, expected):
    with pytest.raises(ConfigError) as err:
        load_config("baseline", overrides={"scenario.events": [event]})
    assert one_line(err.value).startswith(expected)


def test_a_sweep_point_refuses_a_bad_event_as_a_single_run_does():
    from sim.sweeps.sweep import check_sweep

    line = 'scenario.events=[{date: "+2", target: world.diplomatic_level, value: 7}]'
    with pytest.raises(ConfigError) as single:
        load_config(overrides=[line])
    with pytest.raises(ConfigError) as swept:
        check_sweep(["pakistan.tolerance=40,50", line, "months=12"])
    assert str(single.value) == str(swept.value)
    with pytest.raises(ConfigError) as raw:  # the job's own check on the config Hydra composed
        validate(sim.config.compose(overrides=[line]))
    assert str(raw.value) == str(single.value)


def test_add_and_multiply_results_are_kept_in_the_targets_range():
    model = sim.build_model("baseline", months=6, overrides={"scenario.events": [
        {"date": "+1", "target": "pakistan.strike_prob", "op": "multiply", "value": 50},
        {"date": "+1", "target": "world.diplomatic_level", "op": "add", "value": 5},
        {"date": "+1", "target": "pakistan.tolerance", "op": "add", "value": -10**6},
    ]})
    model.step()
    model.step()
    assert model.pakistan.params.strike_prob == 1.0
    assert model.pakistan.params.tolerance == 0.0
    assert model.world.diplomatic_level in (0, 1)


@pytest.mark.slow
def test_cli_refuses_a_bad_event_with_nothing_written(tmp_path):
    proc = cli(['scenario.events=[{date: "2026-13", target: pakistan.tolerance, value: 5}]'], tmp_path)
    assert_refused(proc, "scenario.events[0].date: '2026-13' is not a month")
    assert files_under(tmp_path) == []


# ------------------------------------------------------------- the declared event targets
def test_every_declared_state_target_binds_on_a_built_model():
    model = sim.build_model("baseline", months=2)
    for key, (kind, _, _, _) in config_events.STATE_TARGETS.items():
        for group in (model.config.militants.groups if "<group>" in key else [None]):
            path = key.replace("<group>", group) if group else key
            binding = bind(model, path)
            assert binding is not None, path
            assert config_events.resolve(model.config, path).kind is kind
    assert set(config_events.PAKISTAN_INSTRUMENTS) == set(INSTRUMENTS)
    assert set(config_events.TALIBAN_ACTIONS) == set(ACTIONS)


def test_every_parameter_the_model_binds_resolves_against_the_schema():
    model = sim.build_model("baseline", months=2)
    for head, params in (("pakistan", model.config.pakistan), ("taliban", model.config.taliban),
                         ("influences", model.config.influences)):
        for f in dataclasses.fields(params):
            path = f"{head}.{f.name}"
            assert (bind(model, path) is None) == (config_events.resolve(model.config, path) is None), path


# --------------------------------------------- 4. the scenario named in overrides is the one run
def test_a_scenario_in_overrides_is_run():
    frame = sim.run(overrides={"scenario": "pressure_first"}, months=24)
    pd.testing.assert_frame_equal(frame, sim.run("pressure_first", months=24))
    assert sim.load_config(overrides={"scenario": "pressure_first"}).scenario.name == "pressure_first"
    assert sim.build_model(overrides=["scenario=pressure_first"], months=3).config.scenario.name == "pressure_first"


@pytest.mark.parametrize("overrides", [{"scenario": "pressure_first"}, ["scenario=pressure_first"]])
def test_two_different_scenarios_are_refused(overrides):
    with pytest.raises(ConfigError) as err:
        sim.run("baseline", overrides=overrides)
    assert one_line(err.value).startswith("scenario: 'baseline' is the scenario argument but the overrides choose "
                                          "'pressure_first'")
    assert sim.load_config("pressure_first", overrides=overrides).scenario.name == "pressure_first"


def test_seed_and_months_given_twice_must_agree():
    with pytest.raises(ConfigError, match=r"^seed: 0 is the seed argument but the overrides set 5"):
        sim.run(overrides={"seed": 5})
    with pytest.raises(ConfigError, match=r"^months: 12 is the months argument"):
        sim.load_config(months=12, overrides=["months=24"])
    assert sim.load_config(seed=5, overrides={"seed": 5}).seed == 5


# ---------------------------------------------------------------------- 6. seeds to 2**63-1
def test_seeds_up_to_two_to_the_63_minus_one_are_exact():
    for seed in (2**53 + 1, 2**62 + 12345, 2**63 - 1):
        assert load_config(seed=seed).seed == seed
        assert load_config(overrides={"seed": seed}, seed=seed).seed == seed
        assert load_config(overrides=[f"seed={seed}"]).seed == seed
    assert len(sim.run(seed=2**63 - 1, months=2)) == 2
    with pytest.raises(ConfigError) as err:
        load_config(seed=2**63)
    assert one_line(err.value) == "seed: 9223372036854775808 is out of range; allowed 0 <= value <= 9223372036854775807"


# ---------------------------------------------------------------- 7. an override without "="
@pytest.mark.parametrize(("line", "field"), [("pakistan.tolerance", "pakistan.tolerance"), ("==50", "==50"),
                                             ("=50", "=50"), ("+pakistan.tolerance", "+pakistan.tolerance")])
def test_an_override_without_equals_is_told_the_form(line, field):
    with pytest.raises(ConfigError) as err:
        load_config(overrides=[line])
    assert one_line(err.value) == f"{field}: not an override; the form is key=value (e.g. pakistan.tolerance=50)"


@pytest.mark.slow
def test_cli_answers_an_override_without_equals_and_runs_a_huge_seed(tmp_path):
    assert_refused(cli(["pakistan.tolerance"], tmp_path), "pakistan.tolerance: not an override; the form is key=value")
    assert files_under(tmp_path) == []
    proc = cli([f"seed={2**63 - 1}", "months=2", "output.figures=false", "hydra.run.dir=big"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "seed: 9223372036854775807" in (tmp_path / "big" / "config.yaml").read_text()


# ---------------------------------------------------------- 8. the user's own config folder
@pytest.fixture
def user_configs(tmp_path):
    folder = tmp_path / "my_configs"
    (folder / "scenario").mkdir(parents=True)
    text = (CONFIG_DIR / "scenario" / "baseline.yaml").read_text()
    (folder / "scenario" / "my_scenario.yaml").write_text(
        text.replace("name: baseline", "name: my_scenario").replace("months: 120", "months: 18"))
    return folder


def test_a_user_config_folder_adds_its_scenarios(user_configs):
    assert "my_scenario" not in sim.config.scenario_names()
    sim.config.add_config_dir(user_configs)
    try:
        assert "my_scenario" in sim.config.scenario_names() and "baseline" in sim.config.scenario_names()
        assert len(sim.run("my_scenario")) == 18
        assert sim.load_config(overrides=["scenario=my_scenario"]).scenario.name == "my_scenario"
    finally:
        sim.config.remove_config_dir(user_configs)
    with pytest.raises(ConfigError, match="^scenario: unknown scenario 'my_scenario'"):
        sim.run("my_scenario")


@pytest.mark.slow
def test_cli_runs_a_scenario_from_config_dir(user_configs, tmp_path):
    proc = cli(["--config-dir", str(user_configs), "scenario=my_scenario", "output.figures=false",
                "hydra.run.dir=run"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(pd.read_csv(tmp_path / "run" / "timeseries.csv")) == 18
    assert_refused(cli(["--config-dir", str(tmp_path / "nowhere"), "months=2"], tmp_path), "config_dir: ")


# ------------------------------------------------- 9. every branch checked with its schema
@pytest.mark.parametrize(("overrides", "expected"), [
    (["metrics.thaw_min_months=-3"], "metrics.thaw_min_months: -3 is out of range; allowed 1 <= value <= 1200"),
    ({"metrics.step_eps": "small"}, "metrics.step_eps: expected a number, got 'small'"),
    (["+metrics.foo=1"], "metrics.foo: unknown parameter"),
    (["+sweep.foo=1"], "sweep.foo: unknown parameter"),
    ({"sweep.replicates": 0}, "sweep.replicates: 0 is out of range"),
    ({"output.figures": "yes"}, "output.figures: expected true or false, got 'yes'"),
    (["+output.colour=red"], "output.colour: unknown parameter"),
    (["+experiment.foo=1", "experiment=tolerance_x_mediation"], "experiment.foo: unknown parameter"),
    ({"history.mode": "forced"}, "history.mode: unknown parameter"),       # baseline has no record
    (["+hydra.foo=1"], "hydra.foo: not a Hydra setting"),
    (["+hydra.run.dirr=x"], "hydra.run.dirr: not a Hydra setting; did you mean hydra.run.dir?"),
    (["+extras.x=1"], "extras: unknown parameter"),
])
def test_every_branch_is_checked_before_the_run(overrides, expected):
    with pytest.raises(ConfigError) as err:
        load_config("baseline", overrides=overrides)
    assert one_line(err.value).startswith(expected)


def test_history_branch_is_typed():
    with pytest.raises(ConfigError) as err:
        load_config("history_2021_2025", overrides={"history.mode": "sometimes"})
    assert one_line(err.value).startswith("history.mode: 'sometimes' is not allowed; allowed values: forced, free")


def test_genuine_hydra_settings_are_accepted():
    cfg = compose_with_hydra_settings(["+hydra.job.env_set.MY_VAR=1", "hydra.job.chdir=false",
                                       "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"])
    assert cfg.hydra.job.env_set.MY_VAR == "1" and cfg.hydra.launcher.n_jobs == 2


def test_metrics_schema_and_metrics_params_agree():
    from sim.analysis.metrics import MetricsParams

    assert [f.name for f in dataclasses.fields(MetricsConfig)] == [f.name for f in dataclasses.fields(MetricsParams)]
    hints = typing.get_type_hints(MetricsConfig)
    for f in dataclasses.fields(MetricsParams):
        assert hints[f.name].__name__ == f.type if isinstance(f.type, str) else hints[f.name] is f.type


@pytest.mark.slow
def test_cli_refuses_a_bad_metrics_setting_with_nothing_written(tmp_path):
    assert_refused(cli(["metrics.thaw_min_months=-3"], tmp_path), "metrics.thaw_min_months: -3 is out of range")
    assert_refused(cli(["+sweep.foo=1"], tmp_path), "sweep.foo: unknown parameter")
    assert files_under(tmp_path) == []


# ------------------------------------------------------- generated bad inputs (hypothesis)
def _numeric_fields() -> list[tuple[str, type, float | None, float | None]]:
    """(path, type, low, high) of every bounded number of the baseline config, metrics included."""
    config = load_config("baseline")
    out = []

    def walk(obj, path):
        hints = typing.get_type_hints(type(obj))
        for f in dataclasses.fields(obj):
            value, sub = getattr(obj, f.name), f"{path}.{f.name}" if path else f.name
            if dataclasses.is_dataclass(value):
                walk(value, sub)
            elif isinstance(value, dict) and value and all(dataclasses.is_dataclass(v) for v in value.values()):
                for name, item in value.items():
                    walk(item, f"{sub}.{name}")
            elif "range" in f.metadata and hints[f.name] in (int, float):
                out.append((sub, hints[f.name], *f.metadata["range"]))

    for name in ("pakistan", "taliban", "militants", "mediators", "world", "influences"):
        walk(getattr(config, name), name)
    walk(MetricsConfig(**config.extras["metrics"]), "metrics")
    return out


NUMERIC = _numeric_fields()


@st.composite
def bad_numbers(draw):
    """A parameter and a value it must refuse: outside its range, not a number, or not finite."""
    path, kind, lo, hi = draw(st.sampled_from(NUMERIC))
    choices = [st.sampled_from(["lots", "", "1e", "[1]"]), st.just(math.nan), st.just(math.inf), st.just(-math.inf),
               st.lists(st.integers(), max_size=2), st.booleans()]
    if lo is not None:
        choices.append(st.floats(max_value=lo, exclude_max=True, allow_nan=False, allow_infinity=False,
                                 min_value=-1e12))
    if hi is not None:
        choices.append(st.floats(min_value=hi, exclude_min=True, allow_nan=False, allow_infinity=False,
                                 max_value=1e12))
    if kind is int:
        choices.append(st.floats(min_value=max(lo or 0, 0) + 0.1, max_value=max(lo or 0, 0) + 0.9))
    return path, draw(st.one_of(choices))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bad=bad_numbers())
def test_generated_bad_values_are_refused_with_one_line_naming_the_field(bad):
    path, value = bad
    with pytest.raises(ConfigError) as err:
        load_config("baseline", overrides={path: value})
    assert one_line(err.value).startswith(f"{path}: ")


@settings(max_examples=80, deadline=None)
@given(group=st.sampled_from(["pakistan", "taliban", "world.trade", "militants.groups.ttp", "metrics", "sweep"]),
       key=st.from_regex(r"\A[a-z][a-z_]{2,12}\Z"))
def test_generated_unknown_keys_are_refused_with_one_line(group, key):
    # (as a mapping: the ``+key=1`` lines, which Hydra composes afresh, are in the examples above)
    config = load_config("baseline")
    known = {f.name for f in dataclasses.fields(MetricsConfig)} | set(config.extras["sweep"])
    node = config
    for part in group.split("."):
        node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
    if node is not None and dataclasses.is_dataclass(node):
        known |= {f.name for f in dataclasses.fields(node)}
    if key in known:
        return
    with pytest.raises(ConfigError) as err:
        load_config("baseline", overrides={f"{group}.{key}": 1})
    assert one_line(err.value).startswith(f"{group}.{key}: unknown parameter")


@st.composite
def bad_events(draw):
    """One event wrong in exactly one way: date, target, value type or range, or operand."""
    good = {"date": "+3", "target": "world.relations", "value": 0.5}
    kind = draw(st.sampled_from(["date", "target", "range", "type", "operand"]))
    if kind == "date":
        month = draw(st.integers(13, 99))
        date = draw(st.sampled_from([f"2030-{month:02d}", "2030-00", f"+-{month}", f"+{month}.5", "soon", "2030/01",
                                     f"{month}", "+", ""]))
        return {**good, "date": date}, "scenario.events[0].date"
    if kind == "target":
        return {**good, "target": draw(st.sampled_from(["world.weather", "pakistan.mood", "militants.x.strength",
                                                        "mediators.parties.nobody.strength", "world"]))}, \
            "scenario.events[0].target"
    if kind == "range":
        value = draw(st.one_of(st.floats(1.0, 1e9, exclude_min=True), st.floats(-1e9, -1.0, exclude_max=True)))
        return {**good, "value": value}, "scenario.events[0].value"
    if kind == "type":
        return {**good, "value": draw(st.sampled_from(["warm", None, [0.5], {"x": 1}]))}, "scenario.events[0].value"
    op = draw(st.sampled_from(["add", "multiply"]))
    return {**good, "op": op, "value": draw(st.sampled_from([math.nan, math.inf, -math.inf, "x", True]))}, \
        "scenario.events[0].value"


@settings(max_examples=80, deadline=None)
@given(case=bad_events())
def test_generated_bad_events_are_refused_with_one_line(case):
    event, field = case
    with pytest.raises(ConfigError) as err:
        load_config("baseline", overrides={"scenario.events": [event]})
    assert one_line(err.value).startswith(field + ": ") or one_line(err.value).startswith(field + "[")


def _cli_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, list):
        return "[" + ",".join(map(str, value)) + "]"
    if isinstance(value, str):
        return "'" + value + "'"
    return repr(value)


@pytest.mark.slow
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bad=bad_numbers())
def test_generated_bad_command_lines_exit_2_with_one_line_and_nothing_written(bad):
    path, value = bad
    with tempfile.TemporaryDirectory() as tmp:
        proc = cli([f"{path}={_cli_value(value)}"], Path(tmp))
        assert_refused(proc, f"{path}: ")
        assert files_under(Path(tmp)) == []
