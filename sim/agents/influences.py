"""External influences as exogenous, scenario-switchable processes (docs/ODD.md, "External influences").

India's outreach to Kabul raises Pakistan's fear of being sidelined; Iran's ports
(and Central Asian routes) let the Taliban recapture trade Pakistan squeezes out.
They have no decision rule of their own, so they are plain objects, not agents;
scenario events change their levels like any other parameter.
"""

from __future__ import annotations

from sim.config.schema import InfluenceParams


class ExternalInfluences:
    def __init__(self, params: InfluenceParams):
        self.params = params

    @property
    def india_outreach(self) -> float:
        return self.params.india_outreach

    @property
    def iran_reroute(self) -> float:
        """Extra share of squeezed trade that reaches Afghanistan by other routes."""
        return self.params.iran_route_capacity if self.params.iran_route else 0.0
