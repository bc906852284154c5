"""The Mesa model: agents, the world state and the staged monthly step (DESIGN §5).

1. scenario events for the month apply;
2. mediators assess last month and act;
3. Pakistan and the Taliban observe last month's state and choose stances;
4. militant groups choose attack intensity; attacks are realised;
5. the world state updates at once (violence, border, trade, revenue, refugees,
   relations, trust; grievance and diversification; militant strengths);
6. the states learn from the outcome, data are collected and the event log written.

Every agent reads only last month's world (and ``previous``, last month's choices),
so no agent reacts to another's same-month choice.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import date

import mesa
import pandas as pd

from sim.config import Config
from sim.config.calendar import add_months, parse_month
from sim.model.events import Timeline
from sim.agents.influences import ExternalInfluences
from sim.agents.mediator import Mediator
from sim.agents.militant import VICTIMS, MilitantGroup
from sim.output.narrative import EventLog
from sim.agents.pakistan import INSTRUMENTS, Pakistan
from sim.agents.taliban import ACTIONS, Taliban
from sim.model.world import MonthlyActions, WorldState


class ScalarCollector(mesa.DataCollector):
    """Mesa's DataCollector for model reporters that return immutable scalars.

    Mesa deep-copies every reported value to guard against mutable objects; that copy
    cost half of a run here, and every column of this model is a number, a text, a
    flag or a date, so it is skipped. The interface (``model_vars``,
    ``get_model_vars_dataframe``) is Mesa's, so Mesa's plotting components work.
    """

    def __init__(self, columns: dict):
        super().__init__(model_reporters=columns)
        self._appenders = [(self.model_vars[name].append, fn) for name, fn in columns.items()]

    def collect(self, model: mesa.Model) -> None:
        if hasattr(self, "_collection_steps"):  # read by mesa.batch_run
            self._collection_steps.append(model.time)
        for append, report in self._appenders:
            append(report())


class PolicyModel(mesa.Model):
    """Pakistan–Afghanistan policy dynamics, one step per month."""

    def __init__(self, config: Config, collect: bool | Iterable[str] = True):
        """Build the model of ``config`` (a private copy of it).

        ``collect``: True collects every frame column each month and writes the event
        log; False steps the bare model (no table, no event log: the benchmarks' lower
        bound); a list of column names collects only those columns and no event log
        (a sweep collects the columns its pattern metrics read, ``sim.analysis.metrics.REQUIRED_COLUMNS``).
        """
        super().__init__(rng=config.seed)
        self.collect = collect is not False
        self.log_events = collect is True
        # Events change parameters during a run; a private copy keeps the caller's Config intact.
        self.config = config = copy.deepcopy(config)
        self.start_date: date = parse_month(config.scenario.start_date, "scenario.start_date")
        self.n_months = config.n_months
        self.pakistan = Pakistan(self, config.pakistan)
        self.taliban = Taliban(self, config.taliban)
        self.militants = {name: MilitantGroup(self, name, p) for name, p in config.militants.groups.items()}
        self.mediators = {name: Mediator(self, name, p) for name, p in config.mediators.parties.items()}
        self.influences = ExternalInfluences(config.influences)
        self.world = WorldState.initial(config.world, list(self.militants), config.pakistan.economic_stress)
        self.previous = self._choices_snapshot()
        self.timeline = Timeline(self, config.scenario.events, self.start_date)
        self.event_log = EventLog(self)
        self.month = -1  # index of the last completed month
        reporters = self._reporters()
        if not isinstance(collect, bool):
            unknown = [name for name in collect if name not in reporters]
            if unknown:
                raise ValueError(f"collect: unknown frame column {unknown[0]!r}")
            reporters = {name: reporters[name] for name in collect}
        self.datacollector = ScalarCollector(reporters)

    # ------------------------------------------------------------------ time
    @property
    def date(self) -> date:
        return add_months(self.start_date, max(self.month, 0))

    @property
    def finished(self) -> bool:
        return self.month + 1 >= self.n_months

    def _choices_snapshot(self) -> dict:
        return {
            "pakistan_stance": self.pakistan.stance,
            "taliban_stance": self.taliban.stance,
            "pakistan_strikes": self.pakistan.instruments["strikes"],
            "border": self.world.border,
        }

    # ------------------------------------------------------------------ step
    def step(self) -> None:
        if self.finished:  # a caller (a UI button, a loop) asked for a month past the end
            self.running = False
            return
        self.month += 1
        self.previous = self._choices_snapshot()
        started = self.timeline.apply(self.month)  # 1

        for mediator in self.mediators.values():  # 2
            mediator.decide()

        self.pakistan.decide()  # 3 (both read only last month's world)
        self.taliban.decide()

        restraint = self.taliban.effective_restraint  # 4
        ct = self.pakistan.ct_operations
        for group in self.militants.values():
            group.act(restraint, ct)

        self._update_world()  # 5

        self.pakistan.learn()  # 6
        self.taliban.learn()
        if self.collect:
            self.datacollector.collect(self)
            if self.log_events:
                self.event_log.record(started)
        if self.finished:
            self.running = False

    def _update_world(self) -> None:
        pk, tb, w = self.pakistan, self.taliban, self.world
        # One pass over the groups (whole numbers: the order of the sums does not matter).
        attacks, deaths, victims = {}, {}, dict.fromkeys(VICTIMS, 0)
        suicide = cpec = 0
        for g in self.militants.values():
            attacks[g.name] = g.attacks
            deaths[g.name] = g.deaths
            for v, n in g.deaths_by_victim.items():
                victims[v] += n
            suicide += g.suicide_attacks
            cpec += g.cpec_attacks
        actions = MonthlyActions(
            pakistan_engaged=pk.stance == "engage",
            pakistan=pk.instruments,
            taliban_engaged=tb.stance == "engage",
            taliban=tb.actions,
            effective_restraint=tb.effective_restraint,
            mediation=min(1.0, sum(m.mediation for m in self.mediators.values())),
            inducement=sum(m.inducement for m in self.mediators.values()),
            attacks=attacks,
            deaths=deaths,
            deaths_by_victim=victims,
            suicide_attacks=suicide,
            cpec_attacks=cpec,
            diversification=tb.diversification,
            iran_reroute=self.influences.iran_reroute,
        )
        w.update(actions, self.config.world, self.rng, pk.params.tolerance)
        tb.absorb(pk.instruments, w.returns_forced, w.border)
        self._update_ceasefire_and_strengths()

    def _update_ceasefire_and_strengths(self) -> None:
        """TTP talks, ceasefire, prisoner releases and the flows between groups."""
        mc, pk, rng = self.config.militants, self.pakistan, self.rng
        flags = self.world.ceasefire
        talks = pk.instruments["ttp_talks"] and self.taliban.stance == "engage"
        released = 0.0
        if flags.get("ttp") and (pk.stance == "pressure" or pk.instruments["strikes"]
                                 or rng.random() < mc.ceasefire_break_prob):
            flags["ttp"] = False
        elif talks and not flags.get("ttp") and rng.random() < mc.ceasefire_prob:
            flags["ttp"] = True
            released = mc.resettled_per_release  # prisoners freed, fighters resettle in Pakistan
        self.ceasefire_started = released > 0
        crackdown = max(0.0, self.taliban.effective_restraint - self.taliban.params.crackdown_threshold)
        crackdown /= max(1e-9, 1.0 - self.taliban.params.crackdown_threshold)
        strikes = pk.instruments["strikes"]
        moves = []
        for g in self.militants.values():
            rate = 0.0
            if g.name == "ttp" and "iskp" in self.militants:
                rate = (mc.defection_ceasefire * flags.get("ttp", False)
                        + mc.defection_talks_rejection * talks
                        + mc.defection_crackdown * crackdown)
            g.update_strength(strikes, min(rate, 1.0), released if g.name == "ttp" else 0.0)
            if rate > 0:
                moves.append((self.militants["iskp"], g.defected_out))
        for receiver, fighters in moves:
            receiver.strength += fighters

    # ------------------------------------------------------------------ run & read
    def run(self) -> PolicyModel:
        while not self.finished:
            self.step()
        return self

    def _reporters(self) -> dict:
        """Frame columns: every world field and every agent's choice, as zero-argument getters."""
        m = self
        cols: dict = {
            "date": lambda: m.date,
            "month": lambda: m.month,
            "relations": lambda: m.world.relations,
            "trust": lambda: m.world.trust,
            "pakistan_stance": lambda: m.pakistan.stance,
            "taliban_stance": lambda: m.taliban.stance,
            "border": lambda: m.world.border,
            "transit_fee": lambda: m.world.transit_fee,
            "trade": lambda: m.world.trade,
            "pakistan_trade_gain": lambda: m.world.pakistan_trade_gain,
            "taliban_revenue": lambda: m.world.taliban_revenue,
            "taliban_pakistan_route_share": lambda: m.taliban.pakistan_route_share,
            "refugees_in_pakistan": lambda: m.world.refugees_in_pakistan,
            "refugees_registered": lambda: m.world.refugees_registered,
            "refugees_documented": lambda: m.world.refugees_documented,
            "refugees_undocumented": lambda: m.world.refugees_undocumented,
            "refugee_arrivals": lambda: m.world.refugee_arrivals,
            "returns_voluntary": lambda: m.world.returns_voluntary,
            "returns_forced": lambda: m.world.returns_forced,
            "status_lapses": lambda: m.world.status_lapses,
            "attacks": lambda: m.world.attacks,
            "suicide_attacks": lambda: m.world.suicide_attacks,
            "cpec_attacks": lambda: m.world.cpec_attacks,
            "deaths_security": lambda: m.world.deaths_security,
            "deaths_civilian": lambda: m.world.deaths_civilian,
            "deaths_militant": lambda: m.world.deaths_militant,
            "deaths_total": lambda: m.world.deaths_total,
            "diplomatic_level": lambda: m.world.diplomatic_label,
            "mediation": lambda: m.world.mediation,
            "engagement_progress": lambda: m.world.engagement_progress,
            "economic_stress": lambda: m.world.economic_stress,
            "tolerance": lambda: m.pakistan.params.tolerance,
            "pakistan_p_engage": lambda: m.pakistan.p_engage,
            "pakistan_domestic_pressure": lambda: m.pakistan.domestic_pressure,
            "pakistan_attraction_engage": lambda: m.pakistan.attractions.engage,
            "pakistan_attraction_pressure": lambda: m.pakistan.attractions.pressure,
            "pakistan_ct_operations": lambda: m.pakistan.ct_operations,
            "taliban_p_engage": lambda: m.taliban.p_engage,
            "taliban_cohesion": lambda: m.taliban.params.cohesion,
            "taliban_restraint_intent": lambda: m.taliban.restraint_intent,
            "taliban_effective_restraint": lambda: m.taliban.effective_restraint,
            "taliban_grievance": lambda: m.taliban.grievance_level,
            "taliban_diversification": lambda: m.taliban.diversification,
            "taliban_attraction_engage": lambda: m.taliban.attractions.engage,
            "taliban_attraction_pressure": lambda: m.taliban.attractions.pressure,
        }
        for name in INSTRUMENTS:
            cols[f"pakistan_{name}"] = lambda n=name: m.pakistan.instruments[n]
        for name in ACTIONS:
            cols[f"taliban_{name}"] = lambda n=name: m.taliban.actions[n]
        for name, med in self.mediators.items():
            cols[f"mediator_{name}_active"] = lambda md=med: md.active
        for name, g in self.militants.items():
            cols[f"intensity_{name}"] = lambda gr=g: gr.intensity
            cols[f"attacks_{name}"] = lambda gr=g: gr.attacks
            cols[f"deaths_{name}"] = lambda gr=g: gr.deaths
            cols[f"strength_{name}"] = lambda gr=g: gr.strength
            cols[f"suicide_attacks_{name}"] = lambda gr=g: gr.suicide_attacks
            cols[f"ceasefire_{name}"] = lambda gr=g: m.world.ceasefire[gr.name]
            cols[f"defected_{name}"] = lambda gr=g: gr.defected_out
        return cols

    def frame(self) -> pd.DataFrame:
        """The tidy per-month table: one row per simulated month."""
        df = self.datacollector.get_model_vars_dataframe()
        if len(df) and "date" in df:
            df["date"] = pd.to_datetime(df["date"])
        return df
