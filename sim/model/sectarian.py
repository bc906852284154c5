"""Tribal and sectarian clashes (Kurram): a local conflict outside the Pakistan–Taliban loop.

Kurram district's land disputes between Shia and Sunni tribes flare into weeks of
fighting (July 2023, July 2024, September 2024, November 2024 – January 2025). The
all-violence counts the model is compared with (CRSS "violence-linked fatalities")
include these deaths, while militant attacks and counter-terror operations do not
explain them; without this process the replay could only match those counts by making
the militants more violent than they were (docs/ODD.md 6.3a, docs/calibration.md).

Each month a flare-up happens with a base chance raised by *tension*, the memory of
recent flare-ups (revenge and blockades make clashes cluster); a flare-up's deaths are
drawn from a log-normal law whose median grows with tension (each round is fought with
heavier weapons and deeper grudges). Dated events of the record force the flare-ups of
the replay (``world.sectarian.forced_flare``). The deaths are reported in their own
column, ``deaths_sectarian``; they are not part of ``deaths_total`` (the violence of the
militancy) and do not enter Pakistan's domestic pressure: Afghan policy answers the
TTP's violence, which Islamabad lays at Kabul's door, not a tribal land dispute.

Random numbers: two a month from the process's own stream, drawn every month whether
or not a flare-up happens, so the stream stays aligned across scenarios.
"""

from __future__ import annotations

import math

from sim.config.schema import SectarianParams


class SectarianConflict:
    """Flare-ups of tribal-sectarian fighting and the tension they leave behind."""

    FRAME_COLUMNS = {"sectarian_clashes": "clashes", "deaths_sectarian": "deaths", "sectarian_tension": "tension"}

    def __init__(self, params: SectarianParams, rng):
        self.params = params
        self.draws = rng
        self.tension = 0.0
        self.clashes = False
        self.deaths = 0

    def flare_probability(self) -> float:
        """Chance of a flare-up this month: the base chance, raised by last months' tension."""
        p = self.params
        return min(1.0, p.flare_rate * (1.0 + p.revenge_boost * self.tension))

    def update(self) -> None:
        """Stage 5: this month's clashes, their deaths, and the tension carried forward."""
        p = self.params
        u_flare, z = self.draws.random(), self.draws.standard_normal()  # both every month (aligned streams)
        self.clashes = bool(p.forced_flare) or u_flare < self.flare_probability()
        if self.clashes:
            median = p.deaths_median * (1.0 + p.escalation * self.tension)
            self.deaths = int(min(p.deaths_max, math.floor(median * math.exp(p.deaths_sigma * z))))
        else:
            self.deaths = 0
        self.tension = p.tension_memory * self.tension + (1.0 if self.clashes else 0.0)
