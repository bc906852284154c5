"""The plain-language event log: one dated line per notable event of a run."""

from __future__ import annotations

import mesa

GROUP_LABELS = {"ttp": "TTP", "iskp": "ISKP", "baloch": "Baloch separatist", "hgb": "Hafiz Gul Bahadur group"}
VICTIM_WORDS = {"security": "mostly soldiers and police", "civilian": "mostly civilians",
                "militant": "mostly militants"}
BORDER_WORDS = {"open": "reopens the border crossings", "restricted": "restricts transit trade at the border",
                "closed": "the border crossings are shut"}


def group_label(name: str) -> str:
    return GROUP_LABELS.get(name, name.upper())


class EventLog:
    def __init__(self, model: mesa.Model):  # a sim.model.PolicyModel (not imported: it imports this module)
        self.model = model
        self.lines: list[str] = []
        self._last = self._state()

    def _state(self) -> dict:
        m = self.model
        return {
            "pakistan": m.pakistan.stance,
            "taliban": m.taliban.stance,
            "border": m.world.border,
            "level": m.world.diplomatic_level,
            "ceasefire": dict(m.world.ceasefire),
            "mediators": {n: med.active for n, med in m.mediators.items()},
            "repatriation": m.pakistan.instruments["forced_repatriation"],
            "ttp_talks": m.pakistan.instruments["ttp_talks"],
        }

    def record(self, started: list) -> None:  # the ScheduledEvents that began this month
        m, last, now = self.model, self._last, self._state()
        out = []
        for ev in started:
            out.append(ev.spec.note or f"scenario event: {ev.spec.target} {ev.spec.op} {ev.spec.value}")
        for n, med in m.mediators.items():
            if med.active and not last["mediators"][n]:
                out.append(f"{n.capitalize()} steps in to mediate between Islamabad and Kabul")
        if now["pakistan"] != last["pakistan"]:
            out.append("Pakistan turns to engagement: talks and trade facilitation" if now["pakistan"] == "engage"
                       else "Pakistan turns to pressure: transit restrictions and fees")
        if now["taliban"] != last["taliban"]:
            out.append("the Taliban turn to engagement and promise to restrain the TTP" if now["taliban"] == "engage"
                       else "the Taliban turn to pressure: rhetoric and tolerance of the TTP")
        big = m.config.militants.big_attack_deaths
        for g in m.militants.values():
            if g.largest_attack >= big:
                share = g.params
                victim = max((("security", share.share_security), ("civilian", share.share_civilian)),
                             key=lambda kv: kv[1])[0]
                kind = "suicide attack" if g.largest_is_suicide else "attack"
                out.append(f"{group_label(g.name)} {kind} kills {g.largest_attack}, {VICTIM_WORDS[victim]}")
        pk = m.pakistan.instruments
        if pk["strikes"]:
            out.append(f"Pakistan strikes {group_label(m.config.militants.roles.sheltered)} camps inside Afghanistan")
        if pk["un_accusation"]:
            out.append(f"Pakistan accuses Kabul at the UN of sheltering the {group_label(m.config.militants.roles.sheltered)}")
        if now["repatriation"] and not last["repatriation"]:
            out.append("Pakistan begins forced repatriation of undocumented Afghans")
        if now["ttp_talks"] and not last["ttp_talks"]:
            out.append(f"Pakistan opens talks with the {group_label(m.config.militants.roles.sheltered)} through Kabul")
        if now["border"] != last["border"]:
            who = "Pakistan " if now["border"] != "closed" else ""
            out.append(f"{who}{BORDER_WORDS[now['border']]}")
        for g, on in now["ceasefire"].items():
            if on and not last["ceasefire"].get(g):
                extra = "; prisoners are released" if getattr(m, "ceasefire_started", False) and g == m.config.militants.roles.sheltered else ""
                out.append(f"{group_label(g)} ceasefire begins{extra}")
            elif last["ceasefire"].get(g) and not on:
                out.append(f"{group_label(g)} ceasefire ends")
        if now["level"] != last["level"]:
            out.append("relations upgraded to ambassador level" if now["level"] > last["level"]
                       else "relations downgraded to chargé d'affaires")
        stamp = f"{m.date:%Y-%m}"
        self.lines.extend(f"{stamp}: {text[0].upper()}{text[1:]}" for text in out)
        self._last = now
