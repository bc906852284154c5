"""Militant groups (TTP, ISKP, Baloch separatists, ... by config): one agent class.

Each month a group sets its attack intensity from its strength and sanctuary, the
spoiler incentive (it strikes when engagement progresses), revenge after Pakistani
strikes, and the brakes of effective Taliban restraint and Pakistani counter-terror
operations. Attacks are drawn from a Poisson law and their fatalities from a
log-normal (heavy-tailed) law, split into security forces, civilians and militants.
Strength then moves by recruitment, attrition, resettlement and defection from the
group the Taliban shelter to their rival (``update_flows``, stage 5).

A group's room to grow (the ceiling of its logistic recruitment) is not a fixed
number: it follows sanctuary, money and the recruitment pool, and shrinks under
counter-terror pressure (``room_to_grow``). The pool is topped up by the group's own
local grievance, fed by state repression (counter-terror operations) and by CPEC's
exposure (the Baloch insurgency's drivers, docs/ODD.md 6.3).

Groups play roles set in config (``militants.roles``): ``sheltered`` (the TTP by
default) is the group talks, ceasefires and prisoner releases act on and whose
strength a nexus partner draws on; ``rival`` (ISKP) takes its defectors.
"""

from __future__ import annotations

import math

import mesa
import numpy as np

from sim.config.schema import MilitantGroupParams, MilitantsConfig

VICTIMS = ("security", "civilian", "militant")


# Attacks in a month above which NumPy's array operations beat a Python loop over them
# (measured: the two cost the same at 25-30 attacks, about 3 microseconds; a TTP month has about 40).
VECTOR_MIN_ATTACKS = 24
_add_up = np.add.reduce  # what ndarray.sum calls, without its Python-level wrapper


def _attack_deaths(draws, suicide: int, multiplier: float, cap: int) -> tuple[int, int, int]:
    """Deaths of a month's attacks from their log-normal draws (a NumPy array, one per attack; overwritten).

    Each attack kills the floor of its draw, the first ``suicide`` draws multiplied by
    ``multiplier``, capped at ``cap`` (an infinite or NaN draw counts as the cap).
    Returns (total deaths, the largest attack's deaths, the index of the first largest).
    Both branches give the same numbers: the deaths are whole numbers far below 2**53,
    so float sums are exact.
    """
    if draws.size >= VECTOR_MIN_ATTACKS:
        if suicide:
            draws[:suicide] *= multiplier
        per_attack = np.fmin(np.floor(draws, out=draws), cap, out=draws)  # in place; fmin: NaN -> cap, as the loop below
        first = int(per_attack.argmax())
        return int(_add_up(per_attack)), int(per_attack[first]), first
    values = draws.tolist()  # plain floats: a few attacks cost less than NumPy's per-call overhead
    for i in range(suicide):
        values[i] *= multiplier
    floor = math.floor
    # floor(x) if x < cap else cap == min(floor(x), cap) for whole cap; inf and NaN give cap.
    per_attack = [floor(x) if x < cap else cap for x in values]
    largest = max(per_attack)
    return int(sum(per_attack)), int(largest), per_attack.index(largest)


class MilitantGroup(mesa.Agent):
    # Frame columns, each suffixed with the group's name (attacks_ttp, ...): column -> attribute.
    FRAME_COLUMNS = {"intensity": "intensity", "attacks": "attacks", "deaths": "deaths", "strength": "strength",
                     "suicide_attacks": "suicide_attacks", "ceasefire": "ceasefire", "defected": "defected_out",
                     "capacity": "capacity_now", "local_grievance": "local_grievance_level"}

    def __init__(self, model: mesa.Model, name: str, params: MilitantGroupParams):
        super().__init__(model)
        self.name = name
        self.params = params
        self.strength = float(params.strength)
        self.revenge_level = 0.0
        self.intensity = 0.0
        self.attacks = 0
        self.deaths = 0
        self.deaths_by_victim = dict.fromkeys(VICTIMS, 0)
        self.suicide_attacks = 0
        self.cpec_attacks = 0
        self.largest_attack = 0
        self.largest_is_suicide = False
        self.defected_out = 0.0
        self.killed_in_strikes = 0
        self._militants_lost = 0
        self.local_grievance = 0.0
        self.capacity_now = float(params.capacity)  # recomputed from its causes every month (stage 5)
        self.draws = model.stream(f"militant.{name}")  # (Mesa's Agent.rng is the shared model stream)

    @property
    def ceasefire(self) -> bool:
        return self.model.world.ceasefire.get(self.name, False)

    def sanctuary(self) -> float:
        p = self.params
        return self.model.taliban.ttp_sanctuary if p.sanctuary_source == "taliban" else p.own_sanctuary

    @property
    def local_grievance_level(self) -> float:
        """Grievance in the group's areas mapped to [0, 1): half-saturated at ``local_grievance_scale``."""
        return self.local_grievance / (self.local_grievance + self.params.local_grievance_scale)

    @property
    def recruitment_pool(self) -> float:
        """Share of the potential pool open to recruitment: the base pool, topped up by local grievance."""
        base = self.params.recruitment_pool
        return base + (1.0 - base) * self.local_grievance_level

    def room_to_grow(self, ct_operations: float) -> float:
        """Fighters the group can sustain now: capacity x its drivers x (1 - counter-terror denial)."""
        p = self.params
        pool_share = max(0.0, 1.0 - p.capacity_sanctuary_share - p.capacity_funding_share)
        drivers = (p.capacity_sanctuary_share * self.sanctuary() + p.capacity_funding_share * p.funding
                   + pool_share * self.recruitment_pool)
        return max(1.0, p.capacity * drivers * (1.0 - p.capacity_ct_loss * ct_operations))

    # -------------------------------------------------------------- stage 4
    def attack_intensity(self, effective_restraint: float, ct_operations: float) -> float:
        """Expected attacks this month, from last month's world and this month's brakes."""
        p, m = self.params, self.model
        w = m.world
        scale = m.config.militants.spoiler_scale
        # CPEC spoiling: attacks rise while a mediator with interests exposed to them (China) mediates.
        cpec_mediation = max((md.params.cpec_exposure * md.active_last for md in m.mediators.values()), default=0.0)
        spur = (1.0
                + scale * p.spoiler * w.engagement_progress
                + scale * p.spoiler_china * cpec_mediation
                + p.revenge * self.revenge_level
                + p.grievance_boost * m.taliban.grievance_level
                + p.nexus * self._nexus_partner_strength()
                + p.local_grievance_boost * self.local_grievance_level)
        brake = (1.0 - p.restraint_sensitivity * effective_restraint) * (1.0 - p.ct_sensitivity * ct_operations)
        truce = p.ceasefire_factor if self.ceasefire else 1.0
        reach = p.sanctuary_floor + (1.0 - p.sanctuary_floor) * self.sanctuary()
        expected = p.attack_rate * self.strength / 1000.0 * reach * spur * max(brake, 0.0) * truce  # (same order)
        # A guard far above any month the model's ranges give: extreme settings multiplied together
        # would ask for more attacks than numpy can draw, or than memory holds (configs/militants/default.yaml).
        cap = m.config.militants.max_attacks_per_month
        return expected if expected < cap else cap

    def _nexus_partner_strength(self) -> float:
        """The sheltered group's strength relative to its room to grow: it lends capability to its partners."""
        sheltered = self.model.config.militants.roles.sheltered
        if self.params.nexus == 0 or self.name == sheltered:
            return 0.0
        partner = self.model.militants[sheltered]
        return partner.strength / partner.capacity_now

    def act(self, effective_restraint: float, ct_operations: float) -> None:
        p, rng = self.params, self.draws
        self.intensity = self.attack_intensity(effective_restraint, ct_operations)
        n = int(rng.poisson(self.intensity))
        suicide = int(rng.binomial(n, p.suicide_share)) if n else 0
        if n:
            mu = math.log(max(p.deaths_per_attack_median, 1e-9))
            draws = rng.lognormal(mu, p.deaths_per_attack_sigma, n)
            total, largest, first = _attack_deaths(draws, suicide, p.suicide_deaths_multiplier, p.deaths_per_attack_max)
            self.largest_attack = largest
            self.largest_is_suicide = first < suicide  # the first largest attack (argmax) was a suicide attack
        else:
            total = 0
            self.largest_attack = 0
            self.largest_is_suicide = False
        # Two binomials draw the same split as a multinomial, at a fraction of its cost.
        sec = int(rng.binomial(total, p.share_security)) if total else 0
        rest = 1.0 - p.share_security
        civ = int(rng.binomial(total - sec, min(1.0, p.share_civilian / rest))) if total - sec and rest > 0 else 0
        mil = total - sec - civ
        ct_killed = int(rng.binomial(int(self.strength), min(1.0, p.ct_kill_rate * ct_operations)))
        self.attacks = n
        self.suicide_attacks = suicide
        self.cpec_attacks = int(rng.binomial(n, p.cpec_targeting)) if n else 0
        self.deaths_by_victim = {"security": sec, "civilian": civ, "militant": mil + ct_killed}
        self.deaths = sec + civ + mil + ct_killed
        self._militants_lost = ct_killed + mil

    # -------------------------------------------------------------- stage 5
    def update_strength(self, strikes: bool, defection_rate: float, resettled: float) -> None:
        """Recruitment, attrition, strikes, resettlement and defection out of this group.

        Defectors leave here; the model hands them to the receiving group after every
        group has updated, so the order of updates does not matter.
        """
        p, rng, m = self.params, self.draws, self.model
        ct = m.pakistan.ct_operations
        self.local_grievance = (p.local_grievance_memory * self.local_grievance
                                + p.local_grievance_per_repression * ct
                                + p.local_grievance_per_cpec * m.influences.params.cpec_activity)
        self.capacity_now = self.room_to_grow(ct)
        s = self.strength
        recruits = (p.recruitment_rate * s * max(0.0, 1.0 - s / self.capacity_now)
                    * (1.0 + p.grievance_boost * m.taliban.grievance_level))
        attrition = p.natural_attrition * s + self._militants_lost
        struck = strikes and p.strike_kill_rate > 0
        self.killed_in_strikes = int(rng.binomial(int(s), p.strike_kill_rate)) if struck else 0
        self.defected_out = defection_rate * s
        self.strength = max(0.0, s + recruits + resettled - attrition - self.killed_in_strikes - self.defected_out)
        self.revenge_level = p.revenge_memory * self.revenge_level + (1.0 if struck else 0.0)


def update_flows(groups: dict[str, MilitantGroup], ceasefire: dict[str, bool], settings: MilitantsConfig,
                 pakistan, taliban, rng) -> bool:
    """Stage 5 for the militants: talks and ceasefire of the sheltered group, then every
    group's strength (recruitment, attrition, strikes, resettlement) and defection from
    the sheltered group to the rival. ``ceasefire`` is the world's flags (updated in place).
    Returns whether a ceasefire started this month (prisoners freed).

    Defectors leave their group during its update and join the rival only after every
    group has updated, so the order of updates does not matter.
    """
    roles = settings.roles
    sheltered, rival = roles.sheltered, roles.rival
    talks = pakistan.instruments["ttp_talks"] and taliban.stance == "engage"
    released = 0.0
    u_break, u_start = rng.random(2).tolist()  # both drawn every month (aligned streams)
    if ceasefire.get(sheltered) and (pakistan.stance == "pressure" or pakistan.instruments["strikes"]
                                     or u_break < settings.ceasefire_break_prob):
        ceasefire[sheltered] = False
    elif talks and not ceasefire.get(sheltered) and u_start < settings.ceasefire_prob:
        ceasefire[sheltered] = True
        released = settings.resettled_per_release  # prisoners freed, fighters resettle in Pakistan
    threshold = taliban.params.crackdown_threshold
    crackdown = max(0.0, taliban.effective_restraint - threshold) / max(1e-9, 1.0 - threshold)
    strikes = pakistan.instruments["strikes"]
    defectors = 0.0
    for g in groups.values():
        rate = 0.0
        if g.name == sheltered and rival is not None:
            rate = (settings.defection_ceasefire * ceasefire.get(sheltered, False)
                    + settings.defection_talks_rejection * talks
                    + settings.defection_crackdown * crackdown)
        g.update_strength(strikes, min(rate, 1.0), released if g.name == sheltered else 0.0)
        if rate > 0:
            defectors += g.defected_out
    if rival is not None:
        groups[rival].strength += defectors
    return released > 0
