"""Scenario events: dated changes to parameters or state, applied in stage 1 of a month.

An event names a month (``YYYY-MM``, or ``+N`` for N months after the start), a
target (a config path such as ``pakistan.tolerance`` or ``militants.groups.ttp.attack_rate``,
or a state such as ``pakistan.stance``, ``world.border``, ``militants.ttp.strength``,
``militants.ttp.ceasefire``, ``pakistan.strikes``), an operation (set, add, multiply)
and a value. With ``months: N`` the value is *held* for N months: re-applied at the
start of each, and then a parameter returns to its earlier value and a forced
stance, instrument or border is released. With ``months: 0`` the change is a
one-off: a parameter keeps its new value, a state evolves on from it.

Every event is checked before a run by ``sim.config.events`` (date, target, type and
range of the value); the result of an ``add`` or ``multiply`` is kept within the
target's range when the event fires (``Target.clamp``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable

import mesa

from sim.config.calendar import month_index
from sim.config.events import Target, check_event
from sim.config.schema import ConfigError, EventSpec


@dataclass
class Binding:
    """How to read and write one event target on a built model."""

    get: Callable[[], Any]
    set: Callable[[Any], None]
    release: Callable[[], None] | None = None  # for forced states: undo the hold
    kind: type | None = None


def _attr(obj: Any, name: str, kind: type | None = None) -> Binding:
    return Binding(lambda: getattr(obj, name), lambda v: setattr(obj, name, v), kind=kind)


def _forced(container: dict, key: str) -> Binding:
    return Binding(lambda: container.get(key), lambda v: container.__setitem__(key, bool(v)),
                   release=lambda: container.pop(key, None), kind=bool)


def _field_kind(obj: Any, name: str) -> type | None:
    for f in dataclasses.fields(obj):
        if f.name == name:
            return {"float": float, "int": int, "bool": bool, "str": str}.get(str(f.type), None)
    return None


def bind(model: mesa.Model, target: str) -> Binding | None:
    """Resolve a target path on the model, or None if there is no such target."""
    parts = target.split(".")
    head, rest = parts[0], parts[1:]
    if head in ("pakistan", "taliban") and len(rest) == 1:
        agent = getattr(model, head)
        name = rest[0]
        if name == "stance":
            return Binding(lambda: agent.forced_stance, lambda v: setattr(agent, "forced_stance", v),
                           release=lambda: setattr(agent, "forced_stance", None), kind=str)
        forced = agent.forced_instruments if head == "pakistan" else agent.forced_actions
        menu = agent.instruments if head == "pakistan" else agent.actions
        if name in menu:
            return _forced(forced, name)
        if name in ("grievance", "diversification", "domestic_pressure"):
            return _attr(agent, name, float) if hasattr(agent, name) else None
        if any(f.name == name for f in dataclasses.fields(agent.params)):
            return _attr(agent.params, name, _field_kind(agent.params, name))
        return None
    if head == "militants" and len(rest) == 3 and rest[0] == "groups" and rest[1] in model.militants:
        params = model.militants[rest[1]].params
        if any(f.name == rest[2] for f in dataclasses.fields(params)):
            return _attr(params, rest[2], _field_kind(params, rest[2]))
        return None
    if head == "militants" and len(rest) == 2 and rest[0] in model.militants:
        group = model.militants[rest[0]]
        if rest[1] == "strength":
            return _attr(group, "strength", float)
        if rest[1] == "ceasefire":
            flags = model.world.ceasefire
            return Binding(lambda: flags[rest[0]], lambda v: flags.__setitem__(rest[0], bool(v)), kind=bool)
        return None
    if head == "militants" and len(rest) == 1:
        cfg = model.config.militants
        if rest[0] != "groups" and hasattr(cfg, rest[0]):
            return _attr(cfg, rest[0], _field_kind(cfg, rest[0]))
        return None
    if head == "mediators" and len(rest) == 3 and rest[0] == "parties" and rest[1] in model.mediators:
        params = model.mediators[rest[1]].params
        if any(f.name == rest[2] for f in dataclasses.fields(params)):
            return _attr(params, rest[2], _field_kind(params, rest[2]))
        return None
    if head == "mediators" and rest == ["strength_scale"]:
        return _attr(model.config.mediators, "strength_scale", float)
    if head == "influences" and len(rest) == 1:
        params = model.influences.params
        if any(f.name == rest[0] for f in dataclasses.fields(params)):
            return _attr(params, rest[0], _field_kind(params, rest[0]))
        return None
    if head == "world" and rest == ["border"]:
        w = model.world
        return Binding(lambda: w.forced_border, lambda v: setattr(w, "forced_border", v),
                       release=lambda: setattr(w, "forced_border", None), kind=str)
    if head == "world" and len(rest) == 1 and rest[0] in ("relations", "trust", "diplomatic_level", "trade"):
        return _attr(model.world, rest[0], int if rest[0] == "diplomatic_level" else float)
    if head == "world" and len(rest) == 2:
        group = getattr(model.config.world, rest[0], None)
        if dataclasses.is_dataclass(group) and any(f.name == rest[1] for f in dataclasses.fields(group)):
            return _attr(group, rest[1], _field_kind(group, rest[1]))
    return None


@dataclass
class ScheduledEvent:
    spec: EventSpec
    start: int
    binding: Binding
    index: int
    target: Target | None = None
    saved: Any = None

    @property
    def end(self) -> int:
        return self.start + max(self.spec.months, 1)

    def value(self, current: Any) -> Any:
        op, v = self.spec.op, self.spec.value
        if op == "set":
            return v
        result = current + v if op == "add" else current * v
        return self.target.clamp(result) if self.target is not None else result


class Timeline:
    """The scenario's events, checked against the model when it is built."""

    def __init__(self, model: mesa.Model, specs: list[EventSpec], start: date):
        self.events: list[ScheduledEvent] = []
        for i, spec in enumerate(specs):
            where = f"scenario.events[{i}]"
            target = check_event(model.config, spec, i, start)  # the same checks as before the run
            idx = month_index(spec.date, start, f"{where}.date")
            binding = bind(model, spec.target)
            if binding is None:
                raise ConfigError(f"{where}.target: unknown target {spec.target!r}; allowed: a parameter path "
                                  "(e.g. pakistan.tolerance), a stance (pakistan.stance), an instrument "
                                  "(pakistan.strikes), world.border, militants.<group>.strength|ceasefire")
            self._check_value(spec, binding, where)
            self.events.append(ScheduledEvent(spec, idx, binding, i, target))
        self.events.sort(key=lambda e: (e.start, e.index))

    @staticmethod
    def _check_value(spec: EventSpec, binding: Binding, where: str) -> None:
        v = spec.value
        if spec.op in ("add", "multiply") and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise ConfigError(f"{where}.value: {v!r} must be a number for op {spec.op}")
        if spec.target.endswith(".stance") and v not in ("engage", "pressure"):
            raise ConfigError(f"{where}.value: {v!r} is not a stance; allowed: engage, pressure")
        if spec.target == "world.border" and v not in ("open", "restricted", "closed"):
            raise ConfigError(f"{where}.value: {v!r} is not a border state; allowed: open, restricted, closed")
        if binding.kind in (float, int) and spec.op == "set" and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise ConfigError(f"{where}.value: {v!r} must be a number for {spec.target}")
        if binding.kind is bool and not isinstance(v, bool):
            raise ConfigError(f"{where}.value: {v!r} must be true or false for {spec.target}")

    def apply(self, step: int) -> list[ScheduledEvent]:
        """Stage 1: start, hold or end events; return those starting this month."""
        started = []
        for ev in self.events:
            held = ev.spec.months > 0
            if ev.start == step:
                if held and ev.binding.release is None:
                    ev.saved = ev.binding.get()
                ev.binding.set(ev.value(ev.binding.get()))
                started.append(ev)
            elif held and ev.start < step < ev.end and ev.spec.op == "set":
                ev.binding.set(ev.spec.value)
            elif step == ev.end and ev.binding.release is not None:
                ev.binding.release()  # a forced state is held at least one month
            elif step == ev.end and held:
                ev.binding.set(ev.saved)
        return started
