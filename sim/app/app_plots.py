"""The teaching app's live plots: matplotlib figures built from a run's frame so far.

Each panel spans the whole run on its time axis (so students see how far the run
has come) and carries two thin bands at the top: Pakistan's stance above, the
Taliban's below (green engage, red pressure), drawn by ``sim.dashboard``.
Figures use the object API (no pyplot): the app draws from worker threads.
"""

from __future__ import annotations

from datetime import date

import matplotlib.dates as mdates
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from sim.output.dashboard import GROUP_COLOURS, STANCE_COLOURS, draw_stance_bands, militant_groups, stance_spans
from sim.output.narrative import group_label

WIDTH, HEIGHT, TALL, DPI = 6.4, 3.3, 4.6, 90  # figure size (inches) and resolution: layout only
BAND_ROOM = 1.25  # headroom above the data so the stance bands (top 14% of an axis) never hide it
LEGEND_BELOW_BANDS = {"loc": "upper left", "bbox_to_anchor": (0.0, 0.86), "fontsize": 7}


def _figure(height: float = HEIGHT, rows: int = 1, right: float = 0.97) -> tuple[Figure, list]:
    # Fixed margins: a layout engine would triple the drawing time of every month.
    fig = Figure(figsize=(WIDTH, height), dpi=DPI)
    fig.subplots_adjust(left=0.1, right=right, bottom=0.1 * HEIGHT / height, top=0.97, hspace=0.1)
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    return fig, list(axes)


def _stacked(ax, frame: pd.DataFrame, series: list[pd.Series], colours: list, labels: list[str]) -> pd.Series:
    """Monthly values stacked as steps, each month drawn across its width; returns the total."""
    dates = list(frame["date"]) + [frame["date"].iloc[-1] + pd.DateOffset(months=1)]
    values = [list(v) + [v.iloc[-1]] for v in series]
    ax.stackplot(dates, *values, colors=colours, labels=labels, step="post", alpha=0.8, lw=0)
    return sum(series)


def _time_axis(ax, start: date, end: date) -> None:
    ax.set_xlim(pd.Timestamp(start), pd.Timestamp(end))
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.tick_params(labelsize=8)


def _top(values: list[pd.Series], floor: float = 1.0) -> float:
    peak = max([float(v.max()) for v in values if len(v)] + [floor])
    return peak * BAND_ROOM


def _bands(ax, frame: pd.DataFrame, names: tuple[str, str] = ("Pakistan", "Taliban")) -> None:
    """The two stance bands, each named at its left end."""
    if len(frame):
        draw_stance_bands(ax, frame)
        for name, y in zip(names, (0.965, 0.895)):
            ax.text(0.005, y, name, transform=ax.transAxes, fontsize=6, color="white", va="center",
                    fontweight="bold")


def _waiting(ax, frame: pd.DataFrame) -> None:
    if not len(frame):
        ax.text(0.5, 0.45, "press Step to simulate the first month", transform=ax.transAxes,
                ha="center", va="center", color="grey", fontsize=10)


def stance_legend() -> list[Patch]:
    return [Patch(color=STANCE_COLOURS["engage"], label="engage"),
            Patch(color=STANCE_COLOURS["pressure"], label="pressure")]


def relations_figure(frame: pd.DataFrame, start: date, end: date) -> Figure:
    fig, (ax,) = _figure()
    if len(frame):
        ax.plot(frame["date"], frame["relations"], color="black", lw=1.8, label="relations")
        ax.plot(frame["date"], frame["trust"], color="#377eb8", lw=1.3, ls="--", label="Pakistan's trust")
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_ylim(-1.05, 1.4)
    ax.set_ylabel("-1 hostile .. +1 cooperative", fontsize=8)
    _bands(ax, frame)
    _waiting(ax, frame)
    _time_axis(ax, start, end)
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + stance_legend(), loc="lower left", fontsize=7, ncol=2)
    return fig


def trade_figure(frame: pd.DataFrame, start: date, end: date) -> Figure:
    fig, (ax,) = _figure()
    if len(frame):
        ax.plot(frame["date"], frame["trade"], color="#377eb8", lw=1.6, label="trade across the border")
        ax.plot(frame["date"], frame["taliban_revenue"], color="#ff7f00", lw=1.6, label="Taliban revenue")
        for s, e, state in stance_spans(frame["date"], frame["border"]):
            if state != "open":
                ax.axvspan(s, e, ymax=0.86, color="grey", alpha=0.35 if state == "closed" else 0.12, lw=0)
    ax.set_ylim(0, _top([frame.get("trade", pd.Series()), frame.get("taliban_revenue", pd.Series())]))
    ax.set_ylabel("USD million / month", fontsize=8)
    _bands(ax, frame)
    _waiting(ax, frame)
    _time_axis(ax, start, end)
    handles, _ = ax.get_legend_handles_labels()
    handles += [Patch(color="grey", alpha=0.12, label="border restricted"),
                Patch(color="grey", alpha=0.35, label="border closed")]
    ax.legend(handles=handles, loc="lower left", fontsize=7, ncol=2)
    return fig


def refugees_figure(frame: pd.DataFrame, start: date, end: date) -> Figure:
    fig, (ax,) = _figure(right=0.9)
    ax2 = ax.twinx()
    ax.set_zorder(ax2.get_zorder() + 1)  # the stock line above the returns
    ax.patch.set_visible(False)
    returns = pd.Series(dtype=float)
    if len(frame):
        returns = _stacked(ax2, frame, [frame["returns_forced"] / 1e3, frame["returns_voluntary"] / 1e3],
                           [STANCE_COLOURS["pressure"], STANCE_COLOURS["engage"]],
                           ["forced returns", "voluntary returns"])
        ax.plot(frame["date"], frame["refugees_in_pakistan"] / 1e6, color="black", lw=1.6,
                label="Afghans in Pakistan (millions)")
    stock = frame.get("refugees_in_pakistan", pd.Series(dtype=float)) / 1e6
    ax.set_ylim(0, _top([stock]))
    ax2.set_ylim(0, _top([returns], floor=10.0))
    ax.set_ylabel("millions of people", fontsize=8)
    ax2.set_ylabel("returns (thousands / month)", fontsize=8)
    ax2.tick_params(labelsize=8)
    _bands(ax, frame)
    _waiting(ax, frame)
    _time_axis(ax, start, end)
    h1, _ = ax.get_legend_handles_labels()
    h2, _ = ax2.get_legend_handles_labels()
    ax.legend(handles=h1 + h2, loc="lower left", fontsize=7)
    return fig


def violence_figure(frame: pd.DataFrame, start: date, end: date) -> Figure:
    fig, (ax_attacks, ax_deaths) = _figure(TALL, rows=2)
    groups = militant_groups(frame) if len(frame) else []
    for ax, prefix, ylabel in ((ax_attacks, "attacks_", "attacks / month"), (ax_deaths, "deaths_", "deaths / month")):
        top = []
        if groups:
            top.append(_stacked(ax, frame, [frame[f"{prefix}{g}"] for g in groups],
                                [GROUP_COLOURS.get(g) for g in groups], [group_label(g) for g in groups]))
        if prefix == "deaths_" and len(frame):
            tolerance = ax.plot(frame["date"], frame["tolerance"], color="black", ls=":", lw=1.3,
                                label="Pakistan's tolerance")
            ax.legend(handles=tolerance, **LEGEND_BELOW_BANDS)
            top.append(frame["tolerance"])
        ax.set_ylim(0, _top(top))
        ax.set_ylabel(ylabel, fontsize=8)
        _bands(ax, frame)
        _time_axis(ax, start, end)
    _waiting(ax_attacks, frame)
    if groups:
        ax_attacks.legend(ncol=len(groups), **LEGEND_BELOW_BANDS)
    return fig


def comparison_figure(yours: pd.DataFrame, models: pd.DataFrame, start: date, end: date) -> Figure:
    """Relations on the student's path and on the model's own, with both paths' stances."""
    fig, (ax,) = _figure()
    ax.plot(yours["date"], yours["relations"], color="black", lw=1.8, label="your path")
    ax.plot(models["date"], models["relations"], color="#984ea3", lw=1.4, ls="--", label="model's own policy")
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_ylim(-1.05, 1.4)
    # The usual two bands, here both Pakistan's: the student's above, the model's below.
    _bands(ax, pd.DataFrame({"date": yours["date"], "pakistan_stance": yours["pakistan_stance"],
                             "taliban_stance": models["pakistan_stance"].to_numpy()}), ("you", "model"))
    ax.set_ylabel("relations", fontsize=8)
    _time_axis(ax, start, end)
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + stance_legend(), loc="lower left", fontsize=7, ncol=2)
    return fig
