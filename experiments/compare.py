"""Compare scenarios: what does B change compared with A, and how sure is that?

    python -m experiments.compare A B [C ...] [--seeds N] [--months M] [--jobs J]
                                  [--out DIR] [--independent] [key=value ...]

Each scenario is a name (``configs/scenario/NAME.yaml``) or a name with its own
overrides joined by ``+``: ``baseline+pakistan.tolerance=100``. A ``key=value`` on its
own applies to every scenario (e.g. ``start=today``). Every scenario runs seeds
0..N-1, the same seeds (common random numbers; ``--independent`` gives B other seeds,
to see what that costs), and each scenario after the first is compared with the first.

Into ``DIR/A_vs_B/`` (default ``results/compare/``; ``A_vs_B_independent-seeds/`` with
``--independent``) for each B:

* ``effects.csv``: per headline total and pattern metric, ``metric, a_mean, b_mean,
  effect, low, high`` (B - A and its paired bootstrap interval over seeds), then
  ``sign_clear, n_pairs, width, target_width, seeds_for_width, note``;
* ``compare.png``: month by month, A's and B's medians and 5-95% bands, and below the
  mean paired difference B - A with its interval;
* ``comparison.json``: what was compared (scenarios, overrides, seeds, months, bootstrap).

With several B, also ``DIR/A_vs_B_C_.../summary.csv`` (every effect) and ``forest.png``.
Runs are cached in ``DIR/runs/`` (one Parquet file a run, keyed by a hash of the
validated config and the model code), so a re-run or a new comparison reusing a
scenario only runs what is missing. Method and reading guide: docs/compare.md.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter
from matplotlib.patches import Patch

from experiments.scenarios import exit_code
from sim.analysis.compare import (
    Comparison,
    CompareSettings,
    compare_many,
    group_folder,
    load_settings,
    monthly_difference,
    pair_folder,
    write_tables,
)

ROOT = Path(__file__).resolve().parents[1]

# One colour per scenario, in the order given (colour-blind safe, dark enough for a projector).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
# Type sizes for a classroom projector.
STYLE = {"font.size": 16, "axes.titlesize": 17, "axes.labelsize": 16, "xtick.labelsize": 14,
         "ytick.labelsize": 14, "legend.fontsize": 16, "figure.titlesize": 20}

# Month-by-month fields of compare.png: (name, panel title, short name, kind). "band":
# median and percentile band of the runs; "share": share of runs (a yes/no field).
FIELDS: tuple[tuple[str, str, str, str], ...] = (
    ("relations", "Relations (-1 hostile .. 1 cooperative)", "relations", "band"),
    ("deaths_cumulative", "Fatalities so far (people)", "fatalities so far", "band"),
    ("trade", "Trade (USD million / month)", "trade", "band"),
    ("refugees_millions", "Afghans in Pakistan (million)", "Afghans in Pakistan", "band"),
    ("pakistan_engaged", "Pakistan engaged (share of runs)", "share engaged", "share"),
)

# Labels of the metrics in forest.png and the printed table (unit in brackets).
METRIC_LABELS = {
    "months_engaged": "Months Pakistan engaged [months]",
    "total_deaths": "Fatalities, whole run [people]",
    "total_returns": "Returns to Afghanistan [people]",
    "total_trade": "Trade, whole run [USD million]",
    "share_engaged": "Share of months engaged",
    "share_hostile": "Share of months in mutual pressure",
    "net_drift": "Drift of relations [per year]",
    "mean_thaw_duration": "Mean thaw length [months]",
    "reversal_probability": "Thaws reversed by a spike [share]",
    "thaws": "Thaws [count]",
    "backward_forward_ratio": "Backward / forward step size",
    "regime_switches_per_decade": "Stance switches [per decade]",
    "mean_monthly_fatalities": "Fatalities [per month]",
}


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


# ------------------------------------------------------------------------ figures
def field_values(frames, name: str) -> np.ndarray:
    """One row per run, one column per month, of a field of compare.png."""
    if name == "deaths_cumulative":
        return np.vstack([f["deaths_total"].to_numpy(dtype=float).cumsum() for f in frames])
    if name == "refugees_millions":
        return np.vstack([f["refugees_in_pakistan"].to_numpy(dtype=float) / 1e6 for f in frames])
    if name == "pakistan_engaged":
        return np.vstack([(f["pakistan_stance"] == "engage").to_numpy(dtype=float) for f in frames])
    return np.vstack([f[name].to_numpy(dtype=float) for f in frames])


def _time_axis(comparison: Comparison, b_index: int):
    """Dates when both scenarios start the same month, else months from the start."""
    same_start = comparison.configs[0].scenario.start_date == comparison.configs[b_index].scenario.start_date
    if same_start:
        return comparison.frames[0][0]["date"].to_numpy(), None
    return np.arange(comparison.configs[0].n_months), "months from the start"


def plot_pair(comparison: Comparison, b_index: int, path: Path) -> Path:
    """compare.png of arms[0] against arms[b_index]."""
    s: CompareSettings = comparison.settings
    arm_a, arm_b = comparison.arms[0], comparison.arms[b_index]
    frames_a, frames_b = comparison.frames[0], comparison.frames[b_index]
    x, x_label = _time_axis(comparison, b_index)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(2, len(FIELDS), figsize=(5.2 * len(FIELDS), 10.5), sharex=True,
                                 layout="constrained", squeeze=False)
        for col, (name, title, short, kind) in enumerate(FIELDS):
            top, bottom = axes[0, col], axes[1, col]
            values = [field_values(frames_a, name), field_values(frames_b, name)]
            for index, v in zip((0, b_index), values):
                if kind == "share":
                    top.plot(x, v.mean(axis=0), color=colour(index), lw=3)
                else:
                    lo, mid, hi = np.percentile(v, [s.band_low, 50, s.band_high], axis=0)
                    top.fill_between(x, lo, hi, color=colour(index), alpha=0.2, lw=0)
                    top.plot(x, mid, color=colour(index), lw=3)
            if kind == "share":
                top.set_ylim(-0.02, 1.02)
            top.set_title(title)
            mean, lo, hi = monthly_difference(values[0], values[1], s)
            bottom.axhline(0.0, color="0.4", lw=1.5, ls="--")
            bottom.fill_between(x, lo, hi, color=colour(b_index), alpha=0.3, lw=0)
            bottom.plot(x, mean, color=colour(b_index), lw=3)
            bottom.set_title(f"B - A: {short}")
            for ax in (top, bottom):
                ax.grid(alpha=0.3)
                if x_label is None:
                    locator = mdates.AutoDateLocator(minticks=3, maxticks=5)
                    ax.xaxis.set_major_locator(locator)
                    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
                else:
                    bottom.set_xlabel(x_label)
        band = f"{s.band_low:g}-{s.band_high:g}%"
        axes[0, 0].set_ylabel(f"median and {band} of runs")
        axes[1, 0].set_ylabel(f"mean difference, {s.confidence:.0%} interval")
        handles = [
            (Line2D([], [], color=colour(0), lw=3), f"A: {arm_a.label}"),
            (Line2D([], [], color=colour(b_index), lw=3), f"B: {arm_b.label}"),
            (Patch(color=colour(b_index), alpha=0.3), f"B - A, {'other' if comparison.independent else 'same'} seeds"),
        ]
        fig.legend(*zip(*handles), loc="outside lower center", ncol=3, frameon=False)
        crn = "independent seeds" if comparison.independent else "the same seeds (common random numbers)"
        fig.suptitle(f"B against A: {len(comparison.seeds)} runs each on {crn}, "
                     f"{comparison.configs[0].n_months} months from {comparison.configs[0].scenario.start_date}")
        return _save(fig, path)


def plot_forest(comparison: Comparison, path: Path) -> Path:
    """forest.png: each B's effect against A with its interval, one panel per metric."""
    s = comparison.settings
    metrics = list(s.forest_metrics)
    ncols = math.ceil(len(metrics) / 2) if len(metrics) > 3 else len(metrics)
    nrows = math.ceil(len(metrics) / ncols)
    n_b = len(comparison.arms) - 1
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 1.2 + nrows * (1.4 + 0.7 * n_b)),
                                 sharey=True, layout="constrained", squeeze=False)
        for ax, metric in zip(axes.flat, metrics):
            ax.axvline(0.0, color="0.4", lw=1.5, ls="--")
            for row, table in enumerate(comparison.effects):
                r = table.set_index("metric").loc[metric]
                if not math.isfinite(r["effect"]):
                    continue
                err = [[r["effect"] - r["low"]], [r["high"] - r["effect"]]] if math.isfinite(r["low"]) else None
                ax.errorbar(r["effect"], row, xerr=err, fmt="o", color=colour(row + 1), ms=12, lw=3, capsize=7,
                            mfc=colour(row + 1) if r["sign_clear"] else "white", mew=3)
            ax.set_title(METRIC_LABELS.get(metric, metric))
            ax.grid(axis="x", alpha=0.3)
            ax.xaxis.set_major_formatter(_large_number_formatter(max(abs(v) for v in ax.get_xlim())))
        for ax in list(axes.flat)[len(metrics):]:
            ax.set_visible(False)
        labels = [a.label for a in comparison.arms[1:]]
        for ax in axes[:, 0]:
            ax.set_yticks(range(n_b), labels)
        axes[0, 0].set_ylim(n_b - 0.5, -0.5)  # first scenario on top
        crn = "independent seeds" if comparison.independent else "same seeds"
        fig.suptitle(f"Effect against {comparison.arms[0].label} (B - A, {len(comparison.seeds)} {crn}, "
                     f"{s.confidence:.0%} intervals; hollow: the interval straddles zero)")
        return _save(fig, path)


def _large_number_formatter(largest: float) -> FuncFormatter:
    """Tick labels as 1.5M or 250k for large numbers (no offset text a projector loses)."""
    if largest >= 1e6:
        return FuncFormatter(lambda v, _: f"{v / 1e6:g}M")
    if largest >= 1e4:
        return FuncFormatter(lambda v, _: f"{v / 1e3:g}k")
    return FuncFormatter(lambda v, _: f"{v:g}")


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------- CLI
class OneLineParser(argparse.ArgumentParser):
    """argparse that reports bad input as one ``error: <field>: ...`` line (exit 2)."""

    def error(self, message: str):
        message = re.sub(r"^argument (--)?([\w-]+)(/[\w-]+)?: ", lambda m: f"{m.group(2)}: ", message)
        print(f"error: {' '.join(message.split())}", file=sys.stderr)
        raise SystemExit(2)


def split_items(items: list[str]) -> tuple[list[str], list[str]]:
    """Scenarios (NAME, NAME+key=value) and overrides for all (key=value) from the positional words."""
    scenarios, overrides = [], []
    for item in items:
        head = item.split("=", 1)[0]
        (overrides if "=" in item and "+" not in head else scenarios).append(item)
    return scenarios, overrides


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def print_pair(comparison: Comparison, b_index: int, folder: Path, metrics: list[str]) -> None:
    table = comparison.effects[b_index - 1].set_index("metric")
    level = f"{comparison.settings.confidence:.0%}"
    print(f"{comparison.arms[b_index].label} against {comparison.arms[0].label} -> {folder}")
    print(f"  {'metric':<26}{'A mean':>12}{'B mean':>12}{'B - A':>12}   {level} interval")
    for metric in metrics:
        r = table.loc[metric]
        flag = "" if r["sign_clear"] else "   straddles zero"
        print(f"  {metric:<26}{_fmt(r['a_mean']):>12}{_fmt(r['b_mean']):>12}{_fmt(r['effect']):>12}"
              f"   [{_fmt(r['low'])}, {_fmt(r['high'])}]{flag}")
    for metric, r in table.iterrows():
        if r["note"] and metric in metrics:
            print(f"  note, {metric}: {r['note']}")


def main(argv: list[str] | None = None) -> int:
    ap = OneLineParser(prog="python -m experiments.compare", description=__doc__.split("\n\n")[0])
    ap.add_argument("items", nargs="+", metavar="SCENARIO|key=value",
                    help="scenarios (NAME or NAME+key=value+...), the first is the reference; key=value applies to all")
    ap.add_argument("--seeds", type=int, default=None, help="seeds per scenario, 0..N-1 (default in configs/compare)")
    ap.add_argument("--months", type=int, default=None, help="months to run (default: the scenarios' own)")
    ap.add_argument("--jobs", type=int, default=1, help="parallel processes (default 1; -1 every core)")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default in configs/compare)")
    ap.add_argument("--independent", action="store_true",
                    help="give B other seeds than A (no common random numbers), to see what pairing buys")
    args = ap.parse_intermixed_args(argv)  # options may come between the scenarios and key=value words
    plt.switch_backend("Agg")  # files only, no window

    def work() -> None:
        settings = load_settings()
        scenarios, overrides = split_items(args.items)
        out = args.out if args.out is not None else ROOT / settings.out
        comparison = compare_many(scenarios, args.seeds, args.months, overrides, independent=args.independent,
                                  jobs=args.jobs, cache_dir=out / "runs", progress=True, settings=settings)
        write_tables(comparison, out)
        print(f"{comparison.ran} runs done, {comparison.reused} reused from {out / 'runs'}")
        shown = list(dict.fromkeys(["share_engaged", *settings.forest_metrics]))
        for i in range(1, len(comparison.arms)):
            folder = pair_folder(out, comparison.arms[0], comparison.arms[i], comparison.independent)
            plot_pair(comparison, i, folder / "compare.png")
            print_pair(comparison, i, folder, shown)
        if len(comparison.arms) > 2:
            folder = group_folder(out, comparison.arms, comparison.independent)
            plot_forest(comparison, folder / "forest.png")
            print(f"summary of all comparisons: {folder / 'summary.csv'}, {folder / 'forest.png'}")

    return exit_code(work)


if __name__ == "__main__":
    sys.exit(main())
