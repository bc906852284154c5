"""The world state: the shared state of the region, kept in one object.

``WorldState`` holds every shared field (relations, trust, trade and border, Taliban
revenue, refugees by status, violence by group and victim, diplomatic level,
ceasefire flags). ``WorldState.update`` is the first part of stage 5 of the monthly
step (docs/ODD.md, "Process overview"): it applies the choices the agents made in
stages 2-4 to the shared fields at once. The agents' own state (the Taliban's
grievance and diversification, militant strengths and ceasefires) moves right after
it, in the same stage, in ``Taliban.absorb`` and ``sim.agents.militant.update_flows``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import ClassVar

import numpy as np

from sim.config.schema import WorldParams

BORDER_STATES = ("open", "restricted", "closed")
DIPLOMATIC_LEVELS = ("charge_d_affaires", "ambassador")


def _binomial(u: float, n: int, prob: float) -> int:
    """A binomial count from one uniform (inverse CDF; normal approximation for large n).

    One uniform per count keeps the number of draws a month fixed, whatever the stocks.
    """
    if n <= 0 or prob <= 0.0:
        return 0
    if prob >= 1.0:
        return int(n)
    variance = n * prob * (1.0 - prob)
    if variance > 25.0:
        k = round(n * prob + math.sqrt(variance) * _normal_quantile(u))
        return 0 if k < 0 else int(n) if k > n else k  # clamped to [0, n] (conditionals: cheaper than min/max)
    return int(min(n, _binom_ppf(u, n, prob)))


def _poisson(u: float, lam: float) -> int:
    """A Poisson count from one uniform (inverse CDF; normal approximation for a large mean)."""
    if lam <= 0.0:
        return 0
    if lam > 25.0:
        k = round(lam + math.sqrt(lam) * _normal_quantile(u))
        return k if k > 0 else 0
    k, pk = 0, math.exp(-lam)
    cdf = pk
    while u > cdf and k < 10_000:
        k += 1
        pk *= lam / k
        cdf += pk
    return k


def _binom_ppf(u: float, n: int, prob: float) -> int:
    k, pk = 0, (1.0 - prob) ** n
    cdf, q = pk, prob / (1.0 - prob)
    while u > cdf and k < n:
        pk *= q * (n - k) / (k + 1)
        k += 1
        cdf += pk
    return k


# One standard normal for every quantile (building a NormalDist per call cost more than the quantile).
_STANDARD_NORMAL = NormalDist()
_U_LOW, _U_HIGH = 1e-12, 1.0 - 1e-12  # a uniform is kept this far inside (0, 1): the quantile is finite


def _normal_quantile(u: float) -> float:
    return _STANDARD_NORMAL.inv_cdf(_U_LOW if u < _U_LOW else _U_HIGH if u > _U_HIGH else u)


def _returns(u_voluntary: float, u_forced: float, stock: int, felt: float, felt_by_others: float,
             forced_rate: float, rp) -> tuple[int, int]:
    """Voluntary and forced returns of one legal status this month (``rp``: the refugee parameters).

    Voluntary returns rise with fear (the status's own enforcement plus ``fear_spillover``
    of the strongest aimed at the others); forced returns come from those who stayed.
    """
    fear = felt + rp.fear_spillover * felt_by_others
    fear = fear if fear < 1.0 else 1.0
    vol_rate = rp.voluntary_return_rate + rp.voluntary_return_fear_rate * fear
    voluntary = _binomial(u_voluntary, stock, vol_rate if vol_rate < 1.0 else 1.0)
    forced = forced_rate * felt
    return voluntary, _binomial(u_forced, stock - voluntary, forced if forced < 1.0 else 1.0)


@dataclass
class MonthlyActions:
    """What the agents chose this month, gathered before the world moves."""

    pakistan_engaged: bool
    pakistan: dict[str, bool]
    taliban_engaged: bool
    taliban: dict[str, bool]
    effective_restraint: float
    mediation: float
    inducement: float
    attacks: dict[str, int]
    deaths: dict[str, int]
    sheltered_attacks: int  # attacks and deaths of the group the Taliban shelter (role
    sheltered_deaths: int   # ``militants.roles.sheltered``): they drive relations and trust
    deaths_by_victim: dict[str, int]
    suicide_attacks: int
    cpec_attacks: int
    diversification: float
    iran_reroute: float


@dataclass
class WorldState:
    # Frame columns in order, column name -> field or property; the model collects each.
    FRAME_COLUMNS: ClassVar[dict[str, str]] = {name: name for name in (
        "relations", "trust", "border", "transit_fee", "trade", "trade_via_iran", "pakistan_trade_gain",
        "taliban_revenue",
        "refugees_in_pakistan", "refugees_registered", "refugees_documented", "refugees_undocumented",
        "refugee_arrivals", "returns_voluntary", "returns_forced", "status_lapses",
        "returns_registered", "returns_documented", "returns_undocumented",
        "enforcement_registered", "enforcement_documented", "enforcement_undocumented",
        "attacks", "suicide_attacks", "cpec_attacks", "deaths_security", "deaths_civilian", "deaths_militant",
        "deaths_total", "diplomatic_level", "mediation", "engagement_progress", "economic_stress",
    )} | {"diplomatic_level": "diplomatic_label"}  # column name -> attribute

    params: WorldParams = field(repr=False, compare=False)
    relations: float
    trust: float
    trade: float
    taliban_revenue: float
    pakistan_trade_gain: float
    border: str
    transit_fee: float
    refugees_registered: int
    refugees_documented: int
    refugees_undocumented: int
    refugee_arrivals: int = 0
    returns_voluntary: int = 0
    returns_forced: int = 0
    status_lapses: int = 0
    returns_registered: int = 0
    returns_documented: int = 0
    returns_undocumented: int = 0
    enforcement_registered: float = 0.0   # enforcement felt by each status this month (0-1)
    enforcement_documented: float = 0.0
    enforcement_undocumented: float = 0.0
    trade_via_iran: float = 0.0
    months_closed: int = 0
    months_since_fighting: int = 1200
    collapse_scar: float = 0.0
    campaign: dict[str, list[float]] = field(default_factory=dict)  # status -> [aimed level last month, months since launch]
    attacks: int = 0
    suicide_attacks: int = 0
    cpec_attacks: int = 0
    deaths_security: int = 0
    deaths_civilian: int = 0
    deaths_militant: int = 0
    deaths_total: int = 0
    diplomatic_level: int = 0
    months_above_upgrade: int = 0
    mediation: float = 0.0
    inducement: float = 0.0
    engagement_progress: float = 0.0
    economic_stress: float = 0.0
    ceasefire: dict[str, bool] = field(default_factory=dict)
    forced_border: str | None = None

    @classmethod
    def initial(cls, params: WorldParams, groups: list[str], economic_stress: float) -> WorldState:
        rp, tp = params.refugees, params.trade
        return cls(
            params=params,
            relations=params.relations.initial,
            trust=params.relations.trust_initial,
            trade=tp.base,
            trade_via_iran=tp.iran_base,
            taliban_revenue=params.revenue.base,
            pakistan_trade_gain=tp.base,
            border="open",
            transit_fee=0.0,
            refugees_registered=rp.registered,
            refugees_documented=rp.documented,
            refugees_undocumented=rp.undocumented,
            diplomatic_level=params.relations.initial_diplomatic_level,
            economic_stress=economic_stress,
            ceasefire={g: False for g in groups},
        )

    @property
    def refugees_in_pakistan(self) -> int:
        return self.refugees_registered + self.refugees_documented + self.refugees_undocumented

    @property
    def diplomatic_label(self) -> str:
        return DIPLOMATIC_LEVELS[self.diplomatic_level]

    @property
    def trade_ratio(self) -> float:
        """Trade via Pakistan relative to its open-border base (the one place it is computed)."""
        base = self.params.trade.base
        return self.trade / base if base > 0 else 0.0

    # ------------------------------------------------------------------ stage 5
    def update(self, a: MonthlyActions, p: WorldParams, rng: np.random.Generator, tolerance: float) -> None:
        self._update_violence(a)
        self._update_border(a, p, rng)
        self.months_closed = self.months_closed + 1 if self.border == "closed" else 0
        self._update_trade_and_revenue(a, p)
        self._update_refugees(a, p, rng)
        self._update_relations(a, p, tolerance)
        self._update_trust(a, p)
        self.mediation = a.mediation
        self.inducement = a.inducement

    def _update_violence(self, a: MonthlyActions) -> None:
        self.attacks = sum(a.attacks.values())
        self.suicide_attacks = a.suicide_attacks
        self.cpec_attacks = a.cpec_attacks
        self.deaths_security = a.deaths_by_victim["security"]
        self.deaths_civilian = a.deaths_by_victim["civilian"]
        self.deaths_militant = a.deaths_by_victim["militant"]
        self.deaths_total = self.deaths_security + self.deaths_civilian + self.deaths_militant

    def _update_border(self, a: MonthlyActions, p: WorldParams, rng: np.random.Generator) -> None:
        retaliation_closes = rng.random() < p.trade.retaliation_closure_prob  # drawn every month (aligned streams)
        if self.forced_border is not None:
            self.border = self.forced_border
        elif a.pakistan["border_closure"]:
            self.border = "closed"
        elif a.taliban["border_retaliation"] and retaliation_closes:
            self.border = "closed"
        elif a.pakistan["transit_restrictions"]:
            self.border = "restricted"
        else:
            self.border = "open"
        self.transit_fee = p.trade.transit_fee if a.pakistan["transit_restrictions"] else 0.0

    def _update_trade_and_revenue(self, a: MonthlyActions, p: WorldParams) -> None:
        tp, rv = p.trade, p.revenue
        border = self.border
        border_factor = 1.0 if border == "open" else tp.factor_restricted if border == "restricted" else tp.factor_closed
        facilitation = 1.0 + tp.facilitation_boost * (a.pakistan["trade_facilitation"] + a.pakistan["connectivity"]) / 2
        fee_factor = max(0.0, 1.0 - tp.fee_elasticity * self.transit_fee)
        diverted = 1.0 - tp.diversion_share * a.diversification
        target = tp.base * border_factor * facilitation * fee_factor * diverted
        self.trade = max(0.0, self.trade + tp.adjustment * (target - self.trade))
        self.pakistan_trade_gain = self.trade * (1.0 + self.transit_fee)

        # What no longer passes Pakistan is rerouted in proportion to diversification
        # (Kabul's policy and its response to closures), more with the Iran route open;
        # most of the rerouted trade goes through Chabahar and Bandar Abbas.
        reach = min(1.0, rv.reroute_base + a.iran_reroute) * (tp.reroute_immediate
                                                               + (1.0 - tp.reroute_immediate) * a.diversification)
        ratio = self.trade_ratio
        rerouted = tp.base * max(0.0, 1.0 - ratio) * reach
        iran_target = tp.iran_base + tp.iran_share_of_rerouted * rerouted
        self.trade_via_iran = max(0.0, self.trade_via_iran + tp.adjustment * (iran_target - self.trade_via_iran))

        # Customs on the Pakistan routes scale with trade; the same share of what is lost
        # there is recaptured through other routes.
        pak_customs_full = rv.base * rv.customs_share * rv.pakistan_route_share
        lost = pak_customs_full * max(0.0, 1.0 - ratio)
        recaptured = lost * reach
        self.taliban_revenue = max(0.0, rv.base - pak_customs_full + pak_customs_full * ratio + recaptured)
        self.economic_stress = (p.economic_stress_memory * self.economic_stress
                                + (1 - p.economic_stress_memory) * max(0.0, 1.0 - ratio))

    def _enforcement(self, status: str, aimed: float) -> float:
        """Enforcement felt this month by one status: a campaign peaks at launch, then eases.

        ``aimed`` is the level aimed at the status now (0 when no drive runs). When it
        rises, the campaign (re)launches at full intensity; each month the launch push
        decays by ``drive_decay`` towards the share ``drive_sustained`` of the aim, so
        returns ease off after the first months (the 2024 lull after the January peak).
        """
        p = self.params.refugees
        last, age = self.campaign.get(status, (0.0, 0.0))
        age = 0.0 if aimed > last else age + 1.0
        self.campaign[status] = [aimed, age]
        return aimed * (p.drive_sustained + (1.0 - p.drive_sustained) * p.drive_decay ** age)

    def _update_refugees(self, a: MonthlyActions, p: WorldParams, rng: np.random.Generator) -> None:
        """Arrivals, returns of each legal status and lapses of status; the stocks balance exactly.

        Enforcement is aimed at each status (``enforcement_*`` while a drive runs; dated
        events move the aims in the history replay). A status returns under its own
        enforcement (deportations and fear) and under the fear that spills over from the
        enforcement aimed at the others (``fear_spillover``).
        """
        rp = p.refugees
        relations = self.relations
        hostility = -relations if -relations > 0.0 else 0.0
        # A fixed number of draws a month (aligned streams), turned into counts below; plain floats
        # (tolist) make the scalar arithmetic of the counts cheaper, with the same values.
        u = rng.random(8).tolist()
        arrivals = _poisson(u[0], rp.arrivals_per_month * (1.0 + rp.arrivals_hostility_boost * hostility))
        drive = 1.0 if a.pakistan["forced_repatriation"] else 0.0
        felt_reg = self._enforcement("registered", drive * rp.enforcement_registered)
        felt_doc = self._enforcement("documented", drive * rp.enforcement_documented)
        felt_und = self._enforcement("undocumented", drive * rp.enforcement_undocumented)
        # Each status feels its own enforcement plus the fear spilling over from the strongest aimed at the others.
        vol_reg, forced_reg = _returns(u[1], u[2], self.refugees_registered, felt_reg, max(felt_doc, felt_und),
                                       rp.forced_registered_rate, rp)
        vol_doc, forced_doc = _returns(u[3], u[4], self.refugees_documented, felt_doc, max(felt_reg, felt_und),
                                       rp.forced_documented_rate, rp)
        vol_und, forced_und = _returns(u[5], u[6], self.refugees_undocumented, felt_und, max(felt_reg, felt_doc),
                                       rp.forced_return_rate, rp)
        left = self.refugees_documented - vol_doc - forced_doc
        lapses = _binomial(u[7], left, rp.status_lapse_rate) if not a.pakistan_engaged else 0
        self.refugees_registered -= vol_reg + forced_reg
        self.refugees_documented -= vol_doc + forced_doc + lapses
        self.refugees_undocumented += arrivals + lapses - vol_und - forced_und
        self.refugee_arrivals = arrivals
        self.returns_voluntary = vol_reg + vol_doc + vol_und
        self.returns_forced = forced_reg + forced_doc + forced_und
        self.returns_registered = vol_reg + forced_reg
        self.returns_documented = vol_doc + forced_doc
        self.returns_undocumented = vol_und + forced_und
        self.enforcement_registered = felt_reg
        self.enforcement_documented = felt_doc
        self.enforcement_undocumented = felt_und
        self.status_lapses = lapses

    def _update_relations(self, a: MonthlyActions, p: WorldParams, tolerance: float) -> None:
        rp = p.relations
        pk, tb = a.pakistan, a.taliban
        # Fighting (strikes on Afghan soil, border battles) blocks what mediation can do;
        # a closure costs more the longer it lasts.
        fighting = pk["strikes"] or tb["border_retaliation"]
        self.months_since_fighting = 0 if fighting else self.months_since_fighting + 1
        mediation_counts = self.months_since_fighting >= rp.fighting_quiet_months
        closure = (1.0 + (self.months_closed - 1) / rp.closure_escalation_months) if self.months_closed else 0.0
        drive = (rp.engage_gain * (a.pakistan_engaged + a.taliban_engaged)
                 - rp.pressure_loss * ((not a.pakistan_engaged) + (not a.taliban_engaged))
                 - rp.strike_loss * pk["strikes"]
                 - rp.border_battle_loss * tb["border_retaliation"]
                 - rp.accusation_loss * pk["un_accusation"]
                 - rp.closure_loss * closure
                 - rp.violence_loss * min(1.0, a.sheltered_deaths / max(tolerance, 1e-9))
                 + rp.mediation_gain * a.mediation * mediation_counts
                 + rp.engage_gain * tb["confidence_building"])
        change = drive - rp.mean_reversion * self.relations
        if change > 0:  # after a collapse, only part of any rise takes hold: recovery is slower than the fall
            change *= 1.0 - (1.0 - rp.collapse_recovery_factor) * self.collapse_scar
        falling_through = self.relations >= rp.downgrade_threshold
        self.relations = min(1.0, max(-1.0, self.relations + change))
        falling_through = falling_through and self.relations < rp.downgrade_threshold
        self.collapse_scar = 1.0 if self.relations <= rp.collapse_threshold else rp.collapse_memory * self.collapse_scar
        both = 0.5 * a.pakistan_engaged + 0.5 * a.taliban_engaged
        self.engagement_progress = rp.engagement_memory * self.engagement_progress + (1 - rp.engagement_memory) * both
        if self.relations > rp.upgrade_threshold:
            self.months_above_upgrade += 1
        else:
            self.months_above_upgrade = 0
        if self.months_above_upgrade >= rp.upgrade_months:
            self.diplomatic_level = 1
        elif falling_through:  # a new fall through the threshold, not a level already low, recalls envoys
            self.diplomatic_level = 0

    def _update_trust(self, a: MonthlyActions, p: WorldParams) -> None:
        """Pakistan's belief that the Taliban restrain the group they shelter, from its attacks vs announced restraint."""
        rp = p.relations
        quiet = math.exp(-a.sheltered_attacks / rp.trust_attack_reference)
        signal = quiet if a.taliban_engaged else rp.unannounced_restraint_credit * quiet
        if signal >= self.trust:
            rate = rp.trust_recovery_rate * (1.0 + (rp.trust_mediation_multiplier - 1.0) * min(1.0, a.mediation))
        else:
            rate = rp.trust_loss_rate
        self.trust = min(1.0, max(0.0, self.trust + min(1.0, rate) * (signal - self.trust)))
