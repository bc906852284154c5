"""What the app says in words and tables: settings in use, the pattern so far, the play report.

Pure functions of a run's frame (and its settings), so every number the page shows is
tested without a browser (``tests/test_app_model.py``).

The play report counts a thaw's end in two ways, because in play mode every end of a
thaw is the student's own choice: *after a violence spike* (the end the pattern
metrics call a reversal: Pakistan turned to pressure at most ``reversal_window_months``
after a month whose deaths exceeded its tolerance, during the thaw) and *by choice,
with no spike just before*. The definitions are those of ``sim.analysis.metrics``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.agents.pakistan import INSTRUMENTS
from sim.analysis.metrics import MetricsParams
from sim.app.app_settings import (
    CONTROLS,
    DEFAULT_SCENARIO,
    START_CHOICES,
    config_value,
    default_seed,
    default_start,
    scenario_words,
    start_supported,
)
from sim.output.narrative import group_label

HISTORY_MODE_WORDS = {"forced": "forced: both stances follow the record",
                      "free": "free: the agents choose, dated events still happen"}

METRIC_ROWS = (  # (metric key, label, how to read it)
    ("thaws", "Thaws so far", "runs of {k}+ months with Pakistan engaged"),
    ("mean_thaw_duration", "Average thaw length", "months"),
    ("reversal_probability", "Thaws reversed after a violence spike", "share of the thaws that ended"),
    ("backward_forward_ratio", "Typical setback / typical gain", "about 2 = 'one step forward, two steps back'"),
    ("share_engaged", "Months Pakistan engaged", "share of all months"),
    ("net_drift", "Drift of relations", "change a year (-1 hostile .. +1 cooperative)"),
    ("regime_switches_per_decade", "Policy switches", "per ten years"),
)
PERCENT_METRICS = {"reversal_probability", "share_engaged"}


def format_metric(key: str, value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not yet"
    if key in PERCENT_METRICS:
        return f"{100 * value:.0f}%"
    if key == "thaws":
        return f"{value:.0f}"
    if key == "net_drift":
        return f"{value:+.2f}"
    return f"{value:.1f}"


def metric_rows(metrics: dict[str, float], thaw_min_months: int) -> list[tuple[str, str, str]]:
    return [(label, format_metric(key, metrics.get(key, float("nan"))), note.format(k=thaw_min_months))
            for key, label, note in METRIC_ROWS]


def settings_in_use(model) -> list[tuple[str, str, bool]]:
    """(label, value in use, set by the student?) for every setting of the run in use."""
    rows = [("Scenario", scenario_words(model.scenario_name), model.scenario_name != DEFAULT_SCENARIO),
            ("Random seed", str(model.run_seed), model.run_seed != default_seed())]
    if start_supported():
        rows.append(("Start", START_CHOICES[model.settings.start], model.settings.start != default_start()))
    for c in CONTROLS.values():
        value = config_value(model.config, c.path)
        text = f"{value:g}" + (f" {c.unit}" if c.unit else "")
        rows.append((c.label, text, c.path in model.overrides))
    history = model.config.extras.get("history")
    if history:
        mode = HISTORY_MODE_WORDS.get(history.get("mode"), str(history.get("mode")))
        rows.append(("History replay", mode, "history.mode" in model.overrides))
    return rows


# ------------------------------------------------------------------------ play report
@dataclass(frozen=True)
class ThawEndings:
    """How the thaws of one path ended (counts)."""

    thaws: int
    after_spike: int  # Pakistan turned to pressure soon after a violence spike during the thaw
    by_choice: int  # ended with no violence spike in the window before the end
    running: int  # still engaged in the last month shown


def thaw_endings(frame: pd.DataFrame, params: MetricsParams) -> ThawEndings:
    """Thaws (``thaw_min_months``+ engaged months in a row) and how each ended."""
    engaged = (frame["pakistan_stance"] == "engage").to_numpy()
    with np.errstate(invalid="ignore"):
        spike = (frame["deaths_total"].to_numpy(float) > frame["tolerance"].to_numpy(float))
    n = engaged.size
    padded = np.diff(np.concatenate(([0], engaged.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(padded == 1), np.flatnonzero(padded == -1)
    after = choice = running = 0
    for s, e in zip(starts, ends):  # engaged months s .. e-1; e is the first month not engaged
        if e - s < params.thaw_min_months:
            continue
        if e >= n:
            running += 1
            continue
        spikes = np.flatnonzero(spike[s:e]) + s
        if spikes.size and e - spikes[-1] <= params.reversal_window_months:
            after += 1
        else:
            choice += 1
    return ThawEndings(after + choice + running, after, choice, running)


def would_have_differed(frame: pd.DataFrame) -> int:
    """Months where the model's Pakistan, in the student's own world, would more likely than not have chosen
    the other stance (its decision rule still runs in play mode: ``pakistan_p_engage``)."""
    if not len(frame):
        return 0
    engage = frame["pakistan_stance"] == "engage"
    p = frame["pakistan_p_engage"]
    return int(((engage & (p < 0.5)) | (~engage & (p > 0.5))).sum())


def play_report(yours: pd.DataFrame, models: pd.DataFrame, params: MetricsParams) -> list[tuple[str, str, str]]:
    """(what, your path, the model's own policy) over the same months: what the player did and what the
    model would have done."""
    def both(fn, fmt):
        return fmt(fn(yours)), fmt(fn(models))

    mine, own = thaw_endings(yours, params), thaw_endings(models, params)
    k = params.thaw_min_months
    return [
        ("Months Pakistan engaged", *both(lambda f: int((f["pakistan_stance"] == "engage").sum()), str)),
        ("Policy switches", *both(lambda f: int((f["pakistan_stance"] != f["pakistan_stance"].shift()).iloc[1:]
                                                .sum()), str)),
        (f"Thaws ({k}+ months engaged)", str(mine.thaws), str(own.thaws)),
        ("... ended after a violence spike", str(mine.after_spike), str(own.after_spike)),
        ("... ended by choice, no spike just before", str(mine.by_choice), str(own.by_choice)),
        ("... still running", str(mine.running), str(own.running)),
        ("Months the model's Pakistan would have chosen the other stance in your world",
         str(would_have_differed(yours)), "-"),
        ("Relations now", *both(lambda f: f["relations"].iloc[-1], "{:+.2f}".format)),
        ("Relations, average", *both(lambda f: f["relations"].mean(), "{:+.2f}".format)),
        ("Pakistan's trust in Taliban restraint, now", *both(lambda f: f["trust"].iloc[-1], "{:.2f}".format)),
        ("Deaths in Pakistan, total", *both(lambda f: int(f["deaths_total"].sum()), "{:,}".format)),
        ("Months above the tolerance", *both(lambda f: int((f["deaths_total"] > f["tolerance"]).sum()), str)),
        ("Trade, average (USD million a month)", *both(lambda f: f["trade"].mean(), "{:,.0f}".format)),
        ("Forced returns of Afghans, total", *both(lambda f: int(f["returns_forced"].sum()), "{:,}".format)),
    ]


def month_summary(row: pd.Series, groups: list[str]) -> str:
    """One plain line about a month's outcome, for the play panel."""
    on = [name.replace("_", " ") for name in INSTRUMENTS if row.get(f"pakistan_{name}", False)]
    worst = max(groups, key=lambda g: row.get(f"deaths_{g}", 0), default=None)
    blame = f", most by the {group_label(worst)}" if worst and row.get(f"deaths_{worst}", 0) > 0 else ""
    return (f"{row['date']:%Y-%m}: Pakistan {str(row['pakistan_stance']).upper()}"
            f" ({', '.join(on) or 'no instruments'}); Taliban {str(row['taliban_stance']).upper()};"
            f" {int(row['deaths_total'])} deaths{blame}; border {row['border']};"
            f" relations {row['relations']:+.2f}")
