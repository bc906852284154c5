"""The run dashboard: one figure a student can read without the code."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

STANCE_COLOURS = {"engage": "#4daf4a", "pressure": "#e41a1c"}
GROUP_COLOURS = {"ttp": "#984ea3", "iskp": "#ff7f00", "baloch": "#a65628", "hgb": "#f781bf"}


def militant_groups(frame: pd.DataFrame) -> list[str]:
    return [c.removeprefix("strength_") for c in frame.columns if c.startswith("strength_")]


def stance_spans(dates: pd.Series, stances: pd.Series) -> list[tuple]:
    """(start, end, stance) runs, each month spanning to the start of the next."""
    d = list(pd.to_datetime(dates))
    if not d:
        return []
    step = d[1] - d[0] if len(d) > 1 else pd.Timedelta(days=30)
    ends = d[1:] + [d[-1] + step]
    spans, start = [], 0
    values = list(stances)
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[start]:
            spans.append((d[start], ends[i - 1], values[start]))
            start = i
    return spans


def draw_stance_bands(ax, frame: pd.DataFrame) -> None:
    """Two thin bands at the top of an axis: Pakistan's stance above, the Taliban's below."""
    for col, (lo, hi) in (("pakistan_stance", (0.93, 1.0)), ("taliban_stance", (0.86, 0.93))):
        for start, end, stance in stance_spans(frame["date"], frame[col]):
            ax.axvspan(start, end, ymin=lo, ymax=hi, color=STANCE_COLOURS.get(stance, "grey"), alpha=0.8, lw=0)


RECORD_COLOUR = "#fbe7b5"  # the replayed record behind a run from today (used for nothing else)
LEGEND = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "fontsize": 11, "frameon": False}  # off the data


def with_history(frame: pd.DataFrame, history: pd.DataFrame | None) -> pd.DataFrame:
    """The replayed record followed by the run's own months (the columns both have)."""
    if history is None or not len(history):
        return frame
    both = [c for c in frame.columns if c in history.columns]
    return pd.concat([history[both], frame[both]], ignore_index=True)


def shade_history(axes, start, end) -> None:
    """Shade the replayed months on every panel and mark the hand-over month."""
    for ax in axes:
        ax.axvspan(start, end, color=RECORD_COLOUR, zorder=0, lw=0)
        ax.axvline(end, color="black", lw=1.0, ls="-", zorder=1)


PROJECTOR = {"font.size": 12, "axes.titlesize": 14, "axes.labelsize": 12, "xtick.labelsize": 12,
             "ytick.labelsize": 12}  # large type for a classroom projector


def plot_run(frame: pd.DataFrame, path: str | Path, title: str = "", history: pd.DataFrame | None = None) -> Path:
    """The run dashboard; ``history`` (a run from today's ``model.replay_frame``) is drawn first, shaded."""
    with plt.rc_context(PROJECTOR):
        return _draw(frame, Path(path), title, history)


def _draw(frame: pd.DataFrame, path: Path, title: str, history: pd.DataFrame | None) -> Path:
    handover = pd.to_datetime(frame["date"]).iloc[0] if history is not None and len(history) else None
    closed_months = int((frame["border"] == "closed").sum())  # the run's own months, as its summary counts them
    frame = with_history(frame, history)
    dates = pd.to_datetime(frame["date"])
    fig, axes = plt.subplots(4, 1, figsize=(14, 14), sharex=True, constrained_layout=True)
    if handover is not None:
        shade_history(axes, dates.iloc[0], handover)

    ax = axes[0]
    ax.plot(dates, frame["relations"], color="black", lw=1.8, label="relations (-1 hostile .. +1 cooperative)")
    ax.plot(dates, frame["trust"], color="#377eb8", lw=1.2, ls="--", label="Pakistan's trust in Taliban restraint (0-1)")
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_ylim(-1.05, 1.35)
    ax.set_ylabel("index")
    ax.set_title("Relations and trust (top bands: Pakistan's stance, then the Taliban's)")
    draw_stance_bands(ax, frame)
    handles, labels = ax.get_legend_handles_labels()
    handles += [Patch(color=STANCE_COLOURS["engage"], label="engage"),
                Patch(color=STANCE_COLOURS["pressure"], label="pressure")]
    if handover is not None:
        replayed = pd.to_datetime(history["date"])
        handles.append(Patch(color=RECORD_COLOUR,
                             label=f"replayed record, {replayed.iloc[0]:%b %Y} - {replayed.iloc[-1]:%b %Y}"))
    ax.legend(handles=handles, **LEGEND)

    ax = axes[1]
    ax.plot(dates, frame["trade"], color="#377eb8", lw=1.5, label="bilateral + transit trade")
    ax.plot(dates, frame["taliban_revenue"], color="#ff7f00", lw=1.5, label="Taliban revenue")
    for start, end, state in stance_spans(dates, frame["border"]):
        if state != "open":
            ax.axvspan(start, end, color="grey", alpha=0.35 if state == "closed" else 0.12, lw=0)
    ax.set_ylabel("USD million / month")
    ax.set_ylim(bottom=0)
    since = f" since {handover:%b %Y}" if handover is not None else ""
    ax.set_title(f"Trade and Taliban revenue (shaded: border restricted / closed; closed {closed_months} months{since})")
    ax.legend(**LEGEND)

    ax = axes[2]
    ax.plot(dates, frame["refugees_in_pakistan"] / 1e6, color="black", lw=1.5, label="Afghans in Pakistan (millions)")
    ax.set_ylabel("millions of people")
    ax2 = ax.twinx()
    ax2.bar(dates, frame["returns_forced"] / 1e3, width=25, color="#e41a1c", alpha=0.6, label="forced returns")
    ax2.bar(dates, frame["returns_voluntary"] / 1e3, width=25, bottom=frame["returns_forced"] / 1e3,
            color="#4daf4a", alpha=0.6, label="voluntary returns")
    ax2.set_ylabel("returns (thousands / month)")
    ax.set_title("Refugees: stock in Pakistan and monthly returns")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, **{**LEGEND, "bbox_to_anchor": (1.08, 1.0)})

    ax = axes[3]
    bottom = None
    for g in militant_groups(frame):
        values = frame[f"deaths_{g}"]
        ax.bar(dates, values, width=25, bottom=bottom, color=GROUP_COLOURS.get(g), label=f"{g.upper()} (deaths)")
        bottom = values if bottom is None else bottom + values
    ax.plot(dates, frame["tolerance"], color="black", ls=":", lw=1.2, label="Pakistan's tolerance")
    ax.set_ylabel("fatalities / month")
    ax.set_title("Violence in Pakistan by group (attacks' victims and militants killed)")
    ax.legend(**LEGEND)
    ax.xaxis.set_major_locator(mdates.YearLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    ax.set_xlabel("month")

    fig.suptitle(title or "Run dashboard", fontsize=16)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
