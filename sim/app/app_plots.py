"""The app's four charts as ECharts options: plain dicts the browser draws (``solara.FigureEcharts``).

The server sends a chart's numbers, never a picture: the browser redraws a chart in a
few milliseconds, so a month shows at once. Every chart spans the whole run on its
time axis (students see how far the run has come) and has, above its data, a strip
with both sides' stances (Pakistan above, the Taliban below; green engage, red
pressure) and a row of event markers (strikes, border closures, ceasefires, a mediator
stepping in) that the page links to the event log. Legends sit below the data.

``PALETTE`` gives every colour one meaning across all four charts (a test checks no
colour is used twice). Grey is for what is not this run's data: the previous run's
ghost trace, reference lines (zero, Pakistan's tolerance), border shading and markers.
With many seeds a chart shows the median and the band of the middle 80% of the runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from datetime import date

import numpy as np
import pandas as pd

from sim.config.calendar import add_months

PALETTE = {  # meaning -> colour; one colour, one meaning, on every chart
    "engage": "#4daf4a",
    "pressure": "#e41a1c",
    "relations": "#000000",
    "trust": "#1f78b4",
    "trade": "#ff7f00",
    "taliban_revenue": "#8c510a",
    "refugees": "#17becf",
    "returns_voluntary": "#bcbd22",
    "returns_forced": "#e377c2",
    "ttp": "#3f007d",
    "iskp": "#6a51a3",
    "baloch": "#9e9ac8",
    "hgb": "#cbc9e2",
    "deaths": "#8e0152",  # all groups together (many seeds, the model's own policy)
    "ghost": "#9e9e9e",
    "reference": "#555555",
    "border": "#d9d9d9",
}
GROUP_FALLBACK = "#dadaeb"  # a militant group the palette does not name
FONT = 15  # px: legible on a classroom projector
SMALL = 13
BAND_OPACITY = 0.22
STRIP_ROWS = ["events", "Taliban", "Pakistan"]  # bottom to top
MARKERS = {  # event kind -> (label, ECharts symbol, rotation)
    "strike": ("Strikes on TTP camps", "triangle", 180),
    "closure": ("Border shut", "rect", 0),
    "ceasefire": ("Ceasefire begins", "circle", 0),
    "mediation": ("A mediator steps in", "diamond", 0),
}
CHART_TITLES = {
    "relations": "Relations and trust",
    "trade": "Trade and Taliban revenue",
    "refugees": "Afghans in Pakistan and returns",
    "violence": "Deaths by militant group",
}
CHARTS = tuple(CHART_TITLES)
GROUP_WORDS = {"ttp": "TTP", "iskp": "ISKP", "baloch": "Baloch separatists", "hgb": "Gul Bahadur group"}


@dataclass(frozen=True)
class Axis:
    """The time axis of a run: one category per month, first month to last."""

    start: date
    n_months: int

    @cached_property
    def labels(self) -> list[str]:
        return [f"{add_months(self.start, k):%Y-%m}" for k in range(self.n_months)]


def month_label(value) -> str:
    return f"{pd.Timestamp(value):%Y-%m}"


def _values(series, scale: float = 1.0, digits: int = 3) -> list:
    """Numbers for the browser: rounded (fewer bytes to send), a missing value as None (a gap in the line)."""
    values = np.round(np.asarray(series, dtype=float) * scale, digits)
    finite = np.isfinite(values)
    out = values.tolist()
    if not finite.all():
        out = [v if ok else None for v, ok in zip(out, finite)]
    return out


def militant_groups(frame: pd.DataFrame) -> list[str]:
    return [c.removeprefix("strength_") for c in frame.columns if c.startswith("strength_")]


# ------------------------------------------------------------------------- event markers
def event_months(frame: pd.DataFrame) -> dict[str, list[int]]:
    """Row positions of the months when each kind of marked event happened."""
    if not len(frame):
        return {kind: [] for kind in MARKERS}

    def started(flag: pd.Series) -> np.ndarray:
        flag = np.asarray(flag.to_numpy(), dtype=bool)
        return np.flatnonzero(flag & ~np.concatenate(([False], flag[:-1])))

    ceasefire = np.zeros(len(frame), bool)
    for col in (c for c in frame.columns if c.startswith("ceasefire_")):
        ceasefire[started(frame[col])] = True
    mediation = np.zeros(len(frame), bool)
    for col in (c for c in frame.columns if c.startswith("mediator_") and c.endswith("_active")):
        mediation[started(frame[col])] = True
    return {
        "strike": np.flatnonzero(np.asarray(frame["pakistan_strikes"].to_numpy(), dtype=bool)).tolist(),
        "closure": started(frame["border"] == "closed").tolist(),
        "ceasefire": np.flatnonzero(ceasefire).tolist(),
        "mediation": np.flatnonzero(mediation).tolist(),
    }


def log_by_month(log: list[str]) -> dict[str, list[str]]:
    """The event log's lines grouped by their month label (each line starts ``YYYY-MM: ``)."""
    out: dict[str, list[str]] = {}
    for line in log:
        out.setdefault(line[:7], []).append(line[9:])
    return out


# ------------------------------------------------------------------------- the frame
def _skeleton(kind: str, axis: Axis) -> dict:
    """Title, the stance strip (grid 0) above the data (grid 1), shared month axis, tooltip, legend below."""
    labels = axis.labels
    every = 24 if len(labels) > 150 else 12 if len(labels) > 36 else 6 if len(labels) > 12 else 1  # labelled months
    strip_top, strip_h = 30, 36
    legend_h = 22
    right = 58 if kind == "refugees" else 16  # room for a second value axis
    main_top = strip_top + strip_h + 8
    return {
        "animation": False,
        "textStyle": {"fontSize": FONT},
        "title": {"text": CHART_TITLES[kind], "left": 6, "top": 2,
                  "textStyle": {"fontSize": 17, "fontWeight": "bold", "color": "#222"}},
        "tooltip": {"trigger": "axis", "confine": True, "textStyle": {"fontSize": SMALL},
                    "axisPointer": {"type": "line"}},
        # one line under the data, paged with arrows when it does not fit: it never covers the data or the axis
        "legend": {"type": "scroll", "bottom": 0, "left": 8, "right": 8, "itemGap": 12, "pageIconSize": 12,
                   "textStyle": {"fontSize": SMALL}, "data": []},
        "grid": [
            {"left": 70, "right": right, "top": strip_top, "height": strip_h},
            {"left": 70, "right": right, "top": main_top, "bottom": legend_h + 26},
        ],
        "xAxis": [
            {"type": "category", "data": labels, "gridIndex": 0, "show": False, "boundaryGap": True},
            {"type": "category", "data": labels, "gridIndex": 1, "boundaryGap": True,
             "axisLabel": {"fontSize": SMALL, "interval": every - 1, "hideOverlap": True},
             "axisTick": {"interval": every - 1}},
        ],
        "yAxis": [
            {"type": "category", "data": STRIP_ROWS, "gridIndex": 0, "axisTick": {"show": False},
             "axisLine": {"show": False}, "axisLabel": {"fontSize": 12, "color": "#333"}},
        ],
        "series": [],
    }


def _value_axis(name: str, lo=None, hi=None, right: bool = False) -> dict:
    axis = {"type": "value", "gridIndex": 1, "name": name, "nameLocation": "middle",
            "nameGap": 46 if not right else 44, "nameTextStyle": {"fontSize": SMALL},
            "axisLabel": {"fontSize": SMALL}, "splitLine": {"show": not right, "lineStyle": {"color": "#eee"}},
            "position": "right" if right else "left"}
    if lo is not None:
        axis["min"] = lo
    if hi is not None:
        axis["max"] = hi
    return axis


def mix(share: float) -> str:
    """The stance colour of a share engaged: pressure's red at 0, engage's green at 1, blended between."""
    a, b = (np.array([int(c[i:i + 2], 16) for i in (1, 3, 5)]) for c in (PALETTE["pressure"], PALETTE["engage"]))
    r, g, bl = np.round(a + (b - a) * float(share)).astype(int)
    return f"#{r:02x}{g:02x}{bl:02x}"


def stance_runs(values: list) -> list[tuple[int, int, float]]:
    """(first month, last month, value) of each run of equal values (1 engage, 0 pressure, or a share)."""
    runs, start = [], 0
    for k in range(1, len(values) + 1):
        if k == len(values) or values[k] != values[start]:
            if values[start] is not None:
                runs.append((start, k - 1, values[start]))
            start = k
    return runs


def _strip(option: dict, data: ChartInput) -> None:
    """The stances (1 = engage, 0 = pressure; with many seeds, the share engaged) and the event markers.

    A stance is drawn as one rectangle per run of equal months (a few dozen shapes, not one per
    month), on a hidden value axis of the strip whose rows match the labelled rows.
    """
    option["yAxis"].append({"type": "value", "gridIndex": 0, "min": 0, "max": len(STRIP_ROWS), "show": False})
    axis = len(option["yAxis"]) - 1
    labels = data.axis.labels
    areas = []
    pakistan, taliban = data.stances
    for row, values in ((STRIP_ROWS.index("Pakistan"), pakistan), (STRIP_ROWS.index("Taliban"), taliban)):
        for first, last, value in stance_runs(list(values)):
            end = labels[last + 1] if last + 1 < len(labels) else labels[-1]
            areas.append([{"xAxis": labels[first], "yAxis": row, "itemStyle": {"color": mix(value), "opacity": 1}},
                          {"xAxis": end, "yAxis": row + 1}])
    option["series"].append({"type": "line", "name": "stance", "data": [], "xAxisIndex": 0, "yAxisIndex": axis,
                             "markArea": {"silent": True, "data": areas}, "tooltip": {"show": False}})
    lines = data.log_lines
    labels = data.axis.labels
    for kind, months in data.events.items():
        label, symbol, rotate = MARKERS[kind]
        data = [{"value": [int(k), 0], "name": " · ".join(lines.get(labels[k], [label])), "month": int(k)}
                for k in months if k < len(labels)]
        option["series"].append({"type": "scatter", "name": label, "xAxisIndex": 0, "yAxisIndex": 0,
                                 "symbol": symbol, "symbolRotate": rotate, "symbolSize": 9, "data": data,
                                 "itemStyle": {"color": PALETTE["reference"]}, "cursor": "pointer",
                                 "tooltip": {"show": False}})


def _line(name: str, values: list, colour: str, width: float = 2.5, dashed: bool = False, axis: int = 1,
          legend: bool = True, z: int = 3) -> dict:
    return {"type": "line", "name": name, "data": values, "xAxisIndex": 1, "yAxisIndex": axis, "showSymbol": False,
            "connectNulls": False,
            "lineStyle": {"color": colour, "width": width, "type": "dashed" if dashed else "solid"},
            "itemStyle": {"color": colour}, "z": z, "_legend": legend}


def _band(name: str, low: list, high: list, colour: str, axis: int = 1, shift: float = 0.0) -> list[dict]:
    """Two stacked lines whose gap is filled: the band between ``low`` and ``high``.

    ECharts stacks negative values apart from positive ones, so a band that may go below
    zero is drawn ``shift`` higher on a hidden axis whose range is the visible one shifted
    the same (``_shifted_axis``).
    """
    stack = f"band-{name}"
    gap = [None if lo is None or hi is None else round(hi - lo, 4) for lo, hi in zip(low, high)]
    low = [None if lo is None else round(lo + shift, 4) for lo in low]
    return [
        {"type": "line", "name": f"{name} band low", "data": low, "xAxisIndex": 1, "yAxisIndex": axis,
         "stack": stack, "showSymbol": False, "lineStyle": {"opacity": 0}, "tooltip": {"show": False},
         "silent": True, "z": 1, "_legend": False},
        {"type": "line", "name": name, "data": gap, "xAxisIndex": 1, "yAxisIndex": axis, "stack": stack,
         "showSymbol": False, "lineStyle": {"opacity": 0}, "areaStyle": {"color": colour, "opacity": BAND_OPACITY},
         "itemStyle": {"color": colour}, "tooltip": {"show": False}, "silent": True, "z": 1, "_legend": True},
    ]


def _shifted_axis(option: dict, lo: float, hi: float, shift: float) -> int:
    """A hidden value axis showing ``lo + shift .. hi + shift`` where the visible one shows ``lo .. hi``."""
    option["yAxis"].append({"type": "value", "gridIndex": 1, "min": lo + shift, "max": hi + shift, "show": False})
    return len(option["yAxis"]) - 1


def _bars(name: str, values: list, colour: str, stack: str, axis: int = 1) -> dict:
    # "large": all bars of a series drawn as one shape (no per-bar style is needed), a fraction of the work
    return {"type": "bar", "name": name, "data": values, "xAxisIndex": 1, "yAxisIndex": axis, "stack": stack,
            "barCategoryGap": "10%", "itemStyle": {"color": colour}, "z": 2, "large": True, "largeThreshold": 2,
            "_legend": True}


def _finish(option: dict) -> dict:
    """The legend's entries; every series named by an id, so the browser updates it in place month by month."""
    legend = []
    for s in option["series"]:
        s["id"] = s["name"]
        if s.pop("_legend", False) and s["name"] not in legend:
            legend.append(s["name"])
    option["legend"]["data"] = legend
    return option


# ------------------------------------------------------------------------- the charts
@dataclass
class ChartInput:
    """What the four charts draw: the run so far, and what to draw with it."""

    axis: Axis
    frame: pd.DataFrame
    log: list[str] | None = None
    ghost: pd.DataFrame | None = None  # the previous run (same start), grey
    reference: pd.DataFrame | None = None  # play mode: the model's own policy, dashed
    ensemble: object | None = None  # sim.app.app_ensemble.Ensemble: median and band over seeds

    @cached_property
    def events(self) -> dict[str, list[int]]:
        """Marked events of this run (none in the many-seed view: each seed has its own)."""
        return event_months(self.frame) if self.ensemble is None else {kind: [] for kind in MARKERS}

    @cached_property
    def stances(self) -> tuple[list, list]:
        return _stances(self)

    @cached_property
    def log_lines(self) -> dict[str, list[str]]:
        return log_by_month(self.log or [])


def _padded(values: list, n: int) -> list:
    return list(values) + [None] * max(0, n - len(values))


def _series(frame: pd.DataFrame | None, column: str, scale: float = 1.0) -> list:
    return [] if frame is None or column not in frame or not len(frame) else _values(frame[column], scale)


def _stances(data: ChartInput) -> tuple[list, list]:
    if data.ensemble is not None:
        e = data.ensemble
        return ([round(float(v), 3) for v in e.share("pakistan_stance", "engage")],
                [round(float(v), 3) for v in e.share("taliban_stance", "engage")])
    f = data.frame
    return ([1.0 if s == "engage" else 0.0 for s in f.get("pakistan_stance", [])],
            [1.0 if s == "engage" else 0.0 for s in f.get("taliban_stance", [])])


def _ensemble_lines(option: dict, data: ChartInput, column: str, name: str, colour: str, scale: float = 1.0,
                    axis: int = 1, band: bool = True, band_axis: int | None = None, shift: float = 0.0) -> None:
    e = data.ensemble
    b = e.band(column)
    if band:
        option["series"] += _band(f"{name}: middle 80% of runs", _values(b["low"], scale), _values(b["high"], scale),
                                  colour, axis if band_axis is None else band_axis, shift)
    option["series"].append(_line(f"{name} (median)", _values(b["median"], scale), colour, axis=axis))
    if e.models is not None:
        m = e.band(column, "model")
        option["series"].append(_line(f"{name}, model's own", _values(m["median"], scale), colour,
                                      dashed=True, axis=axis, width=2))


def _single_lines(option: dict, data: ChartInput, column: str, name: str, colour: str, scale: float = 1.0,
                  axis: int = 1, ghost: bool = True) -> None:
    option["series"].append(_line(name, _series(data.frame, column, scale), colour, axis=axis))
    if data.reference is not None:
        option["series"].append(_line(f"{name}, model's own", _series(data.reference, column, scale), colour,
                                      dashed=True, width=2, axis=axis))
    if ghost and data.ghost is not None:
        option["series"].append(_line(f"previous run: {name}", _series(data.ghost, column, scale), PALETTE["ghost"],
                                      dashed=True, width=2, axis=axis, z=2))


def relations_chart(data: ChartInput) -> dict:
    option = _skeleton("relations", data.axis)
    option["yAxis"].append(_value_axis("-1 hostile .. +1 friendly", -1, 1))
    _strip(option, data)
    option["series"].append({"type": "line", "name": "zero", "data": [], "xAxisIndex": 1, "yAxisIndex": 1,
                             "markLine": {"silent": True, "symbol": "none", "data": [{"yAxis": 0}],
                                          "label": {"show": False},
                                          "lineStyle": {"color": PALETTE["reference"], "width": 1, "type": "solid"}},
                             "_legend": False})
    if data.ensemble is not None:
        hidden = _shifted_axis(option, -1, 1, shift=1.0)
        _ensemble_lines(option, data, "relations", "relations", PALETTE["relations"], band_axis=hidden, shift=1.0)
        _ensemble_lines(option, data, "trust", "trust", PALETTE["trust"], band=False)
    else:
        _single_lines(option, data, "relations", "relations", PALETTE["relations"])
        _single_lines(option, data, "trust", "Pakistan's trust (0-1)", PALETTE["trust"], ghost=False)
    return _finish(option)


def trade_chart(data: ChartInput) -> dict:
    option = _skeleton("trade", data.axis)
    option["yAxis"].append(_value_axis("USD million a month", 0))
    _strip(option, data)
    if data.ensemble is not None:
        _ensemble_lines(option, data, "trade", "trade", PALETTE["trade"])
        _ensemble_lines(option, data, "taliban_revenue", "Taliban revenue", PALETTE["taliban_revenue"], band=False)
    else:
        _border_shading(option, data.frame, data.axis)
        _single_lines(option, data, "trade", "trade", PALETTE["trade"])
        _single_lines(option, data, "taliban_revenue", "Taliban revenue", PALETTE["taliban_revenue"], ghost=False)
    return _finish(option)


def _border_shading(option: dict, frame: pd.DataFrame, axis: Axis) -> None:
    """Months with the border restricted (light) or shut (darker), as areas behind the data."""
    if not len(frame):
        return
    labels = axis.labels
    areas = []
    border = list(frame["border"])
    k = 0
    while k < len(border):
        j = k
        while j + 1 < len(border) and border[j + 1] == border[k]:
            j += 1
        if border[k] != "open" and j < len(labels):
            areas.append([{"xAxis": labels[k], "itemStyle": {"color": PALETTE["border"],
                                                             "opacity": 1.0 if border[k] == "closed" else 0.45}},
                          {"xAxis": labels[j]}])
        k = j + 1
    option["series"].append({"type": "line", "name": "border restricted / shut", "data": [],
                             "xAxisIndex": 1, "yAxisIndex": 1, "itemStyle": {"color": PALETTE["border"]},
                             "markArea": {"silent": True, "data": areas}, "_legend": True, "z": 0})


def refugees_chart(data: ChartInput) -> dict:
    option = _skeleton("refugees", data.axis)
    option["yAxis"].append(_value_axis("millions in Pakistan", 0))
    option["yAxis"].append(_value_axis("returns, thousands a month", 0, right=True))
    _strip(option, data)
    if data.ensemble is not None:
        _ensemble_lines(option, data, "refugees_in_pakistan", "Afghans in Pakistan", PALETTE["refugees"], 1e-6)
        _ensemble_lines(option, data, "returns_forced", "forced returns", PALETTE["returns_forced"], 1e-3, axis=2,
                        band=False)
    else:
        option["series"].append(_bars("forced returns", _series(data.frame, "returns_forced", 1e-3),
                                      PALETTE["returns_forced"], "returns", axis=2))
        option["series"].append(_bars("voluntary returns", _series(data.frame, "returns_voluntary", 1e-3),
                                      PALETTE["returns_voluntary"], "returns", axis=2))
        _single_lines(option, data, "refugees_in_pakistan", "Afghans in Pakistan", PALETTE["refugees"], 1e-6)
    return _finish(option)


def violence_chart(data: ChartInput) -> dict:
    option = _skeleton("violence", data.axis)
    option["yAxis"].append(_value_axis("deaths a month", 0))
    _strip(option, data)
    if data.ensemble is not None:
        _ensemble_lines(option, data, "deaths_total", "deaths, all groups", PALETTE["deaths"])
    else:
        for g in militant_groups(data.frame):
            option["series"].append(_bars(GROUP_WORDS.get(g, g.upper()), _series(data.frame, f"deaths_{g}"),
                                          PALETTE.get(g, GROUP_FALLBACK), "deaths"))
        if data.reference is not None:
            option["series"].append(_line("deaths, model's own", _series(data.reference, "deaths_total"),
                                          PALETTE["deaths"], dashed=True, width=2))
        if data.ghost is not None:
            option["series"].append(_line("previous run: deaths", _series(data.ghost, "deaths_total"),
                                          PALETTE["ghost"], dashed=True, width=2, z=2))
    source = data.frame if len(data.frame) else None
    tolerance = _series(source, "tolerance")
    if data.ensemble is not None:
        tolerance = _values(data.ensemble.yours[data.ensemble.seeds[0]]["tolerance"])
    option["series"].append(_line("Pakistan's tolerance", tolerance, PALETTE["reference"], width=2, dashed=True, z=4))
    return _finish(option)


CHART_BUILDERS = {"relations": relations_chart, "trade": trade_chart, "refugees": refugees_chart,
                  "violence": violence_chart}


def chart_options(data: ChartInput) -> dict[str, dict]:
    """All four charts' options for the page."""
    return {name: build(data) for name, build in CHART_BUILDERS.items()}
