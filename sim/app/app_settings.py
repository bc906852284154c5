"""The app's settings panel as data: what a class may vary, and the check of every value typed in.

A run of the app is fully described by an ``AppSettings``: scenario, seed, where
the run starts, five model parameters a class would vary, and whether the student
plays Pakistan. ``check_settings`` turns whatever the page (or a caller) hands in
into an ``AppSettings`` or raises ``sim.config.ConfigError`` with one line naming
the field and what is allowed: ``nan``, ``inf``, text and fractional seeds are
refused before any model is built, so the page shows a message, never a traceback.

Slider ranges are teaching choices (what a class would vary), not model
parameters; each slider starts at the baseline config's value, read at run time.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from dataclasses import dataclass

from sim.config import Config, ConfigError, load_config, scenario_names
from sim.config.schema import shown

DEFAULT_SCENARIO = "baseline"
SEED_RANGE = (0, 99_999)
# "today": continue the history replay from December 2025; "stylized": the hand-set 2026 start.
START_CHOICES = {"today": "Start from today (December 2025)", "stylized": "Stylized start (January 2026, hand-set)"}
START_KEY = "start"  # the top-level config setting that chooses the start, when the model has it


@dataclass(frozen=True)
class Control:
    """One slider of the settings panel: the config path it sets and its range (UI only)."""

    path: str
    label: str
    kind: str  # "int" or "float"
    lo: float
    hi: float
    step: float
    unit: str = ""


CONTROLS: dict[str, Control] = {
    "tolerance": Control("pakistan.tolerance", "Deaths a month Pakistan's politics will bear", "int", 10, 300, 5,
                         "deaths/month"),
    "mediator_strength": Control("mediators.strength_scale", "Mediators' strength (China, Qatar; 1 = usual)",
                                 "float", 0.0, 3.0, 0.1, "x usual"),
    "taliban_cohesion": Control("taliban.cohesion", "Taliban unity: do orders hold? (0 split, 1 united)",
                                "float", 0.0, 1.0, 0.05),
    "ttp_sanctuary": Control("taliban.ttp_sanctuary", "Taliban shelter for the TTP (0 none, 1 full)",
                             "float", 0.0, 1.0, 0.05),
    "spoiler_strength": Control("militants.spoiler_scale", "Militants' urge to wreck a thaw (1 = usual)",
                                "float", 0.0, 3.0, 0.1, "x usual"),
}


PROPER_NAMES = {"ttp": "TTP", "taliban": "Taliban", "china": "China", "iran": "Iran", "india": "India"}


def scenario_words(name: str) -> str:
    """A scenario's name in plain words for the settings panel (``china_mediation`` -> "China mediation")."""
    words = " ".join(PROPER_NAMES.get(w, w) for w in name.split("_"))
    if words[-9:].replace(" ", "").isdigit():  # history_2021_2025 -> History 2021-2025
        words = words[:-10] + " " + words[-9:].replace(" ", "–")
    return words[:1].upper() + words[1:]


def scenario_by_words() -> dict[str, str]:
    return {scenario_words(name): name for name in scenario_names()}


def config_value(config: Config, path: str):
    """The value at a dotted config path, e.g. ``pakistan.tolerance``."""
    return functools.reduce(getattr, path.split("."), config)


@functools.lru_cache(maxsize=1)
def baseline_config() -> Config:
    return load_config(DEFAULT_SCENARIO)


def control_defaults() -> dict[str, float]:
    """The baseline config's value of each slider (its range always includes it)."""
    return {name: config_value(baseline_config(), c.path) for name, c in CONTROLS.items()}


def default_seed() -> int:
    return baseline_config().seed


@functools.lru_cache(maxsize=1)
def start_supported() -> bool:
    """Does this version of the model have the top-level ``start`` setting (today / stylized)?"""
    cfg = baseline_config()
    return START_KEY in cfg.extras or START_KEY in {f.name for f in dataclasses.fields(cfg)}


def default_start() -> str:
    """The CLI's own start (the model's ``start`` setting), or the stylized start where the model has none."""
    return getattr(baseline_config(), START_KEY, None) or baseline_config().extras.get(START_KEY) or "stylized"


@dataclass(frozen=True)
class AppSettings:
    """One run of the app: every value checked (see ``check_settings``)."""

    scenario: str = DEFAULT_SCENARIO
    seed: int = 0
    start: str = "today"
    tolerance: float | None = None
    mediator_strength: float | None = None
    taliban_cohesion: float | None = None
    ttp_sanctuary: float | None = None
    spoiler_strength: float | None = None
    play_as_pakistan: bool = False

    def controls(self) -> dict[str, float | None]:
        return {name: getattr(self, name) for name in CONTROLS}

    def overrides(self) -> dict:
        """Config overrides: the sliders moved from their starting mark, and the start when the model has it."""
        out = controls_to_overrides(self.controls())
        if start_supported():
            out[START_KEY] = self.start
        return out


def controls_to_overrides(values: dict[str, float | None]) -> dict[str, float]:
    """Config overrides for the sliders the user set; ``None`` (untouched) leaves the scenario's own value,
    so choosing a scenario and restarting runs exactly that scenario, as on the command line."""
    out = {}
    for name, value in values.items():
        if value is None:
            continue
        c = CONTROLS[name]
        out[c.path] = int(round(value)) if c.kind == "int" else round(float(value), 6)
    return out


# ----------------------------------------------------------------------------- checks
def _number(field: str, value, lo: float, hi: float, whole: bool = False) -> float | int:
    allowed = f"a {'whole ' if whole else ''}number from {lo:g} to {hi:g}"
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text) if text else None
        except ValueError:
            raise ConfigError(f"{field}: {value!r} is not a number; allowed: {allowed}") from None
    if value is None or isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{field}: {value!r} is not a number; allowed: {allowed}")
    try:
        value = float(value)
    except OverflowError:  # a whole number too large for a float
        raise ConfigError(f"{field}: {shown(value)} is out of range; allowed: {allowed}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{field}: {value} is not allowed; allowed: {allowed}")
    if whole and value != int(value):
        raise ConfigError(f"{field}: {value:g} is not a whole number; allowed: {allowed}")
    if not lo <= value <= hi:
        raise ConfigError(f"{field}: {value:g} is out of range; allowed: {allowed}")
    return int(value) if whole else value


def check_settings(**raw) -> AppSettings:
    """An ``AppSettings`` from raw inputs (numbers or text), or ``ConfigError`` with one line."""
    unknown = [k for k in raw if k not in {f.name for f in dataclasses.fields(AppSettings)}]
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown setting; allowed: "
                          f"{', '.join(f.name for f in dataclasses.fields(AppSettings))}")
    values: dict = {}
    scenario = raw.get("scenario", DEFAULT_SCENARIO)
    if not isinstance(scenario, str) or scenario not in scenario_names():
        raise ConfigError(f"scenario: {scenario!r} is not a scenario; allowed: {', '.join(scenario_names())}")
    values["scenario"] = scenario
    seed = raw.get("seed")
    values["seed"] = default_seed() if seed is None else _number("seed", seed, *SEED_RANGE, whole=True)
    start = raw.get("start", default_start())
    if not isinstance(start, str) or start not in START_CHOICES:
        raise ConfigError(f"start: {start!r} is not allowed; allowed: {', '.join(START_CHOICES)}")
    values["start"] = start
    for name, c in CONTROLS.items():
        value = raw.get(name)
        values[name] = None if value is None else _number(name, value, min(c.lo, control_defaults()[name]),
                                                         max(c.hi, control_defaults()[name]), c.kind == "int")
    play = raw.get("play_as_pakistan", False)
    if not isinstance(play, bool):
        raise ConfigError(f"play_as_pakistan: {play!r} is not allowed; allowed: true or false")
    values["play_as_pakistan"] = play
    return AppSettings(**values)
