"""The teaching app's model: the CLI's ``PolicyModel``, built from the app's settings.

Nothing here changes the dynamics. ``TeachingModel`` checks the settings
(``sim.app.app_settings``), turns them into config overrides and builds the model
through ``sim.load_config``, the CLI's own path. In play-as-Pakistan mode it puts
the student's stance and instruments in place of Pakistan's decision rule each month
while every other agent decides as usual, and a second, free ``PolicyModel`` with the
same config and seed runs in step, so the app can compare the student's path with
the model's own policy.

This module has no UI code, so its logic is tested without a browser
(``tests/test_app_model.py``).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import threading
from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd

from sim.agents.pakistan import ENGAGE_INSTRUMENTS, INSTRUMENTS, PRESSURE_INSTRUMENTS
from sim.analysis.metrics import MetricsParams, load_params, pattern_metrics
from sim.app.app_settings import CONTROLS, AppSettings, check_settings, config_value
from sim.config import Config, load_config
from sim.model.policy_model import PolicyModel

STANCES = ("engage", "pressure")


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
    def for_stance(cls, stance: str, instruments: dict[str, bool] | None = None) -> StudentChoice:
        if stance not in STANCES:
            raise ValueError(f"stance: {stance!r} is not allowed; allowed: {', '.join(STANCES)}")
        choice = cls(stance, default_instruments(stance))
        if instruments is not None:
            unknown = [name for name in instruments if name not in INSTRUMENTS]
            if unknown:
                raise ValueError(f"instruments: unknown {unknown[0]!r}; allowed: {', '.join(INSTRUMENTS)}")
            choice.instruments.update(instruments)
        return choice

    def resolved(self, connectivity_available: bool) -> dict[str, bool]:
        """All nine instruments: only the stance's own can be on; connectivity needs a mediator."""
        own = stance_instruments(self.stance)
        chosen = {name: bool(self.instruments.get(name, False)) and name in own for name in INSTRUMENTS}
        chosen["connectivity"] = chosen["connectivity"] and connectivity_available
        return chosen


# ------------------------------------------------------------------------ the model
def settings_config(settings: AppSettings) -> tuple[Config, dict]:
    """The config of a run of the app, and the overrides it applies (the CLI's own loading).

    Composed once per setting whatever the seed (many seeds at once would otherwise
    compose the same config twenty times); the seed is the only field that differs,
    and ``PolicyModel`` copies the config it is given.
    """
    config, overrides = _config_without_seed(dataclasses.replace(settings, seed=0))
    return dataclasses.replace(config, seed=settings.seed), dict(overrides)


@functools.lru_cache(maxsize=32)
def _config_without_seed(settings: AppSettings) -> tuple[Config, dict]:
    overrides = settings.overrides()
    config = load_config(settings.scenario, settings.seed, None, overrides)
    if settings.play_as_pakistan and config.extras.get("history", {}).get("mode") == "forced":
        # A replay whose stances follow the record: the Taliban must answer the student,
        # not the record, so play runs it free (every dated event still happens).
        overrides = {**overrides, "history.mode": "free"}
        config = load_config(settings.scenario, settings.seed, None, overrides)
    return config, overrides


@functools.lru_cache(maxsize=64)
def controls_in_use(scenario: str, start: str, seed: int) -> dict[str, float]:
    """What each slider's parameter is in a run with untouched sliders: the scenario's value, or, starting from
    today, the value the hand-over gives it (the settings panel shows these, so it never differs from the run)."""
    config, _ = settings_config(check_settings(scenario=scenario, start=start, seed=seed))
    model = PolicyModel(config, collect=False)
    return {name: config_value(model.config, c.path) for name, c in CONTROLS.items()}


class TeachingModel:
    """The app's run: a ``PolicyModel`` built from the app's settings; optionally with the student as Pakistan.

    Every argument is checked first (``check_settings``): a bad value raises
    ``sim.config.ConfigError`` with one line before anything is built. The run itself
    is ``self.model``, a plain ``PolicyModel`` (so the model's own machinery, e.g. the
    replay behind ``start=today``, builds plain models); reading any other attribute
    (``month``, ``frame()``, ``event_log``, ``world``, ...) reads the run's.
    """

    def __init__(self, scenario_name: str | None = None, seed: int | str | None = None,
                 tolerance: float | None = None, mediator_strength: float | None = None,
                 taliban_cohesion: float | None = None, ttp_sanctuary: float | None = None,
                 spoiler_strength: float | None = None, play_as_pakistan: bool = False,
                 start: str | None = None, *, settings: AppSettings | None = None):
        if settings is None:
            raw = {"seed": seed, "tolerance": tolerance, "mediator_strength": mediator_strength,
                   "taliban_cohesion": taliban_cohesion, "ttp_sanctuary": ttp_sanctuary,
                   "spoiler_strength": spoiler_strength, "play_as_pakistan": play_as_pakistan}
            if scenario_name is not None:
                raw["scenario"] = scenario_name
            if start is not None:
                raw["start"] = start
            settings = check_settings(**raw)
        self.settings = settings
        self.scenario_name = settings.scenario
        self.run_seed = settings.seed
        self.play_as_pakistan = settings.play_as_pakistan
        config, self.overrides = settings_config(settings)
        self.model = PolicyModel(config)
        self.choice = StudentChoice.for_stance(self.model.pakistan.stance)
        self.reference: PolicyModel | None = None
        self._lock = threading.Lock()
        self._cache: tuple | None = None
        if self.play_as_pakistan:
            # The model's own policy: same config and seed, Pakistan deciding by its rule.
            self.reference = PolicyModel(config)
            self._model_decide = self.model.pakistan.decide
            self.model.pakistan.decide = self._decide_as_student

    def __getattr__(self, name: str):
        if name == "model":  # not built yet: no recursion
            raise AttributeError(name)
        return getattr(self.model, name)

    # -------------------------------------------------------------- stepping
    def step(self) -> None:
        with self._lock:
            if self.model.finished:  # the app's buttons may ask for one month too many
                self.model.running = False
                return
            self.model.step()
            if self.reference is not None and not self.reference.finished:
                self.reference.step()

    def run(self) -> TeachingModel:
        while not self.model.finished:
            self.step()
        return self

    def set_choice(self, stance: str, instruments: dict[str, bool] | None = None) -> None:
        """Pakistan's policy from next month on (kept until the student changes it)."""
        self.choice = StudentChoice.for_stance(stance, instruments)

    def connectivity_available(self) -> bool:
        """Connectivity projects need a mediator's backing: Pakistan's own rule, on last month's world."""
        level = self.model.world.mediation
        return level > 0 and level >= self.model.pakistan.params.connectivity_mediation_min

    def _decide_as_student(self) -> None:
        """Stage 3 for Pakistan in play mode: the student's choice replaces the decision rule.

        The rule still runs (its random draws and its probability are kept, so the
        month is the model's month in every other respect, and ``pakistan_p_engage``
        records what the model's Pakistan would have chosen in the student's world);
        then any stance or instrument the scenario itself forces is restored.
        """
        pk = self.model.pakistan
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
        """Everything the app shows of this month, read once per month (cached).

        Taken under the step lock: the app steps the model in a worker thread while
        it draws, and a month must be read whole (this run and the reference alike).
        """
        with self._lock:
            model = self.model
            if self._cache is None or self._cache[0] != model.month:
                reference = self.reference.frame() if self.reference is not None else None
                self._cache = (model.month, Snapshot(model.frame(), list(model.event_log.lines), reference,
                                                     metrics_params(model.config)))
            return self._cache[1]


def metrics_params(config: Config) -> MetricsParams:
    mapping = config.extras.get("metrics")
    return MetricsParams.from_mapping(mapping) if mapping else load_params()


_SERIAL = itertools.count()


@dataclass(eq=False)
class Snapshot:
    """One month of a run as the app shows it; ``serial`` is unique per snapshot (a redraw key).

    The pattern metrics are computed only when a panel reads them.
    """

    frame: pd.DataFrame
    log: list[str]
    reference: pd.DataFrame | None
    params: MetricsParams
    serial: int = field(default_factory=lambda: next(_SERIAL))

    @property
    def log_newest_first(self) -> list[str]:
        return self.log[::-1]

    @cached_property
    def metrics(self) -> dict[str, float]:
        return pattern_metrics(self.frame, self.params) if len(self.frame) else {}

    @cached_property
    def reference_metrics(self) -> dict[str, float] | None:
        if self.reference is None or not len(self.reference):
            return None
        return pattern_metrics(self.reference, self.params)
