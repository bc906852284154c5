"""The teaching app's model: the CLI's ``PolicyModel``, built from the app's controls.

Nothing here changes the dynamics. ``TeachingModel`` only turns the sidebar's
controls into config overrides (``sim.load_config``, the CLI's own path) and, in
play-as-Pakistan mode, puts the student's stance and instruments in place of
Pakistan's decision rule each month while every other agent decides as usual.
In that mode a second, free ``PolicyModel`` with the same config and seed runs in
step, so the app can compare the student's path with the model's own policy.

This module has no UI code, so its logic is tested without a browser
(``tests/test_app_model.py``).
"""

from __future__ import annotations

import functools
import itertools
import math
import threading
from dataclasses import dataclass, field

import pandas as pd

from sim.config import Config, load_config, scenario_names
from sim.model.policy_model import PolicyModel
from sim.output.narrative import group_label
from sim.agents.pakistan import ENGAGE_INSTRUMENTS, INSTRUMENTS, PRESSURE_INSTRUMENTS

DEFAULT_SCENARIO = "baseline"
STANCES = ("engage", "pressure")


HISTORY_MODE_WORDS = {"forced": "forced: both stances follow the record",
                      "free": "free: the agents choose, dated events still happen"}


# ------------------------------------------------------------------------ controls
@dataclass(frozen=True)
class Control:
    """One slider of the sidebar: the config path it sets and its range (UI only)."""

    path: str
    label: str
    kind: str  # "SliderInt" or "SliderFloat"
    lo: float
    hi: float
    step: float
    unit: str = ""


# Slider ranges are teaching choices (what a class would vary), not model parameters;
# each slider starts at the baseline config's value, read at run time.
CONTROLS: dict[str, Control] = {
    "tolerance": Control("pakistan.tolerance", "Deaths per month Pakistan's politics will bear",
                         "SliderInt", 10, 300, 5, "deaths/month"),
    "mediator_strength": Control("mediators.strength_scale", "Mediators' strength (China, Qatar; 1 = usual)",
                                 "SliderFloat", 0.0, 3.0, 0.1, "x usual"),
    "taliban_cohesion": Control("taliban.cohesion", "Taliban unity: do orders hold? (0 = split, 1 = united)",
                                "SliderFloat", 0.0, 1.0, 0.05),
    "ttp_sanctuary": Control("taliban.ttp_sanctuary", "Taliban shelter for the TTP (0 = none, 1 = full)",
                             "SliderFloat", 0.0, 1.0, 0.05),
    "spoiler_strength": Control("militants.spoiler_scale", "Militants' urge to wreck a thaw (1 = usual)",
                                "SliderFloat", 0.0, 3.0, 0.1, "x usual"),
}
SEED_RANGE = (0, 99)


def config_value(config: Config, path: str):
    """The value at a dotted config path, e.g. ``pakistan.tolerance``."""
    return functools.reduce(getattr, path.split("."), config)


@functools.lru_cache(maxsize=1)
def _baseline() -> Config:
    return load_config(DEFAULT_SCENARIO)


def control_defaults() -> dict[str, float]:
    """Each slider's starting mark: the baseline config's value."""
    return {name: config_value(_baseline(), c.path) for name, c in CONTROLS.items()}


def default_seed() -> int:
    return _baseline().seed


def controls_to_overrides(values: dict[str, float | None]) -> dict[str, float]:
    """Config overrides for the sliders the user moved.

    A slider at its starting mark (within half a step) or ``None`` leaves the
    scenario's own value, so choosing a scenario and pressing Reset runs exactly
    that scenario, as on the command line.
    """
    defaults = control_defaults()
    out = {}
    for name, value in values.items():
        c = CONTROLS[name]
        if value is None or abs(value - defaults[name]) < c.step / 2:
            continue
        out[c.path] = int(round(value)) if c.kind == "SliderInt" else round(float(value), 6)
    return out


def model_params() -> dict:
    """SolaraViz ``model_params``: the sidebar's inputs, keyed by ``TeachingModel`` arguments."""
    defaults = control_defaults()
    params: dict = {
        "scenario_name": {"type": "Select", "value": DEFAULT_SCENARIO, "values": scenario_names(),
                          "label": "Scenario"},
        "seed": {"type": "SliderInt", "value": default_seed(), "min": SEED_RANGE[0], "max": SEED_RANGE[1],
                 "step": 1, "label": "Random seed (same seed and settings = same run)"},
    }
    for name, c in CONTROLS.items():
        value = defaults[name]
        params[name] = {"type": c.kind, "value": int(value) if c.kind == "SliderInt" else float(value),
                        "min": min(c.lo, value), "max": max(c.hi, value), "step": c.step, "label": c.label}
    params["play_as_pakistan"] = {"type": "Checkbox", "value": False,
                                  "label": "Play as Pakistan (you choose its policy each month)"}
    return params


# ------------------------------------------------------------------ student choice
def default_instruments(stance: str) -> dict[str, bool]:
    """The boxes ticked when a student picks a stance: the stance's core instruments."""
    on = ("talks", "trade_facilitation") if stance == "engage" else ("transit_restrictions",)
    return {name: name in on for name in INSTRUMENTS}


def stance_instruments(stance: str) -> tuple[str, ...]:
    return ENGAGE_INSTRUMENTS if stance == "engage" else PRESSURE_INSTRUMENTS


@dataclass
class StudentChoice:
    """Pakistan's policy for the next month, as the student set it."""

    stance: str
    instruments: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def for_stance(cls, stance: str) -> StudentChoice:
        if stance not in STANCES:
            raise ValueError(f"stance: {stance!r} is not allowed; allowed: {', '.join(STANCES)}")
        return cls(stance, default_instruments(stance))

    def resolved(self, connectivity_available: bool) -> dict[str, bool]:
        """All nine instruments: only the stance's own can be on; connectivity needs a mediator."""
        own = stance_instruments(self.stance)
        chosen = {name: bool(self.instruments.get(name, False)) and name in own for name in INSTRUMENTS}
        chosen["connectivity"] = chosen["connectivity"] and connectivity_available
        return chosen


# ------------------------------------------------------------------------ the model
class TeachingModel(PolicyModel):
    """``PolicyModel`` built from the app's controls; optionally with the student as Pakistan.

    The argument is ``scenario_name``, not ``scenario``: Mesa 3 models own a
    ``scenario`` attribute, which SolaraViz fills in when it rebuilds a model.
    """

    def __init__(self, scenario_name: str = DEFAULT_SCENARIO, seed: int | None = None,
                 tolerance: float | None = None, mediator_strength: float | None = None,
                 taliban_cohesion: float | None = None, ttp_sanctuary: float | None = None,
                 spoiler_strength: float | None = None, play_as_pakistan: bool = False):
        self.scenario_name = scenario_name
        self.run_seed = default_seed() if seed is None else int(seed)
        self.overrides = controls_to_overrides({
            "tolerance": tolerance, "mediator_strength": mediator_strength,
            "taliban_cohesion": taliban_cohesion, "ttp_sanctuary": ttp_sanctuary,
            "spoiler_strength": spoiler_strength,
        })
        config = self._load()
        if play_as_pakistan and config.extras.get("history", {}).get("mode") == "forced":
            # A replay whose stances follow the record: the Taliban must answer the student,
            # not the record, so play runs it free (every dated event still happens).
            self.overrides = {**self.overrides, "history.mode": "free"}
            config = self._load()
        super().__init__(config)
        self.play_as_pakistan = bool(play_as_pakistan)
        self.choice = StudentChoice.for_stance(self.pakistan.stance)
        self.reference: PolicyModel | None = None
        self._lock = threading.Lock()
        self._cache: tuple | None = None
        if self.play_as_pakistan:
            # The model's own policy: same config and seed, Pakistan deciding by its rule.
            self.reference = PolicyModel(self._load())
            self._model_decide = self.pakistan.decide
            self.pakistan.decide = self._decide_as_student

    def _load(self) -> Config:
        return load_config(self.scenario_name, self.run_seed, None, self.overrides)

    # -------------------------------------------------------------- stepping
    def step(self) -> None:
        with self._lock:
            if self.finished:  # the app's buttons may ask for one month too many
                self.running = False
                return
            super().step()
            if self.reference is not None and not self.reference.finished:
                self.reference.step()

    def set_choice(self, stance: str, instruments: dict[str, bool] | None = None) -> None:
        """Pakistan's policy from next month on (kept until the student changes it)."""
        choice = StudentChoice.for_stance(stance)
        if instruments is not None:
            unknown = [name for name in instruments if name not in INSTRUMENTS]
            if unknown:
                raise ValueError(f"instruments: unknown {unknown[0]!r}; allowed: {', '.join(INSTRUMENTS)}")
            choice.instruments.update(instruments)
        self.choice = choice

    def connectivity_available(self) -> bool:
        """Connectivity projects need a mediator's backing: Pakistan's own rule, on last month's world."""
        level = self.world.mediation
        return level > 0 and level >= self.pakistan.params.connectivity_mediation_min

    def _decide_as_student(self) -> None:
        """Stage 3 for Pakistan in play mode: the student's choice replaces the decision rule.

        The rule still runs (its random draws and its probability are kept, so the
        month is the model's month in every other respect); then any stance or
        instrument the scenario itself forces is restored for later months.
        """
        pk = self.pakistan
        saved_stance, saved_instruments = pk.forced_stance, dict(pk.forced_instruments)
        pk.forced_stance = self.choice.stance
        pk.forced_instruments.clear()  # mutate, never replace: scenario events hold this dict
        pk.forced_instruments.update(self.choice.resolved(self.connectivity_available()))
        try:
            self._model_decide()
        finally:
            pk.forced_stance = saved_stance
            pk.forced_instruments.clear()
            pk.forced_instruments.update(saved_instruments)

    # -------------------------------------------------------------- reading
    def snapshot(self) -> Snapshot:
        """Everything the app shows, computed once per month (cached).

        Taken under the step lock: the app steps the model in a worker thread while
        it draws, and a month must be read whole (this run and the reference alike).
        """
        with self._lock:
            if self._cache is None or self._cache[0] != self.month:
                self._cache = (self.month, Snapshot.of(self))
            return self._cache[1]


# --------------------------------------------------------------------- what is shown
METRIC_ROWS = (  # (metric key, label, how to read it)
    ("thaws", "Thaws so far", "runs of {k}+ months with Pakistan engaged"),
    ("mean_thaw_duration", "Average thaw length", "months"),
    ("reversal_probability", "Thaws reversed after a violence spike", "share of thaws that ended"),
    ("backward_forward_ratio", "Typical setback / typical gain", "about 2 = 'one step forward, two steps back'"),
    ("share_engaged", "Months Pakistan engaged", "share of all months"),
    ("net_drift", "Drift of relations", "change per year (-1 hostile .. +1 cooperative scale)"),
    ("regime_switches_per_decade", "Policy switches", "per ten years"),
)
PERCENT_METRICS = {"reversal_probability", "share_engaged"}


def format_metric(key: str, value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not yet"
    if key in PERCENT_METRICS:
        return f"{100 * value:.0f}%"
    if key == "thaws":
        return f"{value:.0f}"
    if key == "net_drift":
        return f"{value:+.2f}"
    return f"{value:.1f}"


def metric_rows(metrics: dict[str, float], thaw_min_months: int) -> list[tuple[str, str, str]]:
    return [(label, format_metric(key, metrics.get(key, float("nan"))), note.format(k=thaw_min_months))
            for key, label, note in METRIC_ROWS]


def thaw_min_months(config: Config) -> int:
    from sim.analysis.metrics import MetricsParams, load_params

    mapping = config.extras.get("metrics")
    return (MetricsParams.from_mapping(mapping) if mapping else load_params()).thaw_min_months


def settings_in_use(model: TeachingModel) -> list[tuple[str, str, bool]]:
    """(label, value in use, set by the student?) for every sidebar control."""
    rows = [("Scenario", model.scenario_name, model.scenario_name != DEFAULT_SCENARIO),
            ("Random seed", str(model.run_seed), model.run_seed != default_seed())]
    for c in CONTROLS.values():
        value = config_value(model.config, c.path)
        text = f"{value:g}" + (f" {c.unit}" if c.unit else "")
        rows.append((c.label, text, c.path in model.overrides))
    history = model.config.extras.get("history")
    if history:
        mode = HISTORY_MODE_WORDS.get(history.get("mode"), str(history.get("mode")))
        rows.append(("History replay", mode, "history.mode" in model.overrides))
    return rows


def comparison_rows(yours: pd.DataFrame, models: pd.DataFrame, metrics_yours: dict, metrics_model: dict
                    ) -> list[tuple[str, str, str]]:
    """(what, your path, the model's own policy) over the same months."""
    def both(fn, fmt):
        return fmt(fn(yours)), fmt(fn(models))

    rows = [
        ("Months Pakistan engaged", *both(lambda f: int((f["pakistan_stance"] == "engage").sum()), str)),
        ("Relations now", *both(lambda f: f["relations"].iloc[-1], "{:+.2f}".format)),
        ("Relations, average", *both(lambda f: f["relations"].mean(), "{:+.2f}".format)),
        ("Pakistan's trust in Taliban restraint, now", *both(lambda f: f["trust"].iloc[-1], "{:.2f}".format)),
        ("Deaths in Pakistan, total", *both(lambda f: int(f["deaths_total"].sum()), "{:,}".format)),
        ("Months above the tolerance", *both(lambda f: int((f["deaths_total"] > f["tolerance"]).sum()), str)),
        ("Trade, average (USD million/month)", *both(lambda f: f["trade"].mean(), "{:,.0f}".format)),
        ("Forced returns of Afghans, total", *both(lambda f: int(f["returns_forced"].sum()), "{:,}".format)),
    ]
    for key in ("thaws", "reversal_probability", "backward_forward_ratio"):
        label = next(lab for k, lab, _ in METRIC_ROWS if k == key)
        rows.append((label, format_metric(key, metrics_yours[key]), format_metric(key, metrics_model[key])))
    return rows


def month_summary(row: pd.Series, groups: list[str]) -> str:
    """One plain line about a month's outcome, for the play panel."""
    on = [name.replace("_", " ") for name in INSTRUMENTS if row.get(f"pakistan_{name}", False)]
    worst = max(groups, key=lambda g: row.get(f"deaths_{g}", 0), default=None)
    blame = f", most by the {group_label(worst)}" if worst and row.get(f"deaths_{worst}", 0) > 0 else ""
    return (f"{row['date']:%Y-%m}: Pakistan {str(row['pakistan_stance']).upper()}"
            f" ({', '.join(on) or 'no instruments'}); Taliban {str(row['taliban_stance']).upper()};"
            f" {int(row['deaths_total'])} deaths{blame}; border {row['border']};"
            f" relations {row['relations']:+.2f}")


_SERIAL = itertools.count()


@dataclass(eq=False)
class Snapshot:
    """One month of a run as the app shows it; ``serial`` is unique per snapshot (a redraw key)."""

    frame: pd.DataFrame
    metrics: dict[str, float]
    log_newest_first: list[str]
    reference: pd.DataFrame | None
    reference_metrics: dict[str, float] | None
    serial: int = field(default_factory=lambda: next(_SERIAL))

    @classmethod
    def of(cls, model: TeachingModel) -> Snapshot:
        from sim.analysis.metrics import pattern_metrics

        params = model.config.extras.get("metrics")
        frame = model.frame()
        reference = model.reference.frame() if model.reference is not None else None
        has_ref = reference is not None and len(reference) > 0
        return cls(frame, pattern_metrics(frame, params) if len(frame) else {},
                   list(reversed(model.event_log.lines)), reference,
                   pattern_metrics(reference, params) if has_ref else None)
