"""The Afghan Taliban: choose each month between engaging Pakistan and pressuring it.

State: cohesion (pragmatists vs hardliners, Haqqanis vs Kandaharis, as one level),
sanctuary given to the TTP, trade diversification away from Pakistani routes,
grievance towards Pakistan, restraint intent and a learned attraction to each stance.
Two frictions (docs/ODD.md, "Afghan Taliban"): declared restraint is diluted by low cohesion
(effective restraint = intent x cohesion), and restraint pushed hard drives TTP
fighters to ISKP (the crackdown flow, realised in the militant update).
"""

from __future__ import annotations

from sim.config.schema import TalibanParams
from sim.agents.learning import LearningState

ENGAGE_ACTIONS = ("restrain_ttp", "confidence_building", "cooperation")
PRESSURE_ACTIONS = ("border_retaliation", "tolerate_ttp", "diversify_trade", "rhetoric")
ACTIONS = ENGAGE_ACTIONS + PRESSURE_ACTIONS


class Taliban(LearningState):
    COLUMN_PREFIX = "taliban"
    FRAME_COLUMNS = {  # frame column -> attribute
        "taliban_stance": "stance", "taliban_pakistan_route_share": "pakistan_route_share",
        "taliban_p_engage": "p_engage", "taliban_cohesion": "params.cohesion",
        "taliban_restraint_intent": "restraint_intent", "taliban_effective_restraint": "effective_restraint",
        "taliban_grievance": "grievance_level", "taliban_diversification": "diversification",
        "taliban_attraction_engage": "attractions.engage", "taliban_attraction_pressure": "attractions.pressure",
    }

    def __init__(self, model, params: TalibanParams):
        super().__init__(model, params)
        self.actions = dict.fromkeys(ACTIONS, False)
        self.grievance = 0.0
        self.diversification = 0.0
        self.strike_boost = 0.0
        self.restraint_intent = 0.0
        self.forced_actions: dict[str, bool] = {}

    @property
    def menu(self) -> dict[str, bool]:
        return self.actions

    @property
    def grievance_level(self) -> float:
        """Grievance mapped to [0, 1): half-saturated at ``grievance_scale``."""
        return self.grievance / (self.grievance + self.params.grievance_scale)

    @property
    def effective_restraint(self) -> float:
        return min(1.0, self.restraint_intent) * self.params.cohesion

    @property
    def ttp_sanctuary(self) -> float:
        return self.params.ttp_sanctuary

    @property
    def pakistan_route_share(self) -> float:
        """Share of revenue carried by customs on the Pakistani routes right now."""
        w, rv = self.model.world, self.model.config.world.revenue
        return rv.base * rv.customs_share * rv.pakistan_route_share * w.trade_ratio / max(w.taliban_revenue, 1e-9)

    # -------------------------------------------------------------- stage 3
    def utility_gap(self) -> float:
        p, w, prev = self.params, self.model.world, self.model.previous
        reciprocity = 1.0 if prev["pakistan_stance"] == "engage" else -1.0
        incumbency = 1.0 if self.stance == "engage" else -1.0
        rival = self.model.config.militants.roles.rival  # the group the Taliban fear (ISKP)
        iskp_threat = (self.model.militants[rival].strength / self.model.militants[rival].capacity_now
                       if rival is not None else 0.0)
        return (self.attractions.gap
                + p.legitimacy_motive
                + p.w_revenue * self.pakistan_route_share
                + p.w_mediation * w.mediation
                + w.inducement
                + p.w_reciprocity * reciprocity
                + p.switch_cost * incumbency
                - p.w_grievance * self.grievance_level
                - p.w_iskp_fear * iskp_threat)

    def decide(self) -> None:
        p = self.params
        stance = self.draw_stance()
        self.stance = stance
        prev = self.model.previous
        squeezed = prev["border"] != "open"
        acts = dict.fromkeys(ACTIONS, False)
        if stance == "engage":
            acts["restrain_ttp"] = True
            acts["cooperation"] = True
            acts["confidence_building"] = self.grievance_level < p.retaliation_grievance
            self.restraint_intent = p.restraint_engage
        else:
            acts["tolerate_ttp"] = True
            acts["rhetoric"] = True
            acts["border_retaliation"] = (self.grievance_level >= p.retaliation_grievance
                                          or prev["pakistan_strikes"])
            self.restraint_intent = p.restraint_pressure
        acts["diversify_trade"] = squeezed
        acts.update(self.forced_actions)
        self.actions = acts
        # Strikes frighten Kabul into tighter restraint for a while.
        self.restraint_intent = min(1.0, self.restraint_intent + p.strike_restraint_boost * self.strike_boost)

    # -------------------------------------------------------------- stage 5
    def absorb(self, pakistan_instruments: dict[str, bool], forced_returns: int, border: str) -> None:
        """Grievance, strike fear and diversification move with what Pakistan did this month."""
        p = self.params
        self.grievance = (p.grievance_memory * self.grievance
                          + p.grievance_per_100k_forced * forced_returns / 100_000
                          + p.grievance_per_strike * pakistan_instruments["strikes"]
                          + p.grievance_per_closed_month * (border == "closed")
                          + p.grievance_per_accusation * pakistan_instruments["un_accusation"])
        self.strike_boost = p.strike_restraint_memory * self.strike_boost + (1.0 if pakistan_instruments["strikes"] else 0.0)
        self.strike_boost = min(self.strike_boost, 1.0)
        cap = p.diversification_max
        # Squeezed, Kabul pushes towards its ceiling; otherwise diversification decays, but
        # never below its standing policy of moving trade off Pakistani routes (2024-25).
        goal = cap if self.actions["diversify_trade"] else min(cap, p.diversification_policy)
        if self.diversification < goal:
            self.diversification += p.diversification_rate * (goal - self.diversification)
        else:
            self.diversification -= p.diversification_decay * (self.diversification - goal)
        self.diversification = min(max(self.diversification, 0.0), 1.0)

    # -------------------------------------------------------------- stage 6
    def learn(self) -> None:
        p, w = self.params, self.model.world
        base = self.model.config.world.revenue.base
        revenue_ratio = w.taliban_revenue / base if base > 0 else 0.0
        self.reinforce(p.reward_revenue * (revenue_ratio - 1.0)
                       - p.reward_grievance * self.grievance_level
                       + p.reward_relations * w.relations)
