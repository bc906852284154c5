"""Where a forward run starts (``start``) and which fitted parameter set it uses (``params_draw``).

``start`` (top-level setting, configs/config.yaml):

- ``today`` (default): the run continues the record. The history scenario
  (``RECORD_SCENARIO``) is replayed in forced mode from August 2021 with the run's seed
  and its draw of the calibrated ensemble, and the agents take over from the month
  after the record ends (December 2025) with every state the replay reached
  (``sim.model.handover``). The run's ``scenario.start_date`` is set to that month
  here, when the config is validated, so dated events are checked against it.
- ``stylized``: the hand-set start of ``configs/*/default.yaml`` at the scenario's own
  ``start_date`` (January 2026), kept for abstract teaching runs.

A history scenario (one with a ``history`` block) *is* the record: ``start`` and
``params_draw`` do not apply to it; it always starts at its own start date from its
own (calibrated) parameters.

``params_draw`` chooses the parameter set of ``configs/calibrated/ensemble.yaml``:
``auto`` (each seed draws one set, deterministically from the seed), ``best`` (set 0)
or a set's index. A stylized run uses no set, so it takes only ``auto`` (``best`` or an
index is refused there). A run must end by December of ``LAST_YEAR``. This module reads
and checks the ensemble; it never imports the model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sim.config.calendar import add_months, parse_month
from sim.config.schema import CONFIG_DIR, Config, ConfigError

START_VALUES = ("today", "stylized")
RECORD_SCENARIO = "history_2021_2025"           # the replayed record (configs/scenario/)
ENSEMBLE_FILE = CONFIG_DIR / "calibrated" / "ensemble.yaml"
DRAW_WORDS = ("auto", "best")
LAST_YEAR = 9999  # the calendar's last year (Python's dates): a run must end by December of it


@dataclass(frozen=True)
class ParameterSet:
    distance: float | None            # the fit's distance to the record (None: not evaluated)
    values: dict[str, Any]            # flat dotted config paths -> values


@dataclass(frozen=True)
class Ensemble:
    method: str
    sets: tuple[ParameterSet, ...]    # best first; the index is ``params_draw``
    signature: tuple                  # (path, mtime, size): a changed file is read again


def _signature(path: Path) -> tuple:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ConfigError(f"params_draw: {path.name} is missing from configs/calibrated/; "
                          f"run python -m experiments.calibrate to write the ensemble") from None
    return (str(path), st.st_mtime_ns, st.st_size)


def ensemble(path: Path = ENSEMBLE_FILE) -> Ensemble:
    """The calibrated ensemble, read once per process (again if the file changes)."""
    return _read(_signature(path))


@lru_cache(maxsize=8)
def _read(signature: tuple) -> Ensemble:
    path = Path(signature[0])
    where = f"configs/calibrated/{path.name}"
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("sets"), list) or not data["sets"]:
        raise ConfigError(f"{where}: expected a mapping with method and a non-empty list of sets")
    sets = []
    for i, entry in enumerate(data["sets"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("values"), dict):
            raise ConfigError(f"{where}: sets[{i}] must be a mapping with distance and values")
        distance = entry.get("distance")
        if distance is not None and not isinstance(distance, (int, float)):
            raise ConfigError(f"{where}: sets[{i}].distance: {distance!r} is not a number")
        values = {str(k): v for k, v in entry["values"].items()}
        sets.append(ParameterSet(None if distance is None else float(distance), values))
    return Ensemble(str(data.get("method", "")), tuple(sets), signature)


def is_record(config: Config) -> bool:
    """Whether ``config`` is a history scenario (it is the record itself: no start, no draw)."""
    return config.extras.get("history") is not None


@lru_cache(maxsize=8)
def _record_span(signature: tuple) -> tuple[date, int]:
    data = yaml.safe_load(Path(signature[0]).read_text())
    sc = data["scenario"]
    return parse_month(str(sc["start_date"]), f"{RECORD_SCENARIO}.scenario.start_date"), int(sc["months"])


def record_span() -> tuple[date, int]:
    """First month and length of the record (the replay), read from its scenario file."""
    return _record_span(_signature(CONFIG_DIR / "scenario" / f"{RECORD_SCENARIO}.yaml"))


def handover_month() -> date:
    """The first forward month of a run from today: the month after the record ends."""
    first, months = record_span()
    return add_months(first, months)


def draw_index(params_draw: Any, seed: int, n_sets: int) -> int:
    """The ensemble set a run uses: ``best`` = 0, an index as given, ``auto`` drawn from the seed."""
    if params_draw == "best":
        return 0
    if params_draw == "auto":
        # A stream of its own (not a model process), so the draw never shifts the model's random numbers.
        return int(np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(0x5EED_D7A3,)))
                   .integers(n_sets))
    return int(params_draw)


def check_start(config: Config) -> None:
    """Check ``start`` and ``params_draw``; with ``start=today`` move the start date to the hand-over month.

    Called while a config is validated, before its scenario events are checked.
    """
    if config.start not in START_VALUES:  # (the schema's Literal refuses it first; kept for ready Configs)
        raise ConfigError(f"start: {config.start!r} is not allowed; allowed values: {', '.join(START_VALUES)}")
    draw = config.params_draw
    if isinstance(draw, str) and draw.isdigit():
        draw = config.params_draw = int(draw)
    if isinstance(draw, bool) or not (draw in DRAW_WORDS or isinstance(draw, int)):
        raise ConfigError(f"params_draw: {draw!r} is not allowed; allowed: auto, best, or a set index "
                          f"(0 to {len(ensemble().sets) - 1})")
    if isinstance(draw, int) and not 0 <= draw < len(ensemble().sets):
        raise ConfigError(f"params_draw: {draw} is out of range; allowed: auto, best, or a set index "
                          f"(0 to {len(ensemble().sets) - 1})")
    if config.start == "stylized" and not is_record(config) and draw != "auto":
        raise ConfigError(f"params_draw: {draw!r} chooses a parameter set for a run from today only; "
                          f"allowed with start=stylized: auto (or use start=today)")
    if config.start == "today" and not is_record(config):
        config.scenario.start_date = f"{handover_month():%Y-%m}"
    first = parse_month(config.scenario.start_date, "scenario.start_date")
    last_allowed = (LAST_YEAR - first.year) * 12 + 12 - first.month + 1  # months up to December of LAST_YEAR
    if config.n_months > last_allowed:
        raise ConfigError(f"months: {config.n_months} months from {first:%Y-%m} run past the year {LAST_YEAR}; "
                          f"allowed at most {last_allowed}")
