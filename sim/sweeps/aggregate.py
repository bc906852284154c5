"""`python -m sim.aggregate FOLDER`: a sweep's folder -> one tidy table and its figures.

A sweep (`python -m sim -m ...`, sim/sweeps/sweep.py) leaves one Parquet file per parameter
point in ``FOLDER/points/``. This command reads them into one table and draws what it
shows:

- ``FOLDER/sweep_table.parquet``: one row per run (point x seed). Columns: ``point``
  (the point's id), one column per swept parameter named by its config path (e.g.
  ``pakistan.tolerance``), ``base_seed``, ``replicate``, ``seed``, ``status`` (``ok`` or
  ``failed``), ``error`` (the failed run's error, else empty), every pattern metric of
  sim/analysis/metrics.py (NaN where undefined or failed). Rows are sorted by the
  parameters and the seed, so two sweeps of the same points give identical tables
  whichever launcher ran them, batched or not.
- ``FOLDER/figures/<metric>.png`` for each key metric: over the two swept axes, the
  mean across seeds (left; a phase diagram, with a dashed contour where the metric
  crosses a meaningful boundary, e.g. backward/forward ratio = 1) and the spread,
  the standard deviation across seeds (right). One swept axis gives a line with a
  mean +/- one standard deviation band. ``FOLDER/figures/overview.png`` shows the means
  of all key metrics side by side.

Before anything is written, every point file is checked against the sweep's design
records (``.sweep/designs/``, sim/sweeps/design.py): a damaged file (unreadable, a column
missing, seeds that are not whole numbers, a status other than ok/failed, a metric that
is not a number, rows that name another point) is moved to ``points/damaged/`` and named
with the exact command that runs its point again; points of the design without results
are reported with the command that runs them; files no design of the current code lists
are left out and counted; a design record that cannot be read is named. The table of an
earlier aggregation is removed first and the new one written atomically, so a failure
never leaves a stale table; with nothing usable, a ``multirun.yaml`` that cannot be read
(for the figures) or a table that cannot be written the command stops with one line and
exit code 2 (``--strict``: exit code 1 for a damaged file or design record or a missing
point).

Statistics per point use its runs with status ``ok`` for which the metric is defined
(e.g. the reversal probability is undefined for a run with no ended thaw); each cell
says how many runs that was when fewer than all. Failed runs are left out and counted
in the figure's subtitle. Axes and their labels come from the experiment config
(``experiment.axes``, read from ``FOLDER/multirun.yaml``), else from the swept
parameters and the comments of their config files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from sim.analysis.metrics import METRIC_NAMES
from sim.sweeps.figures import DEFAULT_METRICS, _fmt, choose_axes, plot_metric, plot_overview, read_experiment
from sim.sweeps.files import POINTS_DIR, STATUS_OK
from sim.sweeps.table import (TABLE_NAME, AggregateError, Collected, collect, gap_lines, load_table, nothing_usable,
                              param_columns, set_aside, write_table)

# The table's reading functions stay importable from here, where scripts have found them.
__all__ = ["TABLE_NAME", "AggregateError", "aggregate", "aggregate_folder", "collect", "load_table", "main"]

FIGURES_DIR = "figures"


# ---------------------------------------------------------------------------- the command
def aggregate(folder: str | Path, metrics: list[str] | None = None, axes: list[str] | None = None,
              figures: bool = True) -> dict[str, Path]:
    """Write the table and figures of a sweep folder; return the paths written."""
    return aggregate_folder(folder, metrics, axes, figures)[0]


def aggregate_folder(folder: str | Path, metrics: list[str] | None = None, axes: list[str] | None = None,
                     figures: bool = True) -> tuple[dict[str, Path], list[str], Collected]:
    """The command's work: the paths written, the lines on damaged, missing and left-out
    points, and what the folder holds. A table from an earlier aggregation is removed
    first, so a failure never leaves a stale table in place."""
    folder = Path(folder)
    if folder.name == POINTS_DIR:
        folder = folder.parent
    if not folder.is_dir():
        raise AggregateError(f"{folder}: no such folder")
    unknown = [m for m in metrics or [] if m not in METRIC_NAMES]
    if unknown:
        raise AggregateError(f"--metrics: unknown metric {unknown[0]!r}; allowed: {', '.join(METRIC_NAMES)}")
    experiment = read_experiment(folder) if figures else {}  # (checked before anything is written)
    (folder / TABLE_NAME).unlink(missing_ok=True)
    got = collect(folder)
    notes = set_aside(folder, got) + gap_lines(folder, got)
    if got.table is None:
        raise AggregateError(nothing_usable(folder, got))
    table = got.table
    if figures:  # the figures' choices are checked before the table is written: an error leaves nothing
        chosen = choose_axes(table, experiment, axes)
        metrics = list(metrics or experiment.get("metrics") or DEFAULT_METRICS)
        unknown = [m for m in metrics if m not in METRIC_NAMES]
        if unknown:
            raise AggregateError(f"experiment.metrics: unknown metric {unknown[0]!r}; allowed: "
                                 f"{', '.join(METRIC_NAMES)}")
    paths = {"table": write_table(table, folder / TABLE_NAME)}
    if not figures or not chosen:
        return paths, notes, got
    out = folder / FIGURES_DIR
    out.mkdir(exist_ok=True)
    title = experiment.get("title", "")
    for metric in metrics:
        paths[metric] = out / f"{metric}.png"
        plot_metric(table, metric, chosen, title).savefig(paths[metric], dpi=110)
    if len(chosen) >= 2:
        paths["overview"] = out / "overview.png"
        plot_overview(table, metrics, chosen, title).savefig(paths["overview"], dpi=90)
    return paths, notes, got


def summary_lines(table: pd.DataFrame) -> list[str]:
    params = param_columns(table)
    failed = table[table["status"] != STATUS_OK]
    lines = [f"{table['point'].nunique()} points x seeds = {len(table)} runs ({len(failed)} failed); "
             f"parameters: {', '.join(f'{p} ({table[p].nunique()} values)' for p in params) or 'none'}"]
    for _, r in failed.head(10).iterrows():
        lines.append(f"  failed: {', '.join(f'{p}={_fmt(r[p])}' for p in params)} seed {r['seed']}: {r['error']}")
    if len(failed) > 10:
        lines.append(f"  ... and {len(failed) - 10} more failed runs (column 'error' of the table)")
    return lines


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments get the one line every command of the project gives (``--help`` shows the usage)."""

    def error(self, message: str):
        print(f"error: {message} (python -m sim.aggregate --help)", file=sys.stderr)
        sys.exit(2)


def main(argv: list[str] | None = None) -> int:
    ap = OneLineParser(prog="python -m sim.aggregate",
                       description="Turn a sweep folder into one table (Parquet) and figures.")
    ap.add_argument("folder", help="the sweep's folder (hydra.sweep.dir), e.g. results/sweeps/tolerance_x_mediation")
    ap.add_argument("--metrics", help="comma-separated metrics to draw (default: the experiment's, or a standard set)")
    ap.add_argument("--axes", help="comma-separated swept parameters to draw as x,y (default: the experiment's axes)")
    ap.add_argument("--no-figures", action="store_true", help="write the table only")
    ap.add_argument("--strict", action="store_true",
                    help="exit with code 1 when a point file or a design record is damaged or a point of the design "
                         "has no results")
    args = ap.parse_args(argv)
    try:
        paths, notes, got = aggregate_folder(args.folder, args.metrics.split(",") if args.metrics else None,
                                             args.axes.split(",") if args.axes else None,
                                             figures=not args.no_figures)
    except AggregateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a table or figure that cannot be written (a folder in its place, no permission)
        print(f"error: {exc.filename or args.folder}: cannot write or replace it ({exc.strerror or exc})",
              file=sys.stderr)
        return 2
    for note in notes:
        print(f"warning: {note}" if not note.startswith("  ") else note, file=sys.stderr)
    for line in summary_lines(got.table):
        print(line)
    if got.missing:
        print(f"Incomplete: {len(got.missing)} of {len(got.expected)} points of the sweep's design lack results "
              f"(see the warnings above).")
    print(f"Table:   {paths['table']}")
    figs = [p for k, p in paths.items() if k != "table"]
    if figs:
        print(f"Figures: {figs[0].parent}/ ({', '.join(p.name for p in figs)})")
    return 1 if args.strict and (got.damaged or got.missing or got.bad_designs) else 0


if __name__ == "__main__":
    sys.exit(main())
