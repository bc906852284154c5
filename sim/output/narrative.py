"""The plain-language event log: one dated line per notable event of a run."""

from __future__ import annotations

from typing import NamedTuple

import mesa

GROUP_LABELS = {"ttp": "TTP", "iskp": "ISKP", "baloch": "Baloch separatist", "hgb": "Hafiz Gul Bahadur group"}
VICTIM_WORDS = {"security": "mostly soldiers and police", "civilian": "mostly civilians",
                "militant": "mostly militants"}
BORDER_WORDS = {"open": "reopens the border crossings", "restricted": "restricts transit trade at the border",
                "closed": "the border crossings are shut"}


def group_label(name: str) -> str:
    return GROUP_LABELS.get(name, name.upper())


class _State(NamedTuple):
    """What the log compares from one month to the next (a tuple: cheap to build and compare)."""

    pakistan: str
    taliban: str
    border: str
    level: int
    ceasefire: dict[str, bool]
    mediators: tuple[bool, ...]  # each mediator active, in the model's order of mediators
    repatriation: bool
    ttp_talks: bool


class EventLog:
    def __init__(self, model: mesa.Model):  # a sim.model.PolicyModel (not imported: it imports this module)
        self.model = model
        self.lines: list[str] = []
        self._last = self._state()

    def _state(self) -> _State:
        m = self.model
        pk = m.pakistan.instruments
        return _State(m.pakistan.stance, m.taliban.stance, m.world.border, m.world.diplomatic_level,
                      dict(m.world.ceasefire), tuple([med.active for med in m.mediators.values()]),
                      pk["forced_repatriation"], pk["ttp_talks"])

    def record(self, started: list) -> None:  # the ScheduledEvents that began this month
        m, last, now = self.model, self._last, self._state()
        out = [ev.spec.note or f"scenario event: {ev.spec.target} {ev.spec.op} {ev.spec.value}" for ev in started]
        changed = now != last  # most months nothing changes: the comparisons below are skipped
        if changed:
            for (n, med), was_active in zip(m.mediators.items(), last.mediators):
                if med.active and not was_active:
                    out.append(f"{n.capitalize()} steps in to mediate between Islamabad and Kabul")
            if now.pakistan != last.pakistan:
                out.append("Pakistan turns to engagement: talks and trade facilitation" if now.pakistan == "engage"
                           else "Pakistan turns to pressure: transit restrictions and fees")
            if now.taliban != last.taliban:
                out.append("the Taliban turn to engagement and promise to restrain the TTP" if now.taliban == "engage"
                           else "the Taliban turn to pressure: rhetoric and tolerance of the TTP")
        big = m.config.militants.big_attack_deaths
        for g in m.militants.values():
            if g.largest_attack >= big:
                share = g.params
                victim = "civilian" if share.share_civilian > share.share_security else "security"  # the larger; ties: security
                kind = "suicide attack" if g.largest_is_suicide else "attack"
                out.append(f"{group_label(g.name)} {kind} kills {g.largest_attack}, {VICTIM_WORDS[victim]}")
        if m.sectarian.clashes:  # the deaths, also when the record forced the flare-up (its note says why)
            out.append(f"tribal-sectarian clashes in Kurram: {m.sectarian.deaths} killed")
        pk = m.pakistan.instruments
        if pk["strikes"]:
            out.append(f"Pakistan strikes {group_label(m.config.militants.roles.sheltered)} camps inside Afghanistan")
        if pk["un_accusation"]:
            out.append(f"Pakistan accuses Kabul at the UN of sheltering the {group_label(m.config.militants.roles.sheltered)}")
        if changed:
            self._changes(now, last, out)
        if out:
            when = m.date
            stamp = f"{when.year}-{when.month:02d}"  # strftime("%Y-%m"), faster
            self.lines.extend([f"{stamp}: {text[0].upper()}{text[1:]}" for text in out])
        self._last = now

    def _changes(self, now: _State, last: _State, out: list[str]) -> None:
        """Lines for the changes of policy, border, ceasefires and diplomatic level (in this order)."""
        m = self.model
        if now.repatriation and not last.repatriation:
            out.append("Pakistan begins forced repatriation of undocumented Afghans")
        if now.ttp_talks and not last.ttp_talks:
            out.append(f"Pakistan opens talks with the {group_label(m.config.militants.roles.sheltered)} through Kabul")
        if now.border != last.border:
            who = "Pakistan " if now.border != "closed" else ""
            out.append(f"{who}{BORDER_WORDS[now.border]}")
        for g, on in now.ceasefire.items():
            if on and not last.ceasefire.get(g):
                extra = "; prisoners are released" if getattr(m, "ceasefire_started", False) and g == m.config.militants.roles.sheltered else ""
                out.append(f"{group_label(g)} ceasefire begins{extra}")
            elif last.ceasefire.get(g) and not on:
                out.append(f"{group_label(g)} ceasefire ends")
        if now.level != last.level:
            out.append("relations upgraded to ambassador level" if now.level > last.level
                       else "relations downgraded to chargé d'affaires")
