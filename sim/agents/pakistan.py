"""Pakistan: chooses each month between engaging the Taliban and pressuring them.

State: stance and instruments, tolerance of violence, domestic pressure (a decaying
memory of fatalities), the military establishment's weight in the regime, economic
stress, and a learned attraction to each stance. Tolerance can habituate: sustained
violence above it raises it (``tolerance_adaptation``), never below its starting value. The decision is a logit choice over
the utility gap between engaging and pressuring (docs/ODD.md, "Pakistan"), and attractions are
reinforced by what followed each stance, so Pakistan learns that a stance "failed".
"""

from __future__ import annotations

from sim.config.schema import PakistanParams
from sim.agents.learning import LearningState

ENGAGE_INSTRUMENTS = ("talks", "trade_facilitation", "connectivity", "ttp_talks")
PRESSURE_INSTRUMENTS = ("transit_restrictions", "border_closure", "forced_repatriation",
                        "un_accusation", "strikes")
INSTRUMENTS = ENGAGE_INSTRUMENTS + PRESSURE_INSTRUMENTS


class Pakistan(LearningState):
    COLUMN_PREFIX = "pakistan"
    FRAME_COLUMNS = {  # frame column -> attribute
        "pakistan_stance": "stance", "tolerance": "tolerance_now", "pakistan_p_engage": "p_engage",
        "pakistan_domestic_pressure": "domestic_pressure", "pakistan_attraction_engage": "attractions.engage",
        "pakistan_attraction_pressure": "attractions.pressure", "pakistan_ct_operations": "ct_operations",
    }

    def __init__(self, model, params: PakistanParams):
        super().__init__(model, params)
        self.instruments = dict.fromkeys(INSTRUMENTS, False)
        self.ct_operations = 0.0
        self.domestic_pressure = 0.0
        self.months_in_stance = 0
        self.forced_instruments: dict[str, bool] = {}
        self._last_deaths = 0.0
        # Habituation is kept as an offset over the configured tolerance, so an event or an
        # override that sets ``pakistan.tolerance`` (also after the hand-over from the replay)
        # acts at once, and habituation adds to it.
        self.tolerance_habituation = 0.0
        self.instruments_rng = model.stream("pakistan.instruments")

    @property
    def menu(self) -> dict[str, bool]:
        return self.instruments

    @property
    def tolerance_now(self) -> float:
        """The violence domestic politics bears now: the configured tolerance plus habituation."""
        return self.params.tolerance + self.tolerance_habituation

    # -------------------------------------------------------------- stage 3
    def utility_gap(self) -> float:
        """U(engage) - U(pressure), from last month's observed state."""
        p, w, prev = self.params, self.model.world, self.model.previous
        tol = self.tolerance_now
        violence = self.domestic_pressure / tol - 1.0 if tol > 0 else 1.0
        reciprocity = 1.0 if prev["taliban_stance"] == "engage" else -1.0
        incumbency = 1.0 if self.stance == "engage" else -1.0
        return (self.attractions.gap
                + p.w_trust * (2.0 * w.trust - 1.0)
                + p.w_mediation * w.mediation
                + w.inducement
                + p.w_india_fear * self.model.influences.india_outreach
                + p.w_economy * max(p.economic_stress, w.economic_stress)
                + p.w_reciprocity * reciprocity
                + p.switch_cost * incumbency
                - p.w_violence * violence
                - p.w_military * (2.0 * p.military_weight - 1.0))

    def decide(self) -> None:
        p = self.params
        stance = self.draw_stance()
        self.months_in_stance = self.months_in_stance + 1 if stance == self.stance else 1
        self.stance = stance
        self.instruments = self._choose_instruments(stance)
        self.instruments.update(self.forced_instruments)
        self.ct_operations = p.ct_ops_pressure if stance == "pressure" else p.ct_ops_engage

    def _choose_instruments(self, stance: str) -> dict[str, bool]:
        p, w = self.params, self.model.world
        # Three uniforms every month, whatever the stance: talks, accusation, strikes.
        u_talks, u_accuse, u_strike = self.instruments_rng.random(3).tolist()
        chosen = dict.fromkeys(INSTRUMENTS, False)
        if stance == "engage":
            chosen["talks"] = True
            chosen["trade_facilitation"] = True
            chosen["connectivity"] = w.mediation > 0 and w.mediation >= p.connectivity_mediation_min
            # Talks with the TTP, once opened, run for as long as Pakistan stays engaged.
            chosen["ttp_talks"] = self.instruments["ttp_talks"] or u_talks < p.ttp_talks_prob
            return chosen
        ratio = self.domestic_pressure / self.tolerance_now if self.tolerance_now > 0 else float("inf")
        chosen["transit_restrictions"] = True
        chosen["border_closure"] = ratio >= p.closure_pressure_ratio
        chosen["forced_repatriation"] = self.months_in_stance >= p.repatriation_after_months
        chosen["un_accusation"] = u_accuse < p.un_accusation_prob
        chosen["strikes"] = ratio >= p.strike_pressure_ratio and u_strike < p.strike_prob
        return chosen

    # -------------------------------------------------------------- stage 6
    def learn(self) -> None:
        """Reinforce the stance just played with the outcome that followed it."""
        p, w = self.params, self.model.world
        self.domestic_pressure = p.pressure_memory * self.domestic_pressure + (1 - p.pressure_memory) * w.deaths_total
        # Habituation: sustained violence above what politics bore becomes the new normal.
        self.tolerance_habituation += p.tolerance_adaptation * (max(p.tolerance, self.domestic_pressure) - self.tolerance_now)
        tol = max(self.tolerance_now, 1e-9)
        trend = (w.deaths_total - self._last_deaths) / tol
        self._last_deaths = w.deaths_total
        self.reinforce(-p.reward_violence_level * (self.domestic_pressure / tol - 1.0)
                       - p.reward_violence_trend * trend
                       + p.reward_trade * (w.trade_ratio - 1.0)
                       + p.reward_relations * w.relations)
