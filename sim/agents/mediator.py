"""Mediators (China, Qatar, Türkiye, ... by config): one agent class.

A mediator steps in when relations fall below its threshold (a broker on request,
like Qatar) or when attacks on its own exposure build urgency (China and CPEC).
While active it raises the value of engagement for both sides (inducements),
lowers the cost of talks and speeds trust recovery; it cannot stop spoilers.
"""

from __future__ import annotations

import mesa

from sim.config.schema import MediatorParams


class Mediator(mesa.Agent):
    def __init__(self, model: mesa.Model, name: str, params: MediatorParams):
        super().__init__(model)
        self.name = name
        self.params = params
        self.urgency = 0.0
        self.active = False
        self.active_last = False
        self.p_mediate = 0.0
        self.draws = model.stream(f"mediator.{name}")  # (Mesa's Agent.rng is the shared model stream)

    def effective_strength(self) -> float:
        return min(1.0, self.params.strength * self.model.config.mediators.strength_scale)

    # -------------------------------------------------------------- stage 2
    def decide(self) -> None:
        p, w = self.params, self.model.world
        self.active_last = self.active
        self.urgency = p.urgency_memory * self.urgency + p.urgency_per_cpec_attack * p.cpec_exposure * w.cpec_attacks
        draw = self.draws.random()  # drawn every month, available or not, so the stream stays aligned
        if not p.available:
            self.p_mediate, self.active = 0.0, False
            return
        needed = 1.0 if w.relations < p.relations_threshold else 0.0
        self.p_mediate = min(1.0, self.effective_strength() * (needed + self.urgency))
        self.active = draw < self.p_mediate

    @property
    def mediation(self) -> float:
        """This month's contribution to the mediation level (0 when inactive)."""
        return self.effective_strength() * (1.0 + self.params.talks_cost_reduction) if self.active else 0.0

    @property
    def inducement(self) -> float:
        return self.params.inducement if self.active else 0.0
