"""The teaching app: the model month by month in a browser, on one screen.

Start it with ``make app``, or::

    .venv/bin/solara run sim/app/app.py --host 127.0.0.1 --port 8765 --production

and open http://127.0.0.1:8765. The top bar holds the controls (Step, ▶/❚❚, Restart,
speed in months a second, many seeds at once, CSV download) and the month with both
sides' stances; below, four charts the browser draws (``sim.app.app_plots``) and a
side panel with tabs: settings (applied with "Apply and restart"), the event log,
the pattern so far, what to notice in each exercise and, in play-as-Pakistan mode,
the student's move and the comparison with the model's own policy.

The model is ``sim.app.app_model.TeachingModel``: the CLI's model, built the CLI's way.
Only numbers travel to the browser each month, so a Step shows at once (see
``experiments/app_benchmark.py`` for the measured figures).
"""

from __future__ import annotations

import html
import threading
import time

import solara
import solara.lab
import solara.server.settings

from sim.app.app_ensemble import N_SEEDS, Ensemble, run_ensemble
from sim.app.app_exercises import EXERCISES, Exercise
from sim.app.app_model import STANCES, Snapshot, StudentChoice, TeachingModel, controls_in_use, stance_instruments
from sim.app.app_plots import CHARTS, PALETTE, Axis, ChartInput, chart_options, militant_groups
from sim.app.app_report import METRIC_ROWS, format_metric, metric_rows, month_summary, play_report, settings_in_use
from sim.app.app_settings import (
    CONTROLS,
    START_CHOICES,
    AppSettings,
    check_settings,
    scenario_by_words,
    scenario_words,
    start_supported,
)
from sim.app.live_chart import LiveChart
from sim.config import ConfigError
from sim.config.calendar import add_months

TITLE = "Pakistan and the Afghan Taliban: one step forward, two steps back?"
solara.server.settings.theme.show_banner = False  # the corner badge would cover the side panel
SPEEDS = (1, 10)  # months a second under ▶: slow enough to follow, fast enough for a decade in a lesson
DEFAULT_SPEED = 5
TABS = ("Settings", "Log", "Pattern", "Exercises", "Your move")

INSTRUMENT_LABELS = {
    "talks": "Diplomatic talks, upgraded envoys",
    "trade_facilitation": "Ease trade and transit (tariffs, visas)",
    "connectivity": "Railway and CPEC projects (need a mediator)",
    "ttp_talks": "Talks with the TTP through Kabul",
    "transit_restrictions": "Transit restrictions and fees",
    "border_closure": "Close the border crossings",
    "forced_repatriation": "Send undocumented Afghans back by force",
    "un_accusation": "Accuse Kabul at the United Nations of sheltering the TTP",
    "strikes": "Strikes on TTP camps in Afghanistan (last resort)",
}
ENVOY_WORDS = {"charge_d_affaires": "chargé d'affaires", "ambassador": "ambassadors"}
MARKER_KEY = ("Markers: ▼ strikes · ■ border shut · ● ceasefire · ◆ a mediator steps in "
              "(click one: its month in the Log)")
RNG_NOTE = ("Both paths start from the same settings and seed. Once your choice differs from the model's, the "
            "chance events (attacks, ceasefires, returns) differ too: compare the pattern, not single months.")

PAGE_CSS = """
html, body { overflow: hidden; }
.teach-root { height: 100vh; display: grid; font-size: 15px;
              grid-template-columns: minmax(0, 1fr) clamp(300px, 31vw, 470px);
              grid-template-rows: auto minmax(0, 1fr); }
.teach-live { display: contents; }
.teach-bar { grid-column: 1 / 3; grid-row: 1; display: flex; align-items: center; flex-wrap: wrap;
             gap: 6px 10px; padding: 4px 10px;
             border-bottom: 1px solid #ddd; background: #fafafa; }
.teach-bar .v-btn { font-size: 15px !important; text-transform: none; letter-spacing: 0; }
.teach-month { font-size: 19px; font-weight: 700; margin-right: 6px; white-space: nowrap; }
.teach-chip { color: white; padding: 2px 10px; border-radius: 12px; font-weight: 600; white-space: nowrap; }
.teach-charts { grid-column: 1; grid-row: 2; display: grid; grid-template-columns: 1fr 1fr; grid-template-rows: 1fr 1fr;
                gap: 4px; padding: 4px; min-width: 0; }
.teach-chart { min-width: 0; min-height: 0; border: 1px solid #e4e4e4; border-radius: 4px; background: white; }
.teach-side { grid-column: 2; grid-row: 2; min-width: 0; overflow: hidden; border-left: 1px solid #ddd; display: flex;
              flex-direction: column; min-height: 0; }
.teach-side .v-tabs { flex: 0 0 auto; }
.teach-side .v-tab { font-size: 14px !important; text-transform: none; letter-spacing: 0; min-width: 0;
                     padding: 0 8px; }
.teach-pane { flex: 1 1 auto; overflow-y: auto; padding: 8px 10px; min-height: 0; }
.teach-pane table { border-collapse: collapse; font-size: 14px; width: 100%; }
.teach-pane td, .teach-pane th { padding: 2px 6px; text-align: left; vertical-align: top; }
.teach-pane tr:nth-child(even) { background: #f6f6f6; }
.teach-log-line { font-size: 14px; padding: 1px 0; }
.teach-log-selected { background: #fff3c4; }
.teach-group { display: flex; align-items: center; flex-wrap: wrap; gap: 6px 8px; }
.teach-speed { width: 210px; }
.teach-speed .v-input__slot { flex-wrap: wrap; }
.teach-speed .v-input__slot > .v-label { flex: 0 0 100%; font-size: 13px; }
.teach-speed .v-input { margin-top: 0; padding-top: 0; }
.teach-speed .v-messages { display: none; }
.teach-pane .v-input__slider .v-input__slot { flex-wrap: wrap; }
.teach-pane .v-input__slider .v-input__slot > .v-label { flex: 0 0 100%; max-width: 100%; white-space: normal;
    font-size: 14px; color: #222; height: auto !important; line-height: 1.3; margin-bottom: 4px; }
.teach-pane .v-btn-toggle .v-btn, .teach-pane .v-btn { text-transform: none; letter-spacing: 0; }
.teach-apply-cue { color: #8a4b00; font-weight: 600; }
.teach-marker-key { font-size: 13px; color: #444; }
.teach-error { color: #b00020; font-weight: 600; }
.teach-notice li { margin-bottom: 4px; }
@media (max-width: 1100px) { .teach-month { font-size: 17px; } .teach-bar .v-btn { padding: 0 8px !important; } }
"""


# ------------------------------------------------------------------------------ state
class AppState:
    """One browser session: the run in use, the settings being edited, and what the page shows."""

    def __init__(self):
        self.applied = solara.Reactive(check_settings())
        self.draft = solara.Reactive(draft_of(self.applied.value))
        self.model = solara.Reactive(TeachingModel(settings=self.applied.value))
        self.tick = solara.Reactive(0)  # one more each month: what the live parts of the page read
        self.playing = solara.Reactive(False)
        self.speed = solara.Reactive(DEFAULT_SPEED)
        self.ghost = solara.Reactive(None)  # the previous run's frame, drawn grey
        self.ensemble = solara.Reactive(None)
        self.ensemble_progress = solara.Reactive(None)
        self.many_request = solara.Reactive(0)  # one more each time "many seeds" is pressed
        self.error = solara.Reactive(None)
        self.tab = solara.Reactive(0)
        self.selected_month = solara.Reactive(None)
        self.exercise = solara.Reactive(EXERCISES[0].key)
        self.step_lock = threading.Lock()

    # ---------------------------------------------------------------- actions
    def step(self) -> None:
        with self.step_lock:
            self.model.value.step()
        self.tick.value += 1

    def restart(self, settings: AppSettings | None = None) -> None:
        """A new run (with new settings, if given); the run so far becomes the grey ghost."""
        self.playing.value = False
        old = self.model.value
        settings = settings or self.applied.value
        model = TeachingModel(settings=settings)
        frame = old.frame()
        self.ghost.value = frame if len(frame) and old.start_date == model.start_date else None
        self.applied.value = settings
        self.ensemble.value = None
        self.selected_month.value = None
        self.model.value = model
        self.tick.value += 1
        if settings.play_as_pakistan:
            self.tab.value = TABS.index("Your move")

    def apply(self) -> None:
        try:
            settings = check_settings(**self.draft.value)
        except ConfigError as exc:
            self.error.value = f"error: {exc}"
            return
        self.error.value = None
        self.restart(settings)


def draft_of(settings: AppSettings) -> dict:
    """The settings panel's values for ``settings``; ``None``: a slider not touched (the scenario's value)."""
    draft = {"scenario": settings.scenario, "seed": str(settings.seed), "start": settings.start,
             "play_as_pakistan": settings.play_as_pakistan}
    draft.update(settings.controls())
    return draft


def draft_differs(draft: dict, applied: AppSettings) -> bool:
    try:
        return check_settings(**draft) != applied
    except ConfigError:
        return True


# ------------------------------------------------------------------------- helpers
def table_html(headers: list[str], rows: list[tuple], css: str) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table class='{css}'><tr>{head}</tr>{body}</table>"


def para(inner_html: str, css: str = "") -> None:
    """A paragraph of trusted HTML (Markdown would try to fetch KaTeX from a CDN on every render)."""
    solara.HTML(tag="p", unsafe_innerHTML=inner_html, classes=[css] if css else [])


def chip(text: str, colour: str, css: str) -> None:
    solara.Text(text, classes=["teach-chip", css], style={"background": colour})


STANCE_CHIP = {"engage": PALETTE["engage"], "pressure": PALETTE["pressure"]}


# ----------------------------------------------------------------------- top bar
def status_bar(state: AppState) -> None:
    model = state.model.value
    with solara.Div(classes=["teach-group", "teach-status"]):
        status_chips(model, model.snapshot())


def status_chips(model: TeachingModel, snap: Snapshot) -> None:
    frame = snap.frame
    done = len(frame)
    when = f"{frame['date'].iloc[-1]:%b %Y}" if done else f"starts {model.start_date:%b %Y}"
    solara.Text(f"Month {done} of {model.n_months} ({when})", classes=["teach-month"])
    if done:
        last = frame.iloc[-1]
        chip(f"Pakistan: {last['pakistan_stance']}", STANCE_CHIP[last["pakistan_stance"]], "teach-chip-pakistan")
        chip(f"Taliban: {last['taliban_stance']}", STANCE_CHIP[last["taliban_stance"]], "teach-chip-taliban")
        chip(f"Border {last['border']}", "#555", "teach-chip-border")
    if model.play_as_pakistan:
        chip("You play Pakistan", "#1f78b4", "teach-chip-play")
    if model.finished:
        chip("Run over: Restart for a new one", "#555", "teach-chip-over")
    solara.Text(MARKER_KEY, classes=["teach-marker-key"])


def controls(state: AppState) -> None:
    playing = state.playing.value
    model = state.model.value
    finished = model.finished

    def loop():
        """▶: one month every 1/speed seconds, on time (a slow month is not made up by rushing the next)."""
        if not state.playing.value:
            return
        due = time.perf_counter()
        while state.playing.value and not state.model.value.finished:
            state.step()
            due += 1.0 / max(state.speed.value, SPEEDS[0])
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            else:
                due = time.perf_counter()
        state.playing.value = False

    solara.lab.use_task(loop, dependencies=[playing], prefer_threaded=True)

    with solara.Div(classes=["teach-group"]):
        control_buttons(state, playing, finished, model)


def control_buttons(state: AppState, playing: bool, finished: bool, model: TeachingModel) -> None:
    solara.Button("Step", on_click=state.step, disabled=playing or finished, color="primary",
                  classes=["teach-step"])
    solara.Button("❚❚ Pause" if playing else "▶ Play", on_click=lambda: state.playing.set(not playing),
                  disabled=finished and not playing, color="primary", classes=["teach-play"])
    solara.Button("Restart", on_click=lambda: state.restart(), outlined=True, classes=["teach-restart"])
    with solara.Div(classes=["teach-speed"]):
        solara.SliderInt(f"Speed: {state.speed.value} months a second", value=state.speed, min=SPEEDS[0],
                         max=SPEEDS[1])
    many_seeds_button(state)
    solara.FileDownload(lambda: state.model.value.frame().to_csv(index=False).encode(),
                        filename=f"run_{model.scenario_name}_seed{model.run_seed}.csv",
                        label="Download this run (CSV)", mime_type="text/csv")


def many_seeds_button(state: AppState) -> None:
    ensemble: Ensemble | None = state.ensemble.value
    progress = state.ensemble_progress.value
    request = state.many_request.value

    def run_many():
        if not request:
            return
        model = state.model.value
        months = len(model.frame()) or model.n_months
        choice = StudentChoice(model.choice.stance, dict(model.choice.instruments)) if model.play_as_pakistan else None
        state.ensemble_progress.value = (0, N_SEEDS)
        try:
            result = run_ensemble(state.applied.value, months, choice,
                                  progress=lambda done, total: state.ensemble_progress.set((done, total)))
        finally:
            state.ensemble_progress.value = None
        state.ensemble.value = result
        state.tab.value = TABS.index("Pattern")

    solara.lab.use_task(run_many, dependencies=[request], prefer_threaded=True)

    def start() -> None:
        state.playing.value = False
        state.many_request.value += 1

    with solara.Div(classes=["teach-group"]):
        many_seeds_controls(state, ensemble, progress, start)


def many_seeds_controls(state: AppState, ensemble: Ensemble | None, progress, start) -> None:
    if progress is not None:
        solara.Text(f"Running seed {progress[0]} of {progress[1]}…", classes=["teach-many-progress"])
    elif ensemble is None:
        solara.Button(f"Same settings, {N_SEEDS} seeds", on_click=start, outlined=True, classes=["teach-many"])
    else:
        solara.Button("Back to this run", on_click=lambda: state.ensemble.set(None), outlined=True,
                      classes=["teach-many-off"])
        solara.FileDownload(lambda: ensemble.table().to_csv(index=False).encode(),
                            filename=f"runs_{ensemble.settings.scenario}_seeds"
                                     f"{ensemble.seeds[0]}-{ensemble.seeds[-1]}.csv",
                            label=f"Download the {len(ensemble.seeds)} runs (CSV)", mime_type="text/csv")


# ----------------------------------------------------------------------- charts
def charts(state: AppState) -> None:
    model = state.model.value
    ensemble = state.ensemble.value
    snap: Snapshot = model.snapshot()

    def options():
        data = ChartInput(Axis(model.start_date, model.n_months), snap.frame, snap.log, ghost=state.ghost.value,
                          reference=snap.reference, ensemble=ensemble)
        return {name: Sealed(option) for name, option in chart_options(data).items()}

    all_options = solara.use_memo(options, [snap.serial, id(ensemble), id(state.ghost.value)])

    def clicked(event: dict):
        data = event.get("data") or {}
        if isinstance(data, dict) and "month" in data:
            state.selected_month.value = f"{add_months(model.start_date, int(data['month'])):%Y-%m}"
            state.tab.value = TABS.index("Log")

    months = len(snap.frame) if ensemble is None else ensemble.months
    with solara.Div(classes=["teach-charts"]):
        for name in CHARTS:
            Chart(name, all_options[name], clicked, {
                "class": f"teach-chart teach-chart-{name}", "data-months": str(months),
                "data-view": "many" if ensemble is not None else "run",
                "data-ghost": "1" if state.ghost.value is not None else "0",
                "style": "height: 100%; width: 100%"})


class Sealed:
    """A chart's option, opaque to the page's renderer: it compares and searches the arguments of a component
    item by item, which for thousands of numbers costs more than the month itself."""

    __slots__ = ("option",)

    def __init__(self, option: dict):
        self.option = option


@solara.component
def Chart(name: str, sealed: Sealed, on_click, attributes: dict):
    """One chart: its option goes straight to the widget, so the page's renderer never walks the numbers."""
    element = LiveChart.element(on_click=on_click, attributes=attributes)

    def send():
        solara.get_widget(element).show(sealed.option)

    solara.use_effect(send, [sealed])
    return element


# ----------------------------------------------------------------------- side panel
@solara.component
def SettingsPane(state: AppState):
    draft = state.draft.value
    applied = state.applied.value
    model = state.model.value

    def set_field(name: str, value) -> None:
        state.draft.value = {**state.draft.value, name: value}

    by_words = scenario_by_words()
    solara.Select("Scenario", values=list(by_words), value=scenario_words(draft["scenario"]),
                  on_value=lambda v: set_field("scenario", by_words[v]))
    solara.InputText("Random seed (a whole number; same seed and settings = same run)", value=draft["seed"],
                     on_value=lambda v: set_field("seed", v), continuous_update=True, classes=["teach-seed"])
    if start_supported():
        solara.ToggleButtonsSingle(value=draft["start"], values=list(START_CHOICES),
                                   on_value=lambda v: set_field("start", v))
        solara.Text(START_CHOICES[draft["start"]], style={"font-size": "13px"})
    else:
        solara.Text("Start: the scenario's own start (start from today needs the model's 'start' setting).",
                    style={"font-size": "13px", "color": "#555"})
    try:
        base = controls_in_use(draft["scenario"], draft["start"], check_settings(seed=draft["seed"]).seed)
    except ConfigError:
        base = controls_in_use(applied.scenario, applied.start, applied.seed)
    for name, c in CONTROLS.items():
        slider = solara.SliderInt if c.kind == "int" else solara.SliderFloat
        value = base[name] if draft[name] is None else draft[name]
        unit = f" {c.unit}" if c.unit else ""
        slider(f"{c.label}: {value:g}{unit}", value=value, min=min(c.lo, value), max=max(c.hi, value), step=c.step,
               on_value=lambda v, n=name: set_field(n, v))
    solara.Checkbox(label="Play as Pakistan (you choose its policy each month)", value=draft["play_as_pakistan"],
                    on_value=lambda v: set_field("play_as_pakistan", v))
    changed = draft_differs(draft, applied)
    solara.Button("Apply and restart", on_click=state.apply, color="warning" if changed else "primary",
                  classes=["teach-apply"])
    if state.error.value:
        solara.Text(state.error.value, classes=["teach-error"], style={"display": "block"})
    elif changed:
        solara.Text("Changed settings take effect when you press Apply and restart.", classes=["teach-apply-cue"],
                    style={"display": "block"})
    solara.Button("Back to the settings in use", on_click=lambda: state.draft.set(draft_of(applied)), text=True,
                  classes=["teach-undo"])
    rows = [(label, value + ("  (changed)" if mine else "")) for label, value, mine in settings_in_use(model)]
    para("<b>Settings of the run in use</b>")
    para(html.escape(model.config.scenario.description))
    solara.HTML(tag="div", unsafe_innerHTML=table_html(["Setting", "In use"], rows, "teach-settings"))


@solara.component
def LogPane(state: AppState):
    state.tick.value
    snap = state.model.value.snapshot()
    selected = state.selected_month.value
    lines = snap.log_newest_first
    if not lines:
        solara.Text("Nothing notable yet.", classes=["teach-event-empty"])
        return
    if selected:
        para(f"Month {html.escape(selected)} (clicked marker) is highlighted.")
    def css(line: str) -> str:
        return "teach-log-line teach-log-selected" if selected and line.startswith(selected) else "teach-log-line"

    body = "".join(f"<div class='{css(line)}'>{html.escape(line)}</div>" for line in lines)
    solara.HTML(tag="div", unsafe_innerHTML=body, classes=["teach-event-log"])


@solara.component
def PatternPane(state: AppState):
    state.tick.value
    model = state.model.value
    ensemble: Ensemble | None = state.ensemble.value
    snap = model.snapshot()
    k = snap.params.thaw_min_months
    if ensemble is not None:
        para(f"<b>{len(ensemble.seeds)} seeds ({ensemble.seeds[0]}–{ensemble.seeds[-1]}), {ensemble.months} months"
             f"</b>: median, and in brackets the middle 80% of the runs.")
        paths = [("Your policy held" if ensemble.models is not None else "The model", "yours")]
        if ensemble.models is not None:
            paths.append(("The model's own policy", "model"))
        for title, path in paths:
            table = ensemble.metrics(path)
            rows = []
            for key, label, note in METRIC_ROWS:
                values = table[key].dropna()
                if not len(values):
                    rows.append((label, "not yet", note.format(k=k)))
                    continue
                lo, mid, hi = values.quantile([0.1, 0.5, 0.9])
                rows.append((label, f"{format_metric(key, mid)} ({format_metric(key, lo)}–{format_metric(key, hi)})",
                             note.format(k=k)))
            para(f"<b>{title}</b>")
            solara.HTML(tag="div", unsafe_innerHTML=table_html(["Measure", "Median (80%)", "How to read it"], rows,
                                                               f"teach-many-table teach-many-{path}"))
        return
    para("<b>The pattern so far</b> (this run)")
    solara.HTML(tag="div", unsafe_innerHTML=table_html(["Measure", "Value", "How to read it"],
                                                       metric_rows(snap.metrics, k), "teach-metrics-table"))


@solara.component
def NoticePane(state: AppState):
    exercise: Exercise = next(e for e in EXERCISES if e.key == state.exercise.value)
    labels = {f"Exercise {k}": e.key for k, e in enumerate(EXERCISES, start=1)}
    shown = next(label for label, key in labels.items() if key == exercise.key)
    solara.ToggleButtonsSingle(value=shown, values=list(labels), on_value=lambda v: state.exercise.set(labels[v]),
                               dense=True)
    para(f"<b>{html.escape(exercise.title)}</b>")
    para("<ol>" + "".join(f"<li>{html.escape(s)}</li>" for s in exercise.steps) + "</ol>")
    para("<b>What to notice</b><ul class='teach-notice'>"
         + "".join(f"<li>{html.escape(n)}</li>" for n in exercise.notice) + "</ul>")
    para(f"<b>Discuss</b>: {html.escape(exercise.discuss)}")

    def set_up():
        state.draft.value = {**draft_of(check_settings(**exercise.settings))}
        state.apply()
        if exercise.stance is not None:
            state.model.value.set_choice(exercise.stance, dict(exercise.instruments))
            state.tick.value += 1

    solara.Button("Set up this exercise (applies and restarts)", on_click=set_up, color="primary",
                  classes=["teach-exercise-setup"])


@solara.component
def PlayPane(state: AppState):
    state.tick.value
    model = state.model.value
    _, redraw = solara.use_state(0)
    if not model.play_as_pakistan:
        para("To choose Pakistan's policy yourself, tick <b>Play as Pakistan</b> in Settings and press "
             "<b>Apply and restart</b>.")
        return
    snap = model.snapshot()
    choice = model.choice
    frame = snap.frame

    def pick(stance: str) -> None:
        model.set_choice(stance)
        redraw(lambda v: v + 1)

    def tick(name: str, on: bool) -> None:
        model.choice.instruments[name] = on
        redraw(lambda v: v + 1)

    month = f"{add_months(model.start_date, len(frame)):%B %Y}"
    para(f"<b>Your policy for {month}</b>: it stays in force until you change it (Step and ▶ play on with it).")
    with solara.Row():
        for stance in STANCES:
            solara.Button(stance.capitalize(), on_click=lambda s=stance: pick(s), outlined=choice.stance != stance,
                          color=STANCE_CHIP[stance], classes=[f"teach-stance-{stance}"])
        solara.Button("Play this month", on_click=state.step, color="primary", disabled=model.finished,
                      classes=["teach-play-month"])
    connectivity = model.connectivity_available()
    for name in stance_instruments(choice.stance):
        off = name == "connectivity" and not connectivity
        solara.Checkbox(label=INSTRUMENT_LABELS[name] + (" — no mediator now" if off else ""),
                        value=bool(choice.instruments.get(name)) and not off,
                        on_value=lambda on, n=name: tick(n, on), disabled=off)
    if not len(frame):
        return
    rows = play_report(frame, snap.reference, snap.params)
    para("<b>You and the model's own Pakistan</b> (same seed; dashed lines in the charts)")
    solara.HTML(tag="div", unsafe_innerHTML=table_html(["", "You", "Model's own"], rows, "teach-comparison-table"))
    para(RNG_NOTE)
    groups = militant_groups(frame)
    para("<b>Your last months</b>")
    solara.HTML(tag="div", unsafe_innerHTML="".join(
        f"<div class='teach-last-month'>{html.escape(month_summary(row, groups))}</div>"
        for _, row in frame.iloc[::-1].head(6).iterrows()))


PANES = {"Settings": SettingsPane, "Log": LogPane, "Pattern": PatternPane, "Exercises": NoticePane,
         "Your move": PlayPane}


@solara.component
def SidePanel(state: AppState):
    with solara.Div(classes=["teach-side"]):
        with solara.lab.Tabs(value=state.tab, lazy=True, grow=True):
            for name in TABS:
                with solara.lab.Tab(name, classes=[f"teach-tab-{name.split()[-1].lower()}"]):
                    with solara.Div(classes=["teach-pane", f"teach-pane-{name.split()[-1].lower()}"]):
                        PANES[name](state)


# ------------------------------------------------------------------------------ page
# Build the default run once when the server loads the app: the config composition and the
# replay behind "start from today" are then cached in this process, so a page opens at once.
TeachingModel(settings=check_settings())


@solara.component
def Page():
    state = solara.use_memo(AppState, [])
    solara.Title(TITLE)
    solara.Style(PAGE_CSS)
    with solara.Div(classes=["teach-root"]):
        Live(state)
        SidePanel(state)


@solara.component
def Live(state: AppState):
    """Everything that changes each month, in one component: one render pass a month, not one per part."""
    state.tick.value
    with solara.Div(classes=["teach-live"]):
        with solara.Div(classes=["teach-bar"]):
            controls(state)
            status_bar(state)
        charts(state)
