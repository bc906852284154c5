"""The history replay (docs/ODD.md, "History replay"): forced and free modes of a history scenario.

A history scenario (``configs/scenario/history_2021_2025.yaml``) carries, next to its
dated ``scenario.events``, a top-level ``history`` block::

    history:
      mode: forced            # forced | free
      stances:                # the record of both states' stances
        - {from: "2021-08", pakistan: engage, taliban: engage, note: "..."}
        - {from: "2022-04", pakistan: pressure, taliban: pressure, note: "..."}

Each entry holds from its month until the next entry's month (the last one until the
scenario ends). In *forced* mode every span of one side's recorded stance becomes a
held ``pakistan.stance`` / ``taliban.stance`` event, so both states' stances follow the
record month by month and only the state dynamics (violence, trade, refugees,
relations, trust) are tested. In *free* mode the agents choose their stances; every
other dated event (strikes, closures, the repatriation drive, ceasefires, summits)
still happens. ``apply_history`` is called once while a config is validated, so
``sim.run``, ``sim.build_model`` and ``python -m sim`` all honour ``history.mode``.
Bad input stops the run with a one-line ``ConfigError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sim.config.calendar import add_months, month_index, parse_month
from sim.config.schema import ConfigError, EventSpec

if TYPE_CHECKING:
    import pandas as pd

    from sim.config.schema import Config

MODES = ("forced", "free")
SIDES = ("pakistan", "taliban")
STANCES = ("engage", "pressure")
ENTRY_KEYS = ("from", "pakistan", "taliban", "note")


@dataclass(frozen=True)
class StanceSpan:
    """One side's recorded stance from month index ``start`` for ``months`` months."""

    side: str
    stance: str
    start: int
    months: int
    date: str
    note: str


def _months_between(a: date, b: date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


def settings(config: Config) -> dict[str, Any] | None:
    """The validated ``history`` block of a config ({mode, stances}), or None if it has none."""
    raw = config.extras.get("history")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"history: expected a mapping with keys mode, stances; got {raw!r}")
    unknown = [k for k in raw if k not in ("mode", "stances")]
    if unknown:
        raise ConfigError(f"history.{unknown[0]}: unknown key; allowed keys: mode, stances")
    mode = raw.get("mode")
    if mode not in MODES:
        raise ConfigError(f"history.mode: {mode!r} is not allowed; allowed values: forced, free")
    stances = raw.get("stances")
    if not isinstance(stances, list) or not stances:
        raise ConfigError("history.stances: missing or empty; give a list of {from, pakistan, taliban, note}")
    return {"mode": mode, "stances": stances}


def stance_spans(config: Config) -> list[StanceSpan]:
    """The record as one span per side and run of equal stances, checked against the scenario."""

    hist = settings(config)
    if hist is None:
        return []
    start = parse_month(config.scenario.start_date, "scenario.start_date")
    total = config.scenario.months
    rows = []
    for i, entry in enumerate(hist["stances"]):
        where = f"history.stances[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a mapping with keys {', '.join(ENTRY_KEYS)}; got {entry!r}")
        bad = [k for k in entry if k not in ENTRY_KEYS]
        if bad:
            raise ConfigError(f"{where}.{bad[0]}: unknown key; allowed keys: {', '.join(ENTRY_KEYS)}")
        if "from" not in entry:
            raise ConfigError(f"{where}.from: missing; give the month the stances start (YYYY-MM)")
        idx = month_index(str(entry["from"]), start, f"{where}.from")
        if idx >= total:
            raise ConfigError(f"{where}.from: {entry['from']} is after the scenario ends "
                              f"({total} months from {start:%Y-%m})")
        if rows and idx <= rows[-1][0]:
            raise ConfigError(f"{where}.from: {entry['from']} must come after the previous entry's month")
        if i == 0 and idx != 0:
            raise ConfigError(f"{where}.from: the record must start at the scenario's start ({start:%Y-%m})")
        for side in SIDES:
            if side not in entry:
                raise ConfigError(f"{where}.{side}: missing; give {side}'s stance from this month: engage or pressure")
            if entry[side] not in STANCES:
                raise ConfigError(f"{where}.{side}: {entry[side]!r} is not a stance; allowed: engage, pressure")
        if not isinstance(entry.get("note", ""), str):
            raise ConfigError(f"{where}.note: {entry['note']!r} is not a text; give what the record says, in words")
        rows.append((idx, entry))
    spans: list[StanceSpan] = []
    for side in SIDES:
        for i, (idx, entry) in enumerate(rows):
            end = rows[i + 1][0] if i + 1 < len(rows) else total
            last = spans[-1] if spans and spans[-1].side == side else None
            if last is not None and last.stance == entry[side]:
                spans[-1] = StanceSpan(side, last.stance, last.start, end - last.start, last.date, last.note)
                continue
            spans.append(StanceSpan(side, entry[side], idx, end - idx, str(entry["from"]),
                                    str(entry.get("note", ""))))
    return spans


_WHO = {"pakistan": "Pakistan's", "taliban": "the Taliban's"}


def apply_history(config: Config) -> None:
    """Validate ``history``; in forced mode append the record's stance holds to the events."""
    hist = settings(config)
    if hist is None:
        return
    spans = stance_spans(config)
    if hist["mode"] != "forced":
        return
    for span in spans:
        note = f"(record) {_WHO[span.side]} stance is {span.stance}"
        if span.note:
            note += f": {span.note}"
        config.scenario.events.append(EventSpec(date=span.date, target=f"{span.side}.stance", value=span.stance,
                                                op="set", months=span.months, note=note))


def record_frame(config: Config) -> pd.DataFrame:
    """The recorded stances month by month (date, pakistan, taliban), for comparing free runs."""
    import pandas as pd


    start = parse_month(config.scenario.start_date, "scenario.start_date")
    months = config.n_months
    out = {"date": [pd.Timestamp(add_months(start, i)) for i in range(months)]}
    for side in SIDES:
        col = [""] * months
        for span in (s for s in stance_spans(config) if s.side == side):
            for i in range(span.start, min(span.start + span.months, months)):
                col[i] = span.stance
        out[side] = col
    return pd.DataFrame(out)
