"""The teaching app: a Mesa SolaraViz dashboard of the model, with a play-as-Pakistan mode.

Start it with ``make app``, or::

    .venv/bin/solara run sim/app/app.py --host 127.0.0.1 --port 8765 --production

and open http://127.0.0.1:8765. SolaraViz supplies the sidebar (settings, Reset,
Step, play and pause); this module adds the main page: what month it is and what
each side does, four live plots with both sides' stances as coloured bands, the
pattern metrics so far, the event log (newest first) and, in play-as-Pakistan
mode, the student's decision panel and the comparison with the model's own policy.
The model is ``sim.app.app_model.TeachingModel``: the CLI's model, built the CLI's way.
"""

from __future__ import annotations

import html

import solara
from mesa.visualization import SolaraViz
from mesa.visualization.utils import force_update, update_counter

from sim.app.app_model import (
    STANCES,
    Snapshot,
    TeachingModel,
    comparison_rows,
    metric_rows,
    model_params,
    month_summary,
    settings_in_use,
    stance_instruments,
    thaw_min_months,
)
from sim.app.app_plots import comparison_figure, refugees_figure, relations_figure, trade_figure, violence_figure
from sim.output.dashboard import STANCE_COLOURS, militant_groups
from sim.config.calendar import add_months
from sim.output.narrative import group_label

TITLE = "Pakistan and the Afghan Taliban: one step forward, two steps back?"
PLAY_INTERVAL_MS = 200  # pause between months under ▶ (drawing adds ~0.5 s): easy to follow in class
LOG_HEIGHT = "420px"

INSTRUMENT_LABELS = {
    "talks": "Diplomatic talks and upgraded representation",
    "trade_facilitation": "Ease trade and transit (lower tariffs, visas)",
    "connectivity": "Connectivity projects: railway, CPEC (needs a mediator's backing)",
    "ttp_talks": "Talks with the TTP through Kabul (ceasefire, prisoner releases)",
    "transit_restrictions": "Transit-trade restrictions and processing fees",
    "border_closure": "Close the border crossings",
    "forced_repatriation": "Forced repatriation of undocumented Afghans",
    "un_accusation": "Accuse Kabul at the UN of sheltering the TTP",
    "strikes": "Strikes on TTP camps inside Afghanistan (last resort)",
}
ENVOY_WORDS = {"charge_d_affaires": "chargé d'affaires", "ambassador": "ambassadors"}
HOW_TO = ("Press <b>Step</b> for one month, <b>▶</b> to play and <b>❚❚</b> to pause. Change a setting in the "
          "sidebar, then press <b>Reset</b> to start a new run with it. Coloured bands at the top of each "
          "plot: Pakistan's stance (upper band) and the Taliban's (lower band); green = engage, red = pressure. "
          "To choose Pakistan's policy yourself, tick <b>Play as Pakistan</b> and press Reset.")
STANCE_HINT = ("Engage = talks, trade, projects; pressure = restrictions, closures, expulsions, accusations, "
               "strikes. Tick the instruments you use.")
# Sidebar sliders: label on its own line, and the value always shown on the thumb
# (Mesa's inputs show no number otherwise); plots as wide as their cards. Layout only.
PAGE_CSS = """
.v-navigation-drawer .v-input__slider .v-input__slot { flex-wrap: wrap; }
.v-navigation-drawer .v-input__slider .v-input__slot > .v-label {
    flex: 0 0 100%; max-width: 100%; white-space: normal; margin-bottom: 30px; font-size: 14px; }
.v-navigation-drawer .v-slider__thumb-label-container { display: block !important; }
.v-navigation-drawer .v-slider__thumb-label { height: 26px !important; width: 26px !important; font-size: 11px; }
.teach-plot img, .teach-comparison img { width: 100%; height: auto; }
"""
RNG_NOTE = ("Both runs start from the same settings and the same seed. As soon as your choice differs from "
            "the one the model's Pakistan would have made, the random draws (attacks, ceasefires, returns) "
            "differ as well, so compare the overall pattern, not single months.")


# ---------------------------------------------------------------------------- helpers
def table_html(headers: list[str], rows: list[tuple], css: str) -> str:
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td style='padding:2px 8px'>{html.escape(str(c))}</td>" for c in row)
                   + "</tr>" for row in rows)
    return f"<table class='{css}' style='border-collapse:collapse;font-size:14px'><tr>{head}</tr>{body}</table>"


def para(inner_html: str, css: str = "") -> None:
    """A paragraph of trusted HTML (Markdown would try to fetch KaTeX from a CDN on every render)."""
    solara.HTML(tag="p", unsafe_innerHTML=inner_html, classes=[css] if css else [])


def chip(text: str, stance: str | None = None, css: str = "") -> None:
    colour = STANCE_COLOURS.get(stance, "#555") if stance else "#555"
    solara.Text(text, classes=["teach-chip", css],
                style={"background": colour, "color": "white", "padding": "3px 10px",
                       "border-radius": "12px", "margin-right": "8px", "font-weight": "600"})


# ------------------------------------------------------------------------- components
@solara.component
def Status(model: TeachingModel, snap: Snapshot):
    frame = snap.frame
    with solara.Card(classes=["teach-status"]):
        with solara.Row(style={"align-items": "center", "flex-wrap": "wrap"}):
            done = len(frame)
            when = f" ({frame['date'].iloc[-1]:%B %Y})" if done else f" (starts {model.start_date:%B %Y})"
            solara.Text(f"Month {done} of {model.n_months}{when}", classes=["teach-month"],
                        style={"font-size": "20px", "font-weight": "700", "margin-right": "16px"})
            if done:
                last = frame.iloc[-1]
                chip(f"Pakistan: {last['pakistan_stance']}", last["pakistan_stance"], "teach-chip-pakistan")
                chip(f"Taliban: {last['taliban_stance']}", last["taliban_stance"], "teach-chip-taliban")
                chip(f"Border: {last['border']}")
                chip(f"Envoys: {ENVOY_WORDS.get(last['diplomatic_level'], last['diplomatic_level'])}")
            if model.play_as_pakistan:
                chip("You play Pakistan", css="teach-chip-play")
            if model.finished:
                chip("Run over: press Reset for a new one", css="teach-chip-over")
        para(HOW_TO)
        rows = [(label, value + ("  (your setting)" if mine else "")) for label, value, mine in settings_in_use(model)]
        with solara.Details("Settings of this run", expand=False):
            para(html.escape(model.config.scenario.description))
            solara.HTML(tag="div", unsafe_innerHTML=table_html(["Setting", "In use"], rows, "teach-settings"))


@solara.component
def Plot(title: str, figure, caption: str, css: str, key: int):
    with solara.Card(title, classes=["teach-plot", css], style={"height": "100%"}):
        solara.FigureMatplotlib(figure, dependencies=[key], format="png")
        solara.Text(caption, classes=["teach-caption"], style={"font-size": "13px", "color": "#333"})


def captions(frame) -> dict[str, str]:
    if not len(frame):
        return dict.fromkeys(("relations", "trade", "refugees", "violence"), "No month simulated yet.")
    r = frame.iloc[-1]
    when = f"{r['date']:%Y-%m}"
    groups = militant_groups(frame)
    attacks = ", ".join(f"{group_label(g)} {int(r[f'attacks_{g}'])}" for g in groups)
    return {
        "relations": f"{when}: relations {r['relations']:+.2f}, Pakistan's trust in Taliban restraint "
                     f"{r['trust']:.2f}.",
        "trade": f"{when}: trade {r['trade']:,.0f}, Taliban revenue {r['taliban_revenue']:,.0f} "
                 f"(USD million); border {r['border']}.",
        "refugees": f"{when}: {r['refugees_in_pakistan'] / 1e6:.2f} million Afghans in Pakistan; "
                    f"returns {int(r['returns_voluntary']):,} voluntary, {int(r['returns_forced']):,} forced.",
        "violence": f"{when}: {int(r['attacks'])} attacks ({attacks}); {int(r['deaths_total'])} deaths "
                    f"against a tolerance of {r['tolerance']:g}.",
    }


@solara.component
def Plots(model: TeachingModel, snap: Snapshot, key: int):
    frame = snap.frame
    start, end = model.start_date, add_months(model.start_date, model.n_months)
    text = captions(frame)
    panels = (
        ("Relations and trust", relations_figure, "relations"),
        ("Trade and Taliban revenue", trade_figure, "trade"),
        ("Refugees in Pakistan and monthly returns", refugees_figure, "refugees"),
        ("Attacks and deaths by group", violence_figure, "violence"),
    )
    figures = solara.use_memo(lambda: [draw(frame, start, end) for _, draw, _ in panels], [key])
    for row in (0, 2):
        with solara.Columns([1, 1]):
            for (title, _, name), fig in zip(panels[row:row + 2], figures[row:row + 2]):
                Plot(title, fig, text[name], f"teach-plot-{name}", key)


@solara.component
def Metrics(model: TeachingModel, snap: Snapshot):
    rows = metric_rows(snap.metrics, thaw_min_months(model.config))
    with solara.Card("Pattern so far", classes=["teach-metrics"]):
        solara.HTML(tag="div", unsafe_innerHTML=table_html(["Measure", "Value", "How to read it"], rows,
                                                           "teach-metrics-table"))


@solara.component
def EventLog(snap: Snapshot):
    with solara.Card("What happened (newest first)"):
        with solara.Column(classes=["teach-event-log"], gap="2px",
                           style={"max-height": LOG_HEIGHT, "overflow-y": "auto"}):
            if not snap.log_newest_first:
                solara.Text("Nothing notable yet.", classes=["teach-event-empty"])
            for line in snap.log_newest_first:
                solara.Text(line, classes=["teach-event-line"], style={"font-size": "14px"})


@solara.component
def PlayPanel(model: TeachingModel, snap: Snapshot):
    _, redraw = solara.use_state(0)
    choice = model.choice
    frame = snap.frame

    def pick(stance: str) -> None:
        model.set_choice(stance)
        redraw(lambda v: v + 1)

    def tick(name: str, on: bool) -> None:
        model.choice.instruments[name] = on
        redraw(lambda v: v + 1)

    def play_month() -> None:
        model.step()
        force_update()

    with solara.Card("You are Pakistan's government", classes=["teach-play"]):
        month = f"{add_months(model.start_date, len(frame)):%B %Y}"
        para(f"<b>Your policy for {month}</b> (it stays in force until you change it; "
             "every other actor decides as in the model).")
        with solara.Row():
            for stance in STANCES:
                chosen = choice.stance == stance
                solara.Button(stance.capitalize(), on_click=lambda s=stance: pick(s), outlined=not chosen,
                              color=STANCE_COLOURS[stance], classes=[f"teach-stance-{stance}"])
        para(STANCE_HINT)
        connectivity = model.connectivity_available()
        with solara.Div(classes=["teach-instruments"]):
            for name in stance_instruments(choice.stance):
                label = INSTRUMENT_LABELS[name]
                off = name == "connectivity" and not connectivity
                solara.Checkbox(label=label + (" — no mediator now" if off else ""),
                                value=bool(choice.instruments.get(name)) and not off,
                                on_value=lambda on, n=name: tick(n, on), disabled=off)
        solara.Button("Play this month", on_click=play_month, color="primary", disabled=model.finished,
                      classes=["teach-play-month"])
        if len(frame):
            groups = militant_groups(frame)
            para("<b>Your last months</b>")
            for _, row in frame.iloc[::-1].head(6).iterrows():
                solara.Text(month_summary(row, groups), classes=["teach-last-month"], style={"display": "block"})


@solara.component
def Comparison(model: TeachingModel, snap: Snapshot, key: int):
    yours, models = snap.frame, snap.reference
    title = "Final comparison" if model.finished else "Your path and the model's own policy, so far"
    start, end = model.start_date, add_months(model.start_date, model.n_months)
    ready = models is not None and len(yours) > 0
    fig = solara.use_memo(lambda: comparison_figure(yours, models, start, end) if ready else None, [key])
    with solara.Card(title, classes=["teach-comparison"]):
        if not ready:
            solara.Text("Play a month to compare your path with the model's own policy.")
            return
        rows = comparison_rows(yours, models, snap.metrics, snap.reference_metrics)
        solara.HTML(tag="div", unsafe_innerHTML=table_html(["", "Your path", "Model's own policy"], rows,
                                                           "teach-comparison-table"))
        solara.FigureMatplotlib(fig, dependencies=[key], format="png")
        solara.Text(RNG_NOTE, style={"font-size": "13px", "color": "#333"})


@solara.component
def Dashboard(model: TeachingModel):
    update_counter.get()  # redraw after every Step / play tick
    snap = model.snapshot()
    key = snap.serial  # redraw figures only when the month shown changes
    with solara.Column(style={"padding": "8px", "width": "100%"}):
        Status(model, snap)
        if model.play_as_pakistan:
            with solara.Columns([1, 1]):
                PlayPanel(model, snap)
                Comparison(model, snap, key)
        Plots(model, snap, key)
        with solara.Columns([1, 1]):
            Metrics(model, snap)
            EventLog(snap)


MODEL_PARAMS = model_params()


@solara.component
def Page():
    first = solara.use_memo(lambda: TeachingModel(**{k: v["value"] for k, v in MODEL_PARAMS.items()}), [])
    model = solara.use_reactive(first)
    solara.Style(PAGE_CSS)
    SolaraViz(model, components=[], model_params=MODEL_PARAMS, name=TITLE, play_interval=PLAY_INTERVAL_MS)
    Dashboard(model.value)
