"""Scenario events as configuration: what an event may target, and every event checked before a run.

An event (``scenario.events``, see ``sim/model/events.py`` for how it acts) names a
month, a target, an operation and a value. ``check_events`` checks all of them when a
config is validated (``sim.config.loading.validate``), so a single run, the API and
every sweep point's pre-check refuse a bad event the same way, with one line, before
anything runs or is written:

- ``date``: ``YYYY-MM`` (month 1-12) not before the scenario's start, or ``+N`` (N whole
  months after the start). An event dated after the run's last month never fires.
- ``target``: a parameter path of the schema (``pakistan.tolerance``,
  ``militants.groups.<group>.attack_rate``, ``mediators.parties.<party>.strength``,
  ``world.trade.base``, ...) or a state of the model from ``STATE_TARGETS`` below
  (``pakistan.stance``, ``world.border``, ``militants.<group>.strength``, ...). Targets are
  resolved against the schema and the configured groups, never against a built model.
- ``value`` of ``op: set``: the target's type (number, whole number, true/false, one of
  the allowed texts) inside the target's range, e.g. ``world.diplomatic_level`` is 0 or 1.
- ``value`` of ``op: add`` / ``op: multiply``: a finite number (a whole number for a
  whole-number target); a factor must be >= 0. Only numeric targets take them. The
  result depends on the target's value when the event fires, so it cannot be checked
  beforehand: it is **clamped** into the target's range (and rounded for a whole-number
  target) when the event fires (``Target.clamp``).
"""

from __future__ import annotations

import dataclasses
import math
import sys
import typing
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from sim.config.calendar import month_index, parse_month
from sim.config.schema import (
    MAX_FIGHTERS,
    ConfigError,
    EventSpec,
    InfluenceParams,
    MediatorParams,
    MediatorsConfig,
    MilitantGroupParams,
    MilitantsConfig,
    PakistanParams,
    TalibanParams,
    WorldParams,
    _convert,
    _range_text,
    schema_of,
    shown,
)

if TYPE_CHECKING:
    from sim.config.schema import Config

# ------------------------------------------------------------------ the declared state targets
# States of the built model an event may set; sim/model/events.py binds each of them on the
# model (tests/test_reliability.py checks the two agree). Parameters need no entry: they
# are resolved against the schema.
STANCES = ("engage", "pressure")
BORDER_STATES = ("open", "restricted", "closed")
PAKISTAN_INSTRUMENTS = ("talks", "trade_facilitation", "connectivity", "ttp_talks", "transit_restrictions",
                        "border_closure", "forced_repatriation", "un_accusation", "strikes")
TALIBAN_ACTIONS = ("restrain_ttp", "confidence_building", "cooperation", "border_retaliation", "tolerate_ttp",
                   "diversify_trade", "rhetoric")
# path (``<group>`` = any configured militant group) -> (type, low, high, allowed texts)
STATE_TARGETS: dict[str, tuple[type, float | None, float | None, tuple[str, ...] | None]] = {
    "pakistan.stance": (str, None, None, STANCES),              # forced while held
    "taliban.stance": (str, None, None, STANCES),
    **{f"pakistan.{name}": (bool, None, None, None) for name in PAKISTAN_INSTRUMENTS},  # forced on/off
    **{f"taliban.{name}": (bool, None, None, None) for name in TALIBAN_ACTIONS},
    "pakistan.domestic_pressure": (float, 0.0, None, None),     # fatalities per month (smoothed)
    "taliban.grievance": (float, 0.0, None, None),              # grievance stock (index)
    "taliban.diversification": (float, 0.0, 1.0, None),         # share of trade off Pakistani routes
    "world.border": (str, None, None, BORDER_STATES),           # forced while held
    "world.relations": (float, -1.0, 1.0, None),                # cooperation-conflict index
    "world.trust": (float, 0.0, 1.0, None),
    "world.diplomatic_level": (int, 0, 1, None),                # 0 charge d'affaires, 1 ambassador
    "world.trade": (float, 0.0, None, None),                    # USD m per month
    "militants.<group>.strength": (float, 0.0, MAX_FIGHTERS, None),  # fighters
    "militants.<group>.ceasefire": (bool, None, None, None),
}
ALLOWED_TEXT = ("a parameter path (e.g. pakistan.tolerance), a stance (pakistan.stance), an instrument "
                "(pakistan.strikes), world.border, world.relations|trust|diplomatic_level|trade, "
                "militants.<group>.strength|ceasefire")


@dataclass(frozen=True)
class Target:
    """What one event target accepts: its type, range and allowed texts."""

    path: str
    kind: type                       # float, int, bool or str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    state: bool = False              # a model state (not a parameter)

    @property
    def numeric(self) -> bool:
        return self.kind in (int, float)

    def clamp(self, value: float) -> float | int:
        """The result of an add or multiply, kept inside the target's range."""
        if self.low is not None:
            value = max(self.low, value)
        if self.high is not None:
            value = min(self.high, value)
        return int(round(value)) if self.kind is int else float(value)

    def range_text(self) -> str:
        return _range_text(self.low, self.high) if (self.low, self.high) != (None, None) else "any value"


def _field_target(path: str, cls: type, name: str) -> Target | None:
    fields, hints = schema_of(cls)
    if name not in fields:
        return None
    tp = hints[name]
    low, high = fields[name].metadata.get("range", (None, None))
    if typing.get_origin(tp) is Literal:
        return Target(path, str, choices=tuple(typing.get_args(tp)))
    if tp in (int, float, bool, str):
        return Target(path, tp, low, high)
    return None  # a group of parameters, a mapping: not a single value an event can set


def resolve(config: Config, path: str) -> Target | None:
    """The target an event path names in this config, or None if there is none."""
    if not isinstance(path, str):
        return None
    parts = path.split(".")
    head, rest = parts[0], parts[1:]
    groups = config.militants.groups if config.militants is not None else {}
    parties = config.mediators.parties if config.mediators is not None else {}
    key = f"militants.<group>.{rest[1]}" if head == "militants" and len(rest) == 2 and rest[0] in groups else path
    if key in STATE_TARGETS:
        kind, low, high, choices = STATE_TARGETS[key]
        return Target(path, kind, low, high, choices, state=True)
    params = {"pakistan": PakistanParams, "taliban": TalibanParams, "influences": InfluenceParams}
    if head in params and len(rest) == 1:
        return _field_target(path, params[head], rest[0])
    if head == "militants" and len(rest) == 3 and rest[0] == "groups" and rest[1] in groups:
        return _field_target(path, MilitantGroupParams, rest[2])
    if head == "militants" and len(rest) == 1:
        return _field_target(path, MilitantsConfig, rest[0])
    if head == "mediators" and len(rest) == 3 and rest[0] == "parties" and rest[1] in parties:
        return _field_target(path, MediatorParams, rest[2])
    if head == "mediators" and rest == ["strength_scale"]:
        return _field_target(path, MediatorsConfig, "strength_scale")
    if head == "world" and len(rest) == 2:
        sub = schema_of(WorldParams)[1].get(rest[0])
        return _field_target(path, sub, rest[1]) if dataclasses.is_dataclass(sub) else None
    return None


def check_event(config: Config, spec: EventSpec, index: int, start: date) -> Target:
    """Check one event (date, target, operation, value); return its target. One-line ``ConfigError``."""
    where = f"scenario.events[{index}]"
    month_index(spec.date, start, f"{where}.date")
    target = resolve(config, spec.target)
    if target is None:
        raise ConfigError(f"{where}.target: unknown target {spec.target!r}; allowed: {ALLOWED_TEXT}")
    value = spec.value
    if spec.op == "set":
        _check_set(target, value, where)
        return target
    if not target.numeric:
        raise ConfigError(f"{where}.op: {spec.op} needs a numeric target; {target.path} takes "
                          f"{_kind_text(target)}; use op: set")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}.value: {value!r} must be a number for op {spec.op}")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # a whole number too large for a float (e.g. 10**400)
        finite = False
    if not finite:
        raise ConfigError(f"{where}.value: {shown(value)} is not allowed for op {spec.op}; give a finite number "
                          f"(at most {sys.float_info.max:.3g} in size)")
    if spec.op == "multiply" and value < 0:
        raise ConfigError(f"{where}.value: {value!r} is out of range for op multiply; allowed a factor >= 0 "
                          f"(the result is kept within {target.path}'s range: {target.range_text()})")
    if spec.op == "add" and target.kind is int and isinstance(value, float) and not value.is_integer():
        raise ConfigError(f"{where}.value: {value!r} must be a whole number to add to {target.path}")
    return target


def _kind_text(target: Target) -> str:
    if target.choices:
        return f"one of {', '.join(target.choices)}"
    return {bool: "true or false", str: "a text"}.get(target.kind, "a number")


def _check_set(target: Target, value: Any, where: str) -> None:
    if target.choices is not None:
        if value not in target.choices:
            what = {STANCES: "a stance", BORDER_STATES: "a border state"}.get(target.choices, "allowed")
            raise ConfigError(f"{where}.value: {value!r} is not {what}; allowed: {', '.join(target.choices)}")
        return
    if target.kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}.value: {value!r} must be true or false for {target.path}")
        return
    if target.kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}.value: {value!r} must be a text for {target.path}")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}.value: {value!r} must be a number for {target.path}")
    try:
        _convert(value, target.kind, target.path, (target.low, target.high))
    except ConfigError as exc:
        detail = str(exc).split(": ", 1)[1]
        raise ConfigError(f"{where}.value: {detail} (target {target.path})") from None


def check_events(config: Config) -> list[Target]:
    """Check every event of ``config.scenario.events``; return their targets in order."""
    start = parse_month(config.scenario.start_date, "scenario.start_date")
    return [check_event(config, spec, i, start) for i, spec in enumerate(config.scenario.events)]
