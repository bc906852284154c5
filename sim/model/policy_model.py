"""The Mesa model: agents, the world state and the staged monthly step (docs/ODD.md, "Process overview").

1. scenario events for the month apply;
2. mediators assess last month and act;
3. Pakistan and the Taliban observe last month's state and choose stances;
4. militant groups set attack intensity and attacks are realised;
5. the world state updates (violence, border, trade, revenue, refugees, relations,
   trust), then the Taliban's grievance and diversification, then the militants'
   ceasefire, strengths and defection, then Kurram's tribal-sectarian clashes;
6. the states learn from the outcome, data are collected and the event log written.

The states choose from last month's world (and ``previous``, last month's choices),
so neither reacts to the other's same-month choice. The militants are the exception
by design: their attacks in stage 4 feel this month's Taliban restraint and Pakistani
counter-terror operations (a crackdown bites at once).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from datetime import date
from functools import partial
from operator import attrgetter

import mesa
import numpy as np
import pandas as pd

from sim.adapters import step_without_event_list
from sim.agents.influences import ExternalInfluences
from sim.agents.mediator import Mediator
from sim.agents.militant import VICTIMS, MilitantGroup, update_flows
from sim.agents.pakistan import Pakistan
from sim.agents.taliban import Taliban
from sim.config.calendar import add_months, parse_month
from sim.config.schema import Config
from sim.model.collector import RowCollector
from sim.model.events import Timeline
from sim.model.handover import take_over
from sim.model.random_streams import stream
from sim.model.sectarian import SectarianConflict
from sim.model.world import MonthlyActions, WorldState
from sim.output.narrative import EventLog


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
        self.world_rng = self.stream("world")
        self.flows_rng = self.stream("militant.flows")
        self.pakistan = Pakistan(self, config.pakistan)
        self.taliban = Taliban(self, config.taliban)
        self.militants = {name: MilitantGroup(self, name, p) for name, p in config.militants.groups.items()}
        self.mediators = {name: Mediator(self, name, p) for name, p in config.mediators.parties.items()}
        self.influences = ExternalInfluences(config.influences)
        self.sectarian = SectarianConflict(config.world.sectarian, self.stream("sectarian"))
        self.world = WorldState.initial(config.world, list(self.militants), config.pakistan.economic_stress)
        # start=today: the record replayed to November 2025 hands every state over (sim/model/handover.py);
        # before the timeline, so the scenario's events bind to the carried state.
        # The record is replayed by this class, not a subclass: a subclass built from keywords
        # (mesa.batch_run's way) could not be built from a Config.
        self.record = take_over(self, PolicyModel)  # the snapshot continued (None: start=stylized, or the record itself)
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
        self.datacollector = RowCollector(reporters)  # one row a month (sim/model/collector.py)

    def stream(self, name: str) -> np.random.Generator:
        """The random stream of one process of this run (``sim.model.random_streams``)."""
        return stream(self.config.seed, name)

    @property
    def params_draw(self) -> int | None:
        """Index of the calibrated parameter set this run continues from (None: not a run from today)."""
        return None if self.record is None else self.record.draw

    @property
    def replay_frame(self) -> pd.DataFrame | None:
        """The replayed record this run continued from, August 2021 to November 2025 (a copy)."""
        return None if self.record is None else self.record.frame.copy()

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
        sheltered = self.config.militants.roles.sheltered
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
            sheltered_attacks=attacks[sheltered],
            sheltered_deaths=deaths[sheltered],
            deaths_by_victim=victims,
            suicide_attacks=suicide,
            cpec_attacks=cpec,
            diversification=tb.diversification,
            iran_reroute=self.influences.iran_reroute,
        )
        w.update(actions, self.config.world, self.world_rng, pk.tolerance_now)
        tb.absorb(pk.instruments, w.returns_forced, w.border)
        self.ceasefire_started = update_flows(self.militants, w.ceasefire, self.config.militants, pk, tb, self.flows_rng)
        self.sectarian.update()  # a local conflict: reads nothing the agents chose (sim/model/sectarian.py)

    # ------------------------------------------------------------------ run & read
    def run(self) -> PolicyModel:
        """Step to the last month; the same months as calling ``step()`` until finished, faster.

        With nothing scheduled on Mesa's event list but the monthly step, the months are
        stepped directly (``sim.adapters.step_without_event_list``: Mesa's per-step event
        machinery is a tenth of a month's cost); otherwise through ``step()``.
        """
        if not step_without_event_list(self, partial(PolicyModel.step, self), lambda: self.finished):
            while not self.finished:
                self.step()
        return self

    def _reporters(self) -> dict[str, Callable[[], object]]:
        """Frame columns, generated from what the world and each agent declare as columns."""
        cols: dict[str, Callable[[], object]] = {"date": lambda: self.date, "month": lambda: self.month}

        def declare(obj, columns: dict[str, str], suffix: str = "") -> None:
            for column, attribute in columns.items():
                cols[column + suffix] = partial(attrgetter(attribute), obj)

        declare(self.world, WorldState.FRAME_COLUMNS)
        declare(self.sectarian, SectarianConflict.FRAME_COLUMNS)
        for state in (self.pakistan, self.taliban):
            declare(state, state.FRAME_COLUMNS)
            for name in state.menu:  # one true/false column per instrument or action
                cols[f"{state.COLUMN_PREFIX}_{name}"] = lambda a=state, n=name: a.menu[n]
        for name, mediator in self.mediators.items():
            declare(mediator, {f"mediator_{name}_active": "active"})
        for name, group in self.militants.items():
            declare(group, MilitantGroup.FRAME_COLUMNS, f"_{name}")
        return cols

    def frame(self) -> pd.DataFrame:
        """The tidy per-month table: one row per simulated month."""
        df = self.datacollector.get_model_vars_dataframe()
        if len(df) and "date" in df:
            df["date"] = pd.to_datetime(df["date"])
        return df
