"""The typed schema of every parameter: type and allowed range, with one-line errors.

The *values* (and their meaning and unit) live in ``configs/*.yaml``; this module
holds only the schema. ``build`` turns a plain mapping into these dataclasses, so a
typo, a wrong type or an out-of-range value stops a run before it starts with a
single line naming the field and what is allowed (``sim.config.loading`` composes
the mapping with Hydra).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


class ConfigError(ValueError):
    """A bad parameter: the message is one line naming the field and what is allowed."""


def bounded(lo: float | None = None, hi: float | None = None, default: Any = dataclasses.MISSING) -> Any:
    """A dataclass field whose value must lie in [lo, hi] (required unless a default is given)."""
    return field(default=default, metadata={"range": (lo, hi)})


def unit() -> Any:
    """A share or probability in [0, 1]."""
    return bounded(0.0, 1.0)


def signed() -> Any:
    """An index in [-1, 1] (relations)."""
    return bounded(-1.0, 1.0)


# ------------------------------------------------------------------- upper bounds
# Every number has both ends, so a slip (pakistan.w_violence=1e12, or 13000 typed for a
# ratio of 1.3) stops a run before it starts instead of running silently and meaninglessly,
# and a reader of configs/ sees what is sensible. The bounds are generous: 10-100x beyond
# any value the project uses (configs/, the calibration boxes, the sensitivity ranges, the
# named sweeps and policy search, every scenario and its events, the calibrated draws;
# tests/test_parameter_ranges.py checks them). Values that are open above for a real reason
# (an index or a seed) are bounded by what a 64-bit whole number holds.
MAX_FIGHTERS = 1_000_000.0  # a group's fighters (strength, room to grow, an event's strength): 100x any estimate
MAX_MONTHS = 1200  # a run's longest length (months): 100 years; every length, delay and window in months
MAX_UTILITY = 50.0  # a utility weight, switch cost, reward or inducement (utility units): with the default choice
# precision (3) a gap of 2 already makes a 400:1 choice; 15x the largest value used (3.0, the top of the
# calibration box of pakistan.reward_violence_level)
MAX_PRESSURE_RATIO = 10_000.0  # domestic pressure / tolerance that triggers a closure or strikes (ratio): the
# history replay sets 1,000 for "never of its own choosing" (10x that); the policy search spans 1-3
MAX_GRIEVANCE = 100.0  # grievance units (what one event adds; the half-saturation scale): 30x the largest value
# used (taliban.grievance_scale 3); the grievance level saturates long before
MAX_RELATIONS_STEP = 2.0  # a change of relations (relations units, per month or per event): the full width of
# the -1..1 scale, so a larger step moves relations no further; 10x the largest value used (strike_loss 0.2)
MAX_FACTOR = 100.0  # a multiplier or elasticity (x): 30-100x beyond any value used (3 in a named sweep)
MAX_USD_MILLION = 10_000.0  # trade or revenue (USD million/month): 10 bn a month, about a third of Pakistan's
# GDP; 55x the largest value used (Taliban revenue, 180)
MAX_INDEX = 2**63 - 1  # an index or count as large as a sweep is (nothing else bounds it): what 64 bits hold


# --------------------------------------------------------------------------- agents
@dataclass(kw_only=True)
class PakistanParams:
    initial_stance: Literal["engage", "pressure"]
    tolerance: float = bounded(0.0, 100_000.0)
    tolerance_adaptation: float = bounded(0.0, 1.0, default=0.0)
    pressure_memory: float = unit()
    military_weight: float = unit()
    economic_stress: float = unit()
    choice_precision: float = bounded(0.0, 100.0)
    learning_rate: float = unit()
    attraction_decay: float = unit()
    w_violence: float = bounded(0.0, MAX_UTILITY)
    w_trust: float = bounded(0.0, MAX_UTILITY)
    w_mediation: float = bounded(0.0, MAX_UTILITY)
    w_india_fear: float = bounded(0.0, MAX_UTILITY)
    w_military: float = bounded(0.0, MAX_UTILITY)
    w_economy: float = bounded(0.0, MAX_UTILITY)
    w_reciprocity: float = bounded(0.0, MAX_UTILITY)
    switch_cost: float = bounded(0.0, MAX_UTILITY)
    reward_violence_level: float = bounded(0.0, MAX_UTILITY)
    reward_violence_trend: float = bounded(0.0, MAX_UTILITY)
    reward_trade: float = bounded(0.0, MAX_UTILITY)
    reward_relations: float = bounded(0.0, MAX_UTILITY)
    connectivity_mediation_min: float = unit()
    ttp_talks_prob: float = unit()
    closure_pressure_ratio: float = bounded(0.0, MAX_PRESSURE_RATIO)
    repatriation_after_months: int = bounded(0, MAX_MONTHS)
    un_accusation_prob: float = unit()
    strike_pressure_ratio: float = bounded(0.0, MAX_PRESSURE_RATIO)
    strike_prob: float = unit()
    ct_ops_engage: float = unit()
    ct_ops_pressure: float = unit()


@dataclass(kw_only=True)
class TalibanParams:
    initial_stance: Literal["engage", "pressure"]
    cohesion: float = unit()
    ttp_sanctuary: float = unit()
    legitimacy_motive: float = bounded(0.0, MAX_UTILITY)
    choice_precision: float = bounded(0.0, 100.0)
    learning_rate: float = unit()
    attraction_decay: float = unit()
    w_grievance: float = bounded(0.0, MAX_UTILITY)
    w_revenue: float = bounded(0.0, MAX_UTILITY)
    w_mediation: float = bounded(0.0, MAX_UTILITY)
    w_reciprocity: float = bounded(0.0, MAX_UTILITY)
    w_iskp_fear: float = bounded(0.0, MAX_UTILITY)
    switch_cost: float = bounded(0.0, MAX_UTILITY)
    reward_revenue: float = bounded(0.0, MAX_UTILITY)
    reward_grievance: float = bounded(0.0, MAX_UTILITY)
    reward_relations: float = bounded(0.0, MAX_UTILITY)
    restraint_engage: float = unit()
    restraint_pressure: float = unit()
    strike_restraint_boost: float = unit()
    strike_restraint_memory: float = unit()
    crackdown_threshold: float = unit()
    grievance_memory: float = unit()
    grievance_per_100k_forced: float = bounded(0.0, MAX_GRIEVANCE)
    grievance_per_strike: float = bounded(0.0, MAX_GRIEVANCE)
    grievance_per_closed_month: float = bounded(0.0, MAX_GRIEVANCE)
    grievance_per_accusation: float = bounded(0.0, MAX_GRIEVANCE)
    grievance_scale: float = bounded(1e-9, MAX_GRIEVANCE)
    retaliation_grievance: float = unit()  # a grievance level, which lies in [0, 1): 1 = never from grievance alone
    diversification_rate: float = unit()
    diversification_decay: float = unit()
    diversification_max: float = unit()
    diversification_policy: float = bounded(0.0, 1.0, default=0.0)


@dataclass(kw_only=True)
class MilitantGroupParams:
    # Upper bounds here are generous (10-100x beyond any value seen): beyond them a run's
    # expected attacks can reach numbers numpy cannot draw (see militants.max_attacks_per_month).
    strength: float = bounded(0.0, MAX_FIGHTERS)
    capacity: float = bounded(1.0, MAX_FIGHTERS)
    recruitment_rate: float = unit()
    natural_attrition: float = unit()
    attack_rate: float = bounded(0.0, 1000.0)
    sanctuary_source: Literal["taliban", "own"]
    own_sanctuary: float = unit()
    sanctuary_floor: float = unit()
    restraint_sensitivity: float = unit()
    ct_sensitivity: float = unit()
    spoiler: float = bounded(0.0, MAX_FACTOR)
    spoiler_china: float = bounded(0.0, MAX_FACTOR)
    revenge: float = bounded(0.0, MAX_FACTOR)
    revenge_memory: float = unit()
    grievance_boost: float = bounded(0.0, MAX_FACTOR)
    nexus: float = bounded(0.0, MAX_FACTOR)
    ceasefire_factor: float = unit()
    deaths_per_attack_median: float = bounded(0.0, 1000.0)
    deaths_per_attack_sigma: float = bounded(0.0, 5.0)
    deaths_per_attack_max: int = bounded(1, 100_000)
    share_security: float = unit()
    share_civilian: float = unit()
    suicide_share: float = unit()
    suicide_deaths_multiplier: float = bounded(1.0, 100.0)
    ct_kill_rate: float = unit()
    strike_kill_rate: float = unit()
    cpec_targeting: float = unit()
    capacity_sanctuary_share: float = unit()
    capacity_funding_share: float = unit()
    capacity_ct_loss: float = unit()
    funding: float = unit()
    recruitment_pool: float = unit()
    local_grievance_memory: float = unit()
    local_grievance_per_repression: float = bounded(0.0, MAX_GRIEVANCE)
    local_grievance_per_cpec: float = bounded(0.0, MAX_GRIEVANCE)
    local_grievance_scale: float = bounded(1e-9, MAX_GRIEVANCE)
    local_grievance_boost: float = bounded(0.0, MAX_FACTOR)


@dataclass(kw_only=True)
class MilitantRoles:
    """Which configured group plays each role (see configs/militants/default.yaml)."""

    sheltered: str
    rival: str | None = None


@dataclass(kw_only=True)
class MilitantsConfig:
    groups: dict[str, MilitantGroupParams]
    roles: MilitantRoles
    spoiler_scale: float = bounded(0.0, MAX_FACTOR)
    defection_ceasefire: float = unit()
    defection_crackdown: float = unit()
    defection_talks_rejection: float = unit()
    resettled_per_release: float = bounded(0.0, 100_000.0)
    ceasefire_prob: float = unit()
    ceasefire_break_prob: float = unit()
    big_attack_deaths: int = bounded(1, 100_000)
    # Cap on a group's expected attacks in a month; the default (the value of configs/militants/default.yaml)
    # keeps militants files written before the cap existed loading as before.
    max_attacks_per_month: float = bounded(1.0, 1_000_000.0, default=10_000.0)


@dataclass(kw_only=True)
class MediatorParams:
    available: bool
    strength: float = unit()
    relations_threshold: float = signed()
    cpec_exposure: float = unit()
    # urgency units per attack: 100x the configured 0.1; an urgency of 1 already makes mediation near certain
    urgency_per_cpec_attack: float = bounded(0.0, 10.0)
    urgency_memory: float = unit()
    inducement: float = bounded(0.0, MAX_UTILITY)
    talks_cost_reduction: float = unit()


@dataclass(kw_only=True)
class MediatorsConfig:
    parties: dict[str, MediatorParams]
    strength_scale: float = bounded(0.0, MAX_FACTOR)


# ---------------------------------------------------------------------- world state
@dataclass(kw_only=True)
class RelationsParams:
    initial: float = signed()
    trust_initial: float = unit()
    engage_gain: float = bounded(0.0, MAX_RELATIONS_STEP)
    pressure_loss: float = bounded(0.0, MAX_RELATIONS_STEP)
    strike_loss: float = bounded(0.0, MAX_RELATIONS_STEP)
    accusation_loss: float = bounded(0.0, MAX_RELATIONS_STEP)
    closure_loss: float = bounded(0.0, MAX_RELATIONS_STEP)
    violence_loss: float = bounded(0.0, MAX_RELATIONS_STEP)
    mediation_gain: float = bounded(0.0, MAX_RELATIONS_STEP)
    border_battle_loss: float = bounded(0.0, MAX_RELATIONS_STEP)
    closure_escalation_months: float = bounded(1e-9, MAX_MONTHS)
    fighting_quiet_months: int = bounded(0, MAX_MONTHS)
    collapse_threshold: float = signed()
    collapse_recovery_factor: float = unit()
    collapse_memory: float = unit()
    mean_reversion: float = unit()
    trust_recovery_rate: float = unit()
    trust_loss_rate: float = unit()
    trust_mediation_multiplier: float = bounded(1.0, 100.0)
    # attacks/month: the configured cap on a group's attacks in a month (militants.max_attacks_per_month);
    # 400x the value used
    trust_attack_reference: float = bounded(1e-9, 10_000.0)
    unannounced_restraint_credit: float = unit()
    engagement_memory: float = unit()
    upgrade_threshold: float = signed()
    upgrade_months: int = bounded(1, MAX_MONTHS)
    downgrade_threshold: float = signed()
    initial_diplomatic_level: int = bounded(0, 1)


@dataclass(kw_only=True)
class TradeParams:
    base: float = bounded(0.0, MAX_USD_MILLION)
    factor_restricted: float = unit()
    factor_closed: float = unit()
    facilitation_boost: float = bounded(0.0, 10.0)
    transit_fee: float = unit()
    fee_elasticity: float = bounded(0.0, MAX_FACTOR)
    adjustment: float = unit()
    diversion_share: float = unit()
    retaliation_closure_prob: float = unit()
    iran_base: float = bounded(0.0, MAX_USD_MILLION)
    iran_share_of_rerouted: float = unit()
    reroute_immediate: float = unit()


@dataclass(kw_only=True)
class RevenueParams:
    base: float = bounded(0.0, MAX_USD_MILLION)
    customs_share: float = unit()
    pakistan_route_share: float = unit()
    reroute_base: float = unit()


@dataclass(kw_only=True)
class RefugeeParams:
    registered: int = bounded(0, 100_000_000)
    documented: int = bounded(0, 100_000_000)
    undocumented: int = bounded(0, 100_000_000)
    arrivals_per_month: float = bounded(0.0, 1_000_000.0)
    arrivals_hostility_boost: float = bounded(0.0, MAX_FACTOR)
    voluntary_return_rate: float = unit()
    voluntary_return_fear_rate: float = unit()
    forced_return_rate: float = unit()
    forced_documented_rate: float = unit()
    forced_registered_rate: float = unit()
    status_lapse_rate: float = unit()
    enforcement_undocumented: float = unit()
    enforcement_documented: float = unit()
    enforcement_registered: float = unit()
    drive_decay: float = unit()
    drive_sustained: float = unit()
    fear_spillover: float = unit()


@dataclass(kw_only=True)
class SectarianParams:
    """Tribal-sectarian clashes in Kurram (sim/model/sectarian.py): configs/world/default.yaml ``sectarian``."""

    flare_rate: float = unit()
    revenge_boost: float = bounded(0.0, 20.0)
    tension_memory: float = unit()
    deaths_median: float = bounded(0.0, 1000.0)
    deaths_sigma: float = bounded(0.0, 3.0)
    escalation: float = bounded(0.0, 10.0)
    deaths_max: int = bounded(0, 10_000)
    forced_flare: bool = False


@dataclass(kw_only=True)
class WorldParams:
    relations: RelationsParams
    trade: TradeParams
    revenue: RevenueParams
    refugees: RefugeeParams
    sectarian: SectarianParams
    economic_stress_memory: float = unit()


@dataclass(kw_only=True)
class InfluenceParams:
    india_outreach: float = unit()
    iran_route: bool = False
    iran_route_capacity: float = unit()
    cpec_activity: float = unit()


# --------------------------------------------------------------------------- scenario
@dataclass(kw_only=True)
class EventSpec:
    date: str
    target: str
    value: Any
    op: Literal["set", "add", "multiply"] = "set"
    months: int = bounded(0, MAX_MONTHS, default=0)
    note: str = ""


@dataclass(kw_only=True)
class ScenarioConfig:
    name: str
    description: str
    start_date: str
    months: int = bounded(1, MAX_MONTHS)
    events: list[EventSpec] = field(default_factory=list)


@dataclass(kw_only=True)
class OutputConfig:
    figures: bool
    event_log: bool
    overwrite: bool = False  # a run may replace the run folder it is pointed at (hydra.run.dir)


# ---------------------------------------------------- branches beside the model's parameters
@dataclass(kw_only=True)
class MetricsConfig:
    """Thresholds of the pattern metrics (configs/metrics/default.yaml; sim/analysis/metrics.py)."""

    step_eps: float = bounded(0.0, MAX_RELATIONS_STEP)
    thaw_min_months: int = bounded(1, MAX_MONTHS)
    reversal_window_months: int = bounded(0, MAX_MONTHS)
    max_lag_months: int = bounded(0, MAX_MONTHS)
    xcorr_min_pairs: int = bounded(2, MAX_MONTHS)
    period_min_months: int = bounded(2, MAX_MONTHS)
    period_min_range: float = bounded(0.0, MAX_RELATIONS_STEP)


@dataclass(kw_only=True)
class HistoryConfig:
    """The record of a history scenario; each entry is checked by ``sim.config.history``."""

    mode: Literal["forced", "free"]
    stances: list[dict[str, Any]]


@dataclass(kw_only=True)
class ExperimentAxis:
    """One swept (or searched) parameter of a named experiment, with its label for figures."""

    key: str
    label: str
    unit: str


@dataclass(kw_only=True)
class ExperimentConfig:
    """A named experiment (configs/experiment/): what it sweeps and which metrics it draws."""

    name: str
    title: str
    axes: list[ExperimentAxis] = field(default_factory=list)    # grid sweeps: x axis, then y axis
    levers: list[ExperimentAxis] = field(default_factory=list)  # searches: the settings searched
    metrics: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class SweepSettings:
    """The ``sweep`` config group (configs/sweep/default.yaml gives meaning and unit).

    Read by ``sim.sweeps``; declared here so that every run, single or swept, refuses an
    unknown or bad ``sweep.*`` setting before it starts. A new sweep setting is added here.
    """

    replicates: int = bounded(1, 1_000_000)
    retry_failed: bool
    keep_runs: bool
    progress: bool
    fail_on_seed: int | None = bounded(0, 2**63 - 1, default=None)
    exit_in_job: int | None = bounded(0, MAX_INDEX, default=None)
    collect: Literal["metrics", "full"] = "metrics"
    design: str | None = None   # a design file of points (Parquet or CSV), given as +sweep.design=PATH
    objectives: list[str] | None = None  # a search's objectives: metric names, "-" = minimised (sim/sweeps/objective.py)
    points_per_job: int | None = bounded(1, MAX_INDEX, default=None)  # points a batched job runs; None = automatic
    code_version: str = "auto"  # part of a point's identity: auto = hash of the model's sources (sim/sweeps/identity.py)
    # another host's claim on a point, untouched this long, is stale (minutes; at most 30 days: a live owner
    # touches its claim after every run)
    stale_claim_minutes: float = bounded(0.1, 43_200.0, default=30.0)
    invocation: str | None = None  # set by the batched sweeper (sim/sweeps/sweeper.py): its design record
    batch: int | None = bounded(0, MAX_INDEX, default=None)  # set by the batched sweeper: which batch a job runs

    def __post_init__(self) -> None:
        # An empty text would pin every point's identity to "" and let results of other code in.
        if not self.code_version.strip():
            raise ConfigError("sweep.code_version: empty; allowed: auto, or a text that pins the code version")


@dataclass(kw_only=True)
class Config:
    seed: int = bounded(0, 2**63 - 1)
    months: int | None = bounded(1, MAX_MONTHS)
    start: Literal["today", "stylized"] = "today"  # where a forward run starts (sim/config/start.py)
    params_draw: Any = "auto"  # auto | best | a set index of the calibrated ensemble (checked in sim/config/start.py)
    scenario: ScenarioConfig = None  # type: ignore[assignment]
    pakistan: PakistanParams = None  # type: ignore[assignment]
    taliban: TalibanParams = None  # type: ignore[assignment]
    militants: MilitantsConfig = None  # type: ignore[assignment]
    mediators: MediatorsConfig = None  # type: ignore[assignment]
    world: WorldParams = None  # type: ignore[assignment]
    influences: InfluenceParams = None  # type: ignore[assignment]
    output: OutputConfig = None  # type: ignore[assignment]
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def n_months(self) -> int:
        return self.months if self.months is not None else self.scenario.months


# Top-level keys that other parts of the project (metrics, history, experiments,
# hydra) own; they are carried as plain mappings in ``Config.extras``.
PASSTHROUGH_KEYS = ("hydra", "metrics", "history", "experiment", "sweep", "calibration")

# The schema of each of those branches: ``validate`` builds it (keys, types, ranges)
# before a run starts and keeps the checked values, as a plain mapping, in
# ``Config.extras``. ``None`` = a branch whose owner checks it (``hydra``: Hydra's own
# schema; ``calibration``: experiments/calibrate.py). A new top-level branch is added
# to PASSTHROUGH_KEYS and here.
BRANCH_SCHEMAS: dict[str, type | None] = {
    "metrics": MetricsConfig,
    "history": HistoryConfig,
    "experiment": ExperimentConfig,
    "sweep": SweepSettings,
    "hydra": None,
    "calibration": None,
}


# ------------------------------------------------------------------------- validation
def _type_name(tp: Any) -> str:
    if tp is float:
        return "a number"
    if tp is int:
        return "a whole number"
    if tp is bool:
        return "true or false"
    if tp is str:
        return "a text"
    return getattr(tp, "__name__", str(tp))


def _bound_text(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"  # whole numbers in full: 2**63 - 1, not 9.22e+18


def _range_text(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"{_bound_text(lo)} <= value <= {_bound_text(hi)}"
    if lo is not None:
        return f"value >= {_bound_text(lo)}"
    return f"value <= {_bound_text(hi)}"


def shown(value: Any) -> str:
    """A value as a message shows it: a whole number too long to read by its length, not its digits."""
    text = repr(value)
    if isinstance(value, int) and not isinstance(value, bool) and len(text) > 30:
        return f"a whole number of {len(text.lstrip('-'))} digits"
    return text


def plain(value: Any, path: str) -> Any:
    """``value`` as plain Python data: numpy scalars become numbers, tuples lists.

    Clients driven by numpy (EMA Workbench, pandas rows) hand over ``numpy.float64``,
    ``int64`` or ``bool_``; they are accepted wherever a Python number is, with the same
    result. Anything that is not a number, text, true/false, null, or a list or mapping
    of these is refused with one line.
    """
    if isinstance(value, np.generic) and not isinstance(value, (np.void, np.object_)):
        value = value.item()  # (np.datetime64 etc. become objects refused below)
    if value is None or isinstance(value, (bool, int, float, str)):
        return str(value) if isinstance(value, str) else value
    if isinstance(value, (list, tuple)):
        return [plain(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {str(plain(k, path)): plain(v, _join(path, str(k))) for k, v in value.items()}
    raise ConfigError(f"{path}: {value!r} ({type(value).__name__}) is not a config value; allowed: a number, "
                      f"a text, true/false, null, or a list or mapping of these")


def _convert(value: Any, tp: Any, path: str, rng: tuple | None = None) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _convert(value, args[0], path, rng)
    if tp is Any:
        return value
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{path}: {value!r} is not allowed; allowed values: {', '.join(map(str, allowed))}")
        return value
    if dataclasses.is_dataclass(tp):
        return build(tp, value, path)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping of names to settings, got {value!r}")
        _, vt = typing.get_args(tp)
        return {str(k): _convert(v, vt, f"{path}.{k}") for k, v in value.items()}
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        (it,) = typing.get_args(tp)
        return [_convert(v, it, f"{path}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {value!r}")
        return value
    if tp in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected {_type_name(tp)}, got {value!r}" + _allowed(rng))
        if value != value:  # NaN
            raise ConfigError(f"{path}: NaN is not allowed" + _allowed(rng))
        if isinstance(value, float) and value in (math.inf, -math.inf):
            raise ConfigError(f"{path}: {value!r} is not allowed; expected a finite number" + _allowed(rng))
        if tp is int:
            # Whole numbers stay exact (a seed may be up to 2**63 - 1): never via float.
            if isinstance(value, float) and not value.is_integer():
                raise ConfigError(f"{path}: expected a whole number, got {value!r}" + _allowed(rng))
            value = int(value)
        else:
            try:
                value = float(value)
            except OverflowError:
                raise ConfigError(f"{path}: {shown(value)} is out of range" + _allowed(rng)) from None
        if rng is not None:
            lo, hi = rng
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                raise ConfigError(f"{path}: {shown(value)} is out of range; allowed {_range_text(lo, hi)}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a text, got {value!r}")
        return value
    return value


def _allowed(rng: tuple | None) -> str:
    return f"; allowed {_range_text(*rng)}" if rng else ""


@functools.cache
def schema_of(cls: type) -> tuple[dict[str, dataclasses.Field], dict[str, Any]]:
    """The fields of a schema dataclass and their types, read once (``get_type_hints`` is slow)."""
    return {f.name: f for f in dataclasses.fields(cls)}, typing.get_type_hints(cls)


def build(cls: type, data: Any, path: str = "") -> Any:
    """Build dataclass ``cls`` from a plain mapping, checking keys, types and ranges."""
    where = path or "config"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of settings, got {data!r}")
    fields, hints = schema_of(cls)
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(str(key), list(fields), n=1)
        hint = f"; did you mean {_join(path, close[0])}?" if close else f"; allowed keys: {', '.join(fields)}"
        raise ConfigError(f"{_join(path, key)}: unknown parameter{hint}")
    kwargs = {}
    for name, f in fields.items():
        sub = _join(path, name)
        if name not in data:
            has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            if has_default:
                continue
            raise ConfigError(f"{sub}: missing; every parameter must be set in a config file")
        kwargs[name] = _convert(data[name], hints[name], sub, f.metadata.get("range"))
    return cls(**kwargs)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else str(key)
