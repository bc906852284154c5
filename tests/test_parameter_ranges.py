"""Every parameter has a range with both ends, and every value the project uses lies inside it.

The team's guide: every parameter lives in a config file with meaning, unit and range, and
bad input is stopped before anything runs with one line naming the field and what is
allowed. An open upper end let a slip (``pakistan.w_violence=1e12``, or 13000 typed for a
ratio of 1.3) run silently and meaninglessly. The bounds and their reasons are the named
constants of ``sim/config/schema.py``.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing

import pytest
import yaml

import sim
from sim.config import CONFIG_DIR, ConfigError, scenario_names
from sim.config import schema as sc
from sim.config import start
from sim.config.events import resolve

# Numeric fields that may stay open at one end, each with the reason. Empty today: every
# number has both ends (an index or a seed is bounded by what 64 bits hold). A field added
# here must say why nothing bounds it.
OPEN_ON_PURPOSE: dict[str, str] = {}


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text, text
    return text


def _numeric(tp: typing.Any) -> type | None:
    """int or float if the field holds a number (``int | None`` included), else None."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        tp = args[0] if len(args) == 1 else None
    return tp if tp in (int, float) else None


def _nested(tp: typing.Any) -> list[type]:
    """The schema dataclasses a field's type holds (directly, in a dict's values or a list's items)."""
    args = typing.get_args(tp) if typing.get_origin(tp) in (dict, list, typing.Union, types.UnionType) else (tp,)
    return [a for a in args if dataclasses.is_dataclass(a)]


def schema_numbers() -> list[tuple[str, type, tuple | None]]:
    """(Class.field, type, range) of every numeric field of every schema a config is built from."""
    roots = [sc.Config, *[cls for cls in sc.BRANCH_SCHEMAS.values() if cls is not None]]
    out, seen, todo = [], set(), list(roots)
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        fields, hints = sc.schema_of(cls)
        for name, f in fields.items():
            todo += _nested(hints[name])
            kind = _numeric(hints[name])
            if kind is not None:
                out.append((f"{cls.__name__}.{name}", kind, f.metadata.get("range")))
    return sorted(out, key=lambda row: row[0])


# ------------------------------------------------------------- (a) both ends everywhere
def test_the_schema_walk_reaches_every_group_and_its_numbers():
    # (a walk that reached nothing would pass the next test trivially)
    classes = {name.split(".")[0] for name, _, _ in schema_numbers()}
    assert {"PakistanParams", "TalibanParams", "MilitantGroupParams", "MilitantsConfig", "MediatorParams",
            "MediatorsConfig", "RelationsParams", "TradeParams", "RevenueParams", "RefugeeParams",
            "SectarianParams", "InfluenceParams", "EventSpec", "ScenarioConfig", "Config", "MetricsConfig",
            "SweepSettings"} <= classes
    assert len(schema_numbers()) > 150


def test_every_numeric_parameter_has_a_lower_and_an_upper_bound():
    missing = [f"{name} {rng}" for name, _, rng in schema_numbers()
               if name not in OPEN_ON_PURPOSE and (rng is None or None in rng)]
    assert not missing, "numbers without both bounds (add one, or list the field with its reason): " + \
        ", ".join(missing)


def test_every_open_field_on_the_exception_list_is_real_open_and_has_a_reason():
    numbers = {name: rng for name, _, rng in schema_numbers()}
    for name, reason in OPEN_ON_PURPOSE.items():
        assert name in numbers, f"{name}: no such numeric field"
        assert numbers[name] is None or None in numbers[name], f"{name}: has both bounds; drop it from the list"
        assert len(reason.split()) >= 4, f"{name}: say why nothing bounds it"


def test_every_range_is_ordered_and_finite():
    for name, kind, rng in schema_numbers():
        if rng is None:
            continue
        lo, hi = rng
        assert lo is None or math.isfinite(lo), name
        assert hi is None or math.isfinite(hi), name
        assert lo is None or hi is None or lo < hi, f"{name}: empty range {rng}"
        if kind is int:
            assert all(isinstance(b, int) for b in rng if b is not None), f"{name}: a whole-number field's bound {rng}"


# --------------------------------------------- (b) just above the bound: refused; the bound: accepted
# A sample of every config group: utility weights, rewards, ratios, grievance, relations steps,
# money, factors, months, metrics thresholds and sweep settings, the new bounds among them.
SAMPLE = [
    "pakistan.w_violence", "pakistan.reward_violence_level", "pakistan.closure_pressure_ratio",
    "pakistan.strike_pressure_ratio", "pakistan.choice_precision", "pakistan.tolerance",
    "pakistan.repatriation_after_months",
    "taliban.w_grievance", "taliban.legitimacy_motive", "taliban.grievance_per_strike", "taliban.grievance_scale",
    "taliban.retaliation_grievance", "taliban.reward_revenue",
    "militants.groups.ttp.local_grievance_per_repression", "militants.groups.baloch.local_grievance_scale",
    "militants.groups.ttp.spoiler", "militants.groups.iskp.deaths_per_attack_max", "militants.spoiler_scale",
    "militants.big_attack_deaths",
    "mediators.strength_scale", "mediators.parties.china.inducement", "mediators.parties.china.urgency_per_cpec_attack",
    "world.relations.strike_loss", "world.relations.engage_gain", "world.relations.trust_attack_reference",
    "world.relations.closure_escalation_months", "world.relations.upgrade_months",
    "world.trade.base", "world.trade.iran_base", "world.trade.fee_elasticity", "world.revenue.base",
    "world.refugees.undocumented", "world.sectarian.deaths_max",
    "influences.india_outreach",
    "metrics.thaw_min_months", "metrics.step_eps", "metrics.period_min_range", "metrics.xcorr_min_pairs",
    "sweep.stale_claim_minutes", "sweep.points_per_job", "sweep.replicates",
    "months",
]


def _declared(path: str) -> tuple[type, str]:
    """The schema dataclass that declares the field at a dotted config path, and the field's name."""
    branches = {name: cls for name, cls in sc.BRANCH_SCHEMAS.items() if cls is not None}
    parts = path.split(".")
    cls, parts = (branches[parts[0]], parts[1:]) if parts[0] in branches else (sc.Config, parts)
    while len(parts) > 1:
        hint = sc.schema_of(cls)[1][parts[0]]
        skip = 2 if typing.get_origin(hint) is dict else 1  # groups.<name>, parties.<name>
        cls, parts = _nested(hint)[0], parts[skip:]
    return cls, parts[0]


def _just_above(value: float | int, kind: type) -> float | int:
    return value + 1 if kind is int else math.nextafter(float(value), math.inf)


@pytest.mark.parametrize("path", SAMPLE)
def test_a_value_just_above_the_upper_bound_is_refused_with_one_line_and_the_bound_is_accepted(path):
    cls, name = _declared(path)
    fields, hints = sc.schema_of(cls)
    kind = _numeric(hints[name])
    lo, hi = fields[name].metadata["range"]
    assert hi is not None, path
    above = _just_above(hi, kind)
    with pytest.raises(ConfigError) as err:
        sim.load_config(overrides={path: above})
    allowed = f"{sc._bound_text(lo)} <= value <= {sc._bound_text(hi)}"
    assert one_line(err.value) == f"{path}: {sc.shown(kind(above))} is out of range; allowed {allowed}"
    config = sim.load_config(overrides={path: hi})
    assert _value_at(config, path) == hi


def _value_at(config: sim.config.Config, path: str):
    node: typing.Any = config
    parts = path.split(".")
    if parts[0] in sc.BRANCH_SCHEMAS:  # a branch beside the model's parameters: kept as a mapping
        node, parts = config.extras[parts[0]], parts[1:]
    for part in parts:
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


def test_a_typo_in_a_ratio_is_refused_on_the_command_line_form_too():
    # (was: closure_pressure_ratio=13000, meant as 1.3, ran silently: Pakistan never closed the border)
    with pytest.raises(ConfigError) as err:
        sim.load_config(overrides=["pakistan.closure_pressure_ratio=13000"])
    assert one_line(err.value) == ("pakistan.closure_pressure_ratio: 13000.0 is out of range; "
                                   "allowed 0 <= value <= 10000")
    with pytest.raises(ConfigError) as err:
        sim.load_config(overrides=["pakistan.w_violence=1e12"])
    assert one_line(err.value) == "pakistan.w_violence: 1000000000000.0 is out of range; allowed 0 <= value <= 50"


def test_the_sample_covers_every_config_group():
    groups = {path.split(".")[0] for path in SAMPLE}
    assert groups >= {"pakistan", "taliban", "militants", "mediators", "world", "influences", "metrics", "sweep",
                      "months"}
    assert {path.split(".")[1] for path in SAMPLE if path.startswith("world.")} == \
        {"relations", "trade", "revenue", "refugees", "sectarian"}


# ------------------------------------------- (c) every value the project uses lies inside its range
def _flat(mapping: dict, prefix: str = "") -> dict[str, typing.Any]:
    out = {}
    for key, value in mapping.items():
        path = f"{prefix}{key}"
        out.update(_flat(value, f"{path}.") if isinstance(value, dict) else {path: value})
    return out


def _assert_inside(config: sim.config.Config, where: str, values: dict[str, typing.Any]) -> int:
    """Every numeric value lies inside the range of the parameter it sets; the number checked."""
    checked = 0
    for path, value in values.items():
        target = resolve(config, path)
        if target is None or not target.numeric or isinstance(value, (bool, str)):
            continue
        low = -math.inf if target.low is None else target.low
        high = math.inf if target.high is None else target.high
        assert low <= value <= high, f"{where}: {path} = {value} is outside its range {target.range_text()}"
        checked += 1
    return checked


@pytest.mark.parametrize("name", scenario_names())
def test_every_scenario_loads_and_its_values_and_events_lie_inside_their_ranges(name):
    # Loading builds the schema (every value checked) and checks every event against its target.
    config = sim.load_config(name)
    data = yaml.safe_load((CONFIG_DIR / "scenario" / f"{name}.yaml").read_text())
    values = {k: v for k, v in _flat(data).items() if not k.startswith(("scenario.", "history.", "defaults"))}
    _assert_inside(config, f"scenario/{name}.yaml", values)
    for i, event in enumerate(config.scenario.events):
        if event.op == "set" and isinstance(event.value, (int, float)):
            _assert_inside(config, f"scenario/{name}.yaml events[{i}]", {event.target: event.value})


@pytest.mark.parametrize("fold", ["history_2021_2023", "history_2021_2024"])
def test_every_calibrated_fold_loads_and_lies_inside_the_ranges(fold):
    values = _flat(yaml.safe_load((CONFIG_DIR / "calibrated" / f"{fold}.yaml").read_text()))
    config = sim.load_config(start.RECORD_SCENARIO, overrides={"history.mode": "forced", **values})
    assert _assert_inside(config, f"calibrated/{fold}.yaml", values) == len(values) > 20


def test_every_calibrated_draw_of_a_run_from_today_loads_and_lies_inside_the_ranges():
    # As sim/model/handover.py composes the replay of each parameter set.
    sets = start.ensemble().sets
    assert len(sets) >= 2
    for index, parameter_set in enumerate(sets):
        config = sim.load_config(start.RECORD_SCENARIO, overrides={"history.mode": "forced", **parameter_set.values})
        n = _assert_inside(config, f"calibrated/ensemble.yaml set {index}", parameter_set.values)
        assert n == len(parameter_set.values)


def test_every_calibration_search_box_lies_inside_the_ranges():
    # (experiments/calibrate.py searches these boxes; a box end outside the schema would stop the fit)
    data = yaml.safe_load((CONFIG_DIR / "calibration" / "history.yaml").read_text())
    config = sim.load_config(start.RECORD_SCENARIO)
    ends = {}
    for path, spec in data["parameters"].items():
        ends[f"{path} (low)"], ends[f"{path} (high)"] = spec["low"], spec["high"]
    for path, (low, high) in data["free_mode"]["parameters"].items():
        ends[f"{path} (low)"], ends[f"{path} (high)"] = low, high
    checked = 0
    for label, value in ends.items():
        checked += _assert_inside(config, "calibration/history.yaml", {label.split(" ")[0]: value})
    assert checked == len(ends) > 40


def test_a_value_outside_its_range_in_a_calibrated_draw_would_be_caught():
    # (the checks above can fail: a draw with one value past its bound is refused with one line)
    values = dict(start.ensemble().sets[0].values)
    values["pakistan.reward_violence_level"] = 51.0
    with pytest.raises(ConfigError) as err:
        sim.load_config(start.RECORD_SCENARIO, overrides={"history.mode": "forced", **values})
    assert one_line(err.value) == "pakistan.reward_violence_level: 51.0 is out of range; allowed 0 <= value <= 50"
    config = sim.load_config(start.RECORD_SCENARIO)
    with pytest.raises(AssertionError, match="outside its range"):
        _assert_inside(config, "a made-up draw", {"pakistan.reward_violence_level": 51.0})


# ------------------------------------------------ the config comments state the same range
def _range_words(lo: float, hi: float) -> list[str]:
    """The ways a comment may state [lo, hi]: 0-50, 0-100,000, -1..1, 0 to 2^63 - 1, above 0, at most 100."""
    def words(x: float) -> str:
        return "2^63 - 1" if x == sc.MAX_INDEX else f"{int(x):,}" if float(x).is_integer() else f"{x:g}"
    if lo == 1e-9:
        return [f"above 0, at most {words(hi)}"]
    out = [f"{words(lo)}-{words(hi)}", f"{words(lo)}..{words(hi)}", f"{words(lo)} to {words(hi)}"]
    if (lo, hi) == (0, 1):
        out.append("0 = ")  # "(0 = none, 1 = fully)"
    return out


def _commented_parameters(path) -> list[tuple[str, str]]:
    """(dotted key, comment with its continuation lines) of every commented ``key: value`` line of a config file."""
    group = path.parent.name
    lines, out, stack = path.read_text().splitlines(), [], []
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)(\w+):\s*([^#]*?)\s*(?:#(.*))?$", line)
        if not m:
            continue
        indent = len(m.group(1))
        stack = [(d, k) for d, k in stack if d < indent] + [(indent, m.group(2))]
        if not m.group(3) or m.group(4) is None:  # a section, or a value without a comment (a group's later entries)
            continue
        comment = [m.group(4)] + [next_line for next_line in lines[i + 1:i + 6] if re.match(r"^\s{10,}#", next_line)]
        out.append((".".join([group] + [k for _, k in stack]), " ".join(comment)))
    return out


@pytest.mark.parametrize("group", ["pakistan", "taliban", "militants", "mediators", "world", "influences",
                                   "metrics", "sweep"])
def test_every_parameter_comment_of_the_default_configs_states_its_range(group):
    stated = 0
    for dotted, comment in _commented_parameters(CONFIG_DIR / group / "default.yaml"):
        cls, name = _declared(dotted)
        fields, hints = sc.schema_of(cls)
        if name not in fields or _numeric(hints[name]) is None:
            continue
        lo, hi = fields[name].metadata["range"]
        spelled_out = re.search(rf"{lo:g} [a-z ]+\.\. {hi:g} ", comment)  # "(-1 hostile .. 1 cooperative)"
        assert spelled_out or any(words in comment for words in _range_words(lo, hi)), \
            f"configs/{group}/default.yaml: {dotted}: the comment does not state its range {_range_words(lo, hi)[0]}"
        stated += 1
    assert stated >= 3
