"""Militant groups (TTP, ISKP, Baloch separatists, ... by config): one agent class.

Each month a group sets its attack intensity from its strength and sanctuary, the
spoiler incentive (it strikes when engagement progresses), revenge after Pakistani
strikes, and the brakes of effective Taliban restraint and Pakistani counter-terror
operations. Attacks are drawn from a Poisson law and their fatalities from a
log-normal (heavy-tailed) law, split into security forces, civilians and militants.
Strength then moves by recruitment, attrition, resettlement and TTP->ISKP defection.
"""

from __future__ import annotations

import math

import mesa

from sim.config.schema import MilitantGroupParams

VICTIMS = ("security", "civilian", "militant")


class MilitantGroup(mesa.Agent):
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

    @property
    def ceasefire(self) -> bool:
        return self.model.world.ceasefire.get(self.name, False)

    def sanctuary(self) -> float:
        p = self.params
        return self.model.taliban.ttp_sanctuary if p.sanctuary_source == "taliban" else p.own_sanctuary

    # -------------------------------------------------------------- stage 4
    def attack_intensity(self, effective_restraint: float, ct_operations: float) -> float:
        """Expected attacks this month, from last month's world and this month's brakes."""
        p, m = self.params, self.model
        w = m.world
        scale = m.config.militants.spoiler_scale
        china = m.mediators.get("china")
        china_active = china.active_last if china is not None else False
        spur = (1.0
                + scale * p.spoiler * w.engagement_progress
                + scale * p.spoiler_china * china_active
                + p.revenge * self.revenge_level
                + p.grievance_boost * m.taliban.grievance_level
                + p.nexus * self._nexus_partner_strength())
        brake = (1.0 - p.restraint_sensitivity * effective_restraint) * (1.0 - p.ct_sensitivity * ct_operations)
        truce = p.ceasefire_factor if self.ceasefire else 1.0
        return p.attack_rate * self.strength / 1000.0 * (p.sanctuary_floor + (1.0 - p.sanctuary_floor) * self.sanctuary()) * spur * max(brake, 0.0) * truce

    def _nexus_partner_strength(self) -> float:
        """TTP strength relative to its capacity: a stronger TTP lends capability to its partners."""
        if self.params.nexus == 0 or self.name == "ttp":
            return 0.0
        ttp = self.model.militants["ttp"]
        return ttp.strength / ttp.params.capacity

    def act(self, effective_restraint: float, ct_operations: float) -> None:
        p, rng = self.params, self.model.rng
        self.intensity = self.attack_intensity(effective_restraint, ct_operations)
        n = int(rng.poisson(self.intensity))
        suicide = int(rng.binomial(n, p.suicide_share)) if n else 0
        if n:
            # Deaths of each attack: floor of the draw (suicide attacks multiplied), capped.
            # Plain floats: a few attacks a month cost less than numpy's per-call overhead.
            mu = math.log(max(p.deaths_per_attack_median, 1e-9))
            draws = rng.lognormal(mu, p.deaths_per_attack_sigma, n).tolist()
            for i in range(suicide):
                draws[i] *= p.suicide_deaths_multiplier
            cap = p.deaths_per_attack_max
            per_attack = [min(math.floor(x), cap) if x < math.inf else cap for x in draws]
            total = int(sum(per_attack))
            largest = max(per_attack)
            self.largest_attack = int(largest)
            self.largest_is_suicide = per_attack.index(largest) < suicide  # the first largest, as argmax
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
        p, rng = self.params, self.model.rng
        s = self.strength
        recruits = p.recruitment_rate * s * max(0.0, 1.0 - s / p.capacity) * (1.0 + p.grievance_boost * self.model.taliban.grievance_level)
        attrition = p.natural_attrition * s + self._militants_lost
        struck = strikes and p.strike_kill_rate > 0
        self.killed_in_strikes = int(rng.binomial(int(s), p.strike_kill_rate)) if struck else 0
        self.defected_out = defection_rate * s
        self.strength = max(0.0, s + recruits + resettled - attrition - self.killed_in_strikes - self.defected_out)
        self.revenge_level = p.revenge_memory * self.revenge_level + (1.0 if struck else 0.0)
