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
from typing import ClassVar

import numpy as np

from sim.config.schema import WorldParams

BORDER_STATES = ("open", "restricted", "closed")
DIPLOMATIC_LEVELS = ("charge_d_affaires", "ambassador")


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
        "relations", "trust", "border", "transit_fee", "trade", "pakistan_trade_gain", "taliban_revenue",
        "refugees_in_pakistan", "refugees_registered", "refugees_documented", "refugees_undocumented",
        "refugee_arrivals", "returns_voluntary", "returns_forced", "status_lapses",
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
        border_factor = {"open": 1.0, "restricted": tp.factor_restricted, "closed": tp.factor_closed}[self.border]
        facilitation = 1.0 + tp.facilitation_boost * (a.pakistan["trade_facilitation"] + a.pakistan["connectivity"]) / 2
        fee_factor = max(0.0, 1.0 - tp.fee_elasticity * self.transit_fee)
        diverted = 1.0 - tp.diversion_share * a.diversification
        target = tp.base * border_factor * facilitation * fee_factor * diverted
        self.trade = max(0.0, self.trade + tp.adjustment * (target - self.trade))
        self.pakistan_trade_gain = self.trade * (1.0 + self.transit_fee)

        # Customs on the Pakistan routes scale with trade; part of what is lost there
        # is recaptured through other routes in proportion to diversification.
        pak_customs_full = rv.base * rv.customs_share * rv.pakistan_route_share
        ratio = self.trade_ratio
        lost = pak_customs_full * max(0.0, 1.0 - ratio)
        recaptured = lost * a.diversification * min(1.0, rv.reroute_base + a.iran_reroute)
        self.taliban_revenue = max(0.0, rv.base - pak_customs_full + pak_customs_full * ratio + recaptured)
        self.economic_stress = (p.economic_stress_memory * self.economic_stress
                                + (1 - p.economic_stress_memory) * max(0.0, 1.0 - ratio))

    def _update_refugees(self, a: MonthlyActions, p: WorldParams, rng: np.random.Generator) -> None:
        rp = p.refugees
        hostility = max(0.0, -self.relations)
        arrivals = int(rng.poisson(rp.arrivals_per_month * (1.0 + rp.arrivals_hostility_boost * hostility)))
        drive = a.pakistan["forced_repatriation"]
        vol_rate = min(1.0, rp.voluntary_return_rate + (rp.voluntary_return_fear_rate if drive else 0.0))
        vol_reg = int(rng.binomial(self.refugees_registered, vol_rate))
        vol_doc = int(rng.binomial(self.refugees_documented, vol_rate))
        vol_und = int(rng.binomial(self.refugees_undocumented, vol_rate))
        forced_und = int(rng.binomial(self.refugees_undocumented - vol_und, rp.forced_return_rate)) if drive else 0
        forced_doc = int(rng.binomial(self.refugees_documented - vol_doc, rp.forced_documented_rate)) if drive else 0
        lapses = (int(rng.binomial(self.refugees_documented - vol_doc - forced_doc, rp.status_lapse_rate))
                  if not a.pakistan_engaged else 0)
        self.refugees_registered -= vol_reg
        self.refugees_documented -= vol_doc + forced_doc + lapses
        self.refugees_undocumented += arrivals + lapses - vol_und - forced_und
        self.refugee_arrivals = arrivals
        self.returns_voluntary = vol_reg + vol_doc + vol_und
        self.returns_forced = forced_und + forced_doc
        self.status_lapses = lapses

    def _update_relations(self, a: MonthlyActions, p: WorldParams, tolerance: float) -> None:
        rp = p.relations
        pk, tb = a.pakistan, a.taliban
        drive = (rp.engage_gain * (a.pakistan_engaged + a.taliban_engaged)
                 - rp.pressure_loss * ((not a.pakistan_engaged) + (not a.taliban_engaged))
                 - rp.strike_loss * pk["strikes"]
                 - rp.accusation_loss * pk["un_accusation"]
                 - rp.closure_loss * (self.border == "closed")
                 - rp.violence_loss * min(1.0, a.sheltered_deaths / max(tolerance, 1e-9))
                 + rp.mediation_gain * a.mediation
                 + rp.engage_gain * tb["confidence_building"])
        self.relations = min(1.0, max(-1.0, self.relations + drive - rp.mean_reversion * self.relations))
        both = 0.5 * a.pakistan_engaged + 0.5 * a.taliban_engaged
        self.engagement_progress = rp.engagement_memory * self.engagement_progress + (1 - rp.engagement_memory) * both
        if self.relations > rp.upgrade_threshold:
            self.months_above_upgrade += 1
        else:
            self.months_above_upgrade = 0
        if self.months_above_upgrade >= rp.upgrade_months:
            self.diplomatic_level = 1
        elif self.relations < rp.downgrade_threshold:
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
