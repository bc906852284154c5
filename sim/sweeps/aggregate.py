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
import dataclasses
import math
import os
import re
import shlex
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.config import CONFIG_DIR
from sim.analysis.metrics import METRIC_NAMES
from sim.sweeps.design import Design, Expected, expected_points, read_designs
from sim.sweeps.design import designs_dir
from sim.sweeps.files import DAMAGED_DIR, POINT_SUFFIX, POINTS_DIR, RUN_COLUMNS, STATUS_FAILED, STATUS_OK, points_dir

TABLE_NAME = "sweep_table.parquet"
FIGURES_DIR = "figures"

# Title and unit of each metric (definitions: sim/analysis/metrics.py docstring).
METRIC_INFO: dict[str, tuple[str, str]] = {
    "forward_steps": ("Forward steps (episodes of rising relations)", "count per run"),
    "backward_steps": ("Backward steps (episodes of falling relations)", "count per run"),
    "mean_forward_size": ("Mean size of a forward step", "relations units"),
    "mean_backward_size": ("Mean size of a backward step", "relations units"),
    "backward_forward_ratio": ("Backward / forward step size", "ratio; 2 = 'one step forward, two back'"),
    "thaws": ("Thaws (Pakistan engaged for k+ months)", "count per run"),
    "mean_thaw_duration": ("Mean thaw duration", "months"),
    "reversal_probability": ("Probability a thaw is reversed after a violence spike", "probability"),
    "net_drift": ("Net drift of relations", "relations units per year"),
    "share_engaged": ("Share of months Pakistan engaged", "fraction of months"),
    "share_hostile": ("Share of months of mutual pressure", "fraction of months"),
    "regime_switches_per_decade": ("Pakistani stance switches", "switches per decade"),
    "spoiler_xcorr_lag": ("Lag of the strongest engagement -> attacks correlation", "months"),
    "spoiler_xcorr_max": ("Spoiler signal: engagement -> later attacks correlation", "correlation, -1..1"),
    "dominant_period_months": ("Dominant oscillation period of relations", "months"),
    "mean_monthly_fatalities": ("Mean monthly fatalities (all victims)", "fatalities per month"),
}

# Levels where a metric changes meaning, drawn as a dashed contour on the mean panel.
BOUNDARIES: dict[str, tuple[float, str]] = {
    "backward_forward_ratio": (1.0, "setbacks as big as gains (ratio 1)"),
    "reversal_probability": (0.5, "thaws reversed as often as not (0.5)"),
    "share_engaged": (0.5, "engaged half the time (0.5)"),
    "net_drift": (0.0, "no drift (0)"),
    "spoiler_xcorr_max": (0.0, "no spoiler signal (0)"),
}

# Key metrics drawn when the experiment names none.
DEFAULT_METRICS = ("backward_forward_ratio", "reversal_probability", "share_engaged",
                   "mean_thaw_duration", "regime_switches_per_decade", "net_drift")


class AggregateError(ValueError):
    """A folder that cannot be aggregated; the message is one line."""


# --------------------------------------------------------------------------- the table
MAX_LISTED = 10           # damaged or missing points named one by one; the rest are counted


@dataclass
class Collected:
    """What a sweep folder holds: the usable runs, and what is wrong or missing."""

    table: pd.DataFrame | None          # every usable run, or None when there is none
    damaged: list[tuple[Path, str]]     # point files that cannot be used, and why
    left_out: list[Path]                # readable point files no design of the current code lists
    missing: dict[str, list[int]]       # design points (ids) with seeds that have no row
    expected: dict[str, Expected]       # the designs' points (empty: no design recorded)
    newest: Design | None               # the newest design record
    bad_designs: list[Path] = dataclasses.field(default_factory=list)  # design records that cannot be read


WHOLE_COLUMNS = ("base_seed", "replicate", "seed")  # whole numbers in every row of a point file
STATUSES = (STATUS_OK, STATUS_FAILED)


def _check_file(path: Path, every_metric: bool = True) -> tuple[pd.DataFrame | None, str]:
    """A point file's rows, or None and what is wrong with it (a file edited or written by other
    code: a column of the wrong kind would otherwise stop the whole table, or pass as data).

    ``every_metric``: the file must hold every metric of the current code (a file of the sweep's
    design); a file of a sweep with no recorded design may come from older code with fewer."""
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any reader error makes the file unusable
        return None, f"unreadable ({' '.join(str(exc).split())[:120]})"
    needed = (*RUN_COLUMNS, *METRIC_NAMES) if every_metric else RUN_COLUMNS
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        return None, f"no column {missing[0]!r}"
    if len(frame) == 0:
        return None, "no rows"
    for col in WHOLE_COLUMNS:
        values = frame[col]
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values) \
                or values.isna().any() or (values.astype(float) % 1 != 0).any():
            return None, f"column {col!r} holds {_text(values.iloc[0])}; allowed whole numbers in every row"
    bad_status = ~frame["status"].isin(STATUSES)
    if bad_status.any():
        return None, f"status {_text(frame['status'][bad_status].iloc[0])}; allowed {', '.join(STATUSES)}"
    not_text = [e for e in frame["error"].dropna() if not isinstance(e, str)]
    if not_text:
        return None, f"column 'error' holds {_text(not_text[0])}; allowed a text or nothing"
    for col in (m for m in METRIC_NAMES if m in frame.columns):
        if not pd.api.types.is_numeric_dtype(frame[col]) or pd.api.types.is_bool_dtype(frame[col]):
            return None, f"column {col!r} holds {_text(frame[col].iloc[0])}; allowed numbers (NaN where undefined)"
    if (frame["point"].astype(str) != path.stem).any():
        return None, f"holds point {frame['point'].iloc[0]!r}, not {path.stem!r} (copied or renamed by hand)"
    if frame["seed"].duplicated().any():
        return None, f"holds seed {int(frame.loc[frame['seed'].duplicated(), 'seed'].iloc[0])} twice"
    return frame, ""


def _text(value: Any) -> str:
    """A cell as a message shows it (a numpy scalar as the plain number)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def collect(folder: str | Path) -> Collected:
    """Read a sweep folder's point files against its recorded designs (nothing is changed)."""
    folder = Path(folder)
    if folder.name == POINTS_DIR:
        folder = folder.parent
    if not folder.is_dir():
        raise AggregateError(f"{folder}: no such folder")
    pts = points_dir(folder)
    files = sorted(p for p in pts.glob(f"*{POINT_SUFFIX}") if not p.name.startswith(".")) if pts.is_dir() else []
    designs = read_designs(folder)
    expected, newest = expected_points(designs)
    readable = {d.invocation for d in designs}
    bad_designs = [p for p in sorted(designs_dir(folder).glob("*.json")) if p.stem not in readable]
    frames, damaged, left_out = [], [], []
    for path in files:
        if expected and path.stem not in expected and _check_file(path, every_metric=False)[0] is not None:
            left_out.append(path)  # (readable, made by other code: left in place, not judged by today's metrics)
            continue
        frame, why = _check_file(path, every_metric=bool(expected))
        if frame is None:
            damaged.append((path, why))
        else:
            frames.append(frame)
    table = _tidy(pd.concat(frames, ignore_index=True)) if frames else None
    have: dict[str, set[int]] = {}
    if table is not None:
        for point, seeds in table.groupby("point")["seed"]:
            have[str(point)] = {int(s) for s in seeds}
    missing = {pid: sorted(e.seeds - have.get(pid, set())) for pid, e in expected.items()
               if e.seeds - have.get(pid, set())}
    return Collected(table, damaged, left_out, missing, expected, newest, bad_designs)


def _tidy(table: pd.DataFrame) -> pd.DataFrame:
    params = param_columns(table)
    for col in params:  # values of several kinds in one column (params_draw=best,3): as texts, so the
        values = table[col].dropna()  # table can be sorted and written; a column of one kind is kept as it is
        if len({type(v) for v in values}) > 1 and not pd.api.types.is_numeric_dtype(table[col]):
            table[col] = table[col].map(lambda v: v if v is None or (isinstance(v, float) and math.isnan(v))
                                        else str(v))
    metrics = [m for m in METRIC_NAMES if m in table]
    rest = [c for c in table.columns if c not in {"point", *params, *RUN_COLUMNS, *metrics}]
    table = table[["point", *params, *[c for c in RUN_COLUMNS if c != "point"], *metrics, *rest]]
    return table.sort_values([*params, "seed", "point"], kind="stable").reset_index(drop=True)


def load_table(folder: str | Path) -> pd.DataFrame:
    """All usable runs of a sweep folder (or of its ``points/`` folder) as one tidy table.

    Damaged point files and files no design of the current code lists are left out (the
    command ``python -m sim.aggregate`` names them); raises ``AggregateError`` when no
    usable run is left.
    """
    got = collect(folder)
    if got.table is None:
        raise AggregateError(nothing_usable(Path(folder), got))
    return got.table


def nothing_usable(folder: Path, got: Collected) -> str:
    pts = points_dir(folder.parent if folder.name == POINTS_DIR else folder)
    found = []
    if got.damaged:
        found.append(f"{len(got.damaged)} damaged")
    if got.left_out:
        found.append(f"{len(got.left_out)} made by other code or not in the sweep's design")
    what = f" ({', '.join(found)})" if found else ""
    if got.newest is not None:
        return f"{folder}: no usable sweep points{what}; re-run the sweep: {got.newest.command}"
    return (f"{folder}: no finished sweep points{what} (expected {pts}/*{POINT_SUFFIX}); "
            f"run a sweep with python -m sim -m ... hydra.sweep.dir={folder}")


def redo_command(folder: Path, got: Collected, point: str) -> str:
    """The command that runs one point (of the designs) again into the folder."""
    entry = got.expected.get(point)
    if entry is None:  # not in a recorded design: the sweep's own command redoes whatever is missing
        return got.newest.command if got.newest else f"the sweep's command (python -m sim -m ... hydra.sweep.dir={folder})"
    return shlex.join(["python", "-m", "sim", "-m", *entry.blocks[0].overrides, f"hydra.sweep.dir={folder}"])


def set_aside(folder: Path, got: Collected) -> list[str]:
    """Move damaged point files to ``points/damaged/``; return a line for each (with the redo command)."""
    lines = []
    aside = points_dir(folder) / DAMAGED_DIR
    for k, (path, why) in enumerate(got.damaged):
        aside.mkdir(exist_ok=True)
        target = aside / path.name
        os.replace(path, target)
        if k < MAX_LISTED:
            lines.append(f"damaged point file {path.name}: {why}; moved to {target}; redo it with: "
                         f"{redo_command(folder, got, path.stem)}")
    if len(got.damaged) > MAX_LISTED:
        lines.append(f"... and {len(got.damaged) - MAX_LISTED} more damaged point files, moved to {aside}")
    return lines


def gap_lines(folder: Path, got: Collected) -> list[str]:
    """Lines on the design's points without results, and on point files left out."""
    lines = []
    if got.missing:
        runs = sum(len(s) for s in got.missing.values())
        lines.append(f"missing: {len(got.missing)} of {len(got.expected)} points of the sweep's design have no "
                     f"results for {runs} runs; re-run the sweep's command to run them (finished points are "
                     f"skipped): {got.newest.command if got.newest else ''}".rstrip())
        for point, seeds in list(got.missing.items())[:MAX_LISTED]:
            lines.append(f"  missing point {point} seeds {_seeds_text(seeds)}: {redo_command(folder, got, point)}")
        if len(got.missing) > MAX_LISTED:
            lines.append(f"  ... and {len(got.missing) - MAX_LISTED} more missing points")
    if got.bad_designs:
        lines.append(f"damaged design record {got.bad_designs[0]} ({len(got.bad_designs)} in all) cannot be read; "
                     f"points it alone lists cannot be checked for missing results")
    if got.left_out:
        lines.append(f"left out: {len(got.left_out)} point files that no design of the current code lists "
                     f"(made by other code, or by a sweep without a recorded design), e.g. {got.left_out[0]}")
    return lines


def _seeds_text(seeds: list[int]) -> str:
    if seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2:
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(map(str, seeds))


def param_columns(table: pd.DataFrame) -> list[str]:
    """The swept-parameter columns of a table (everything that is not a run column or a metric)."""
    fixed = {*RUN_COLUMNS, *METRIC_NAMES, "config_hash"}
    return [c for c in table.columns if c not in fixed]


def write_table(table: pd.DataFrame, path: Path) -> Path:
    """Write the table atomically: a temporary file, then a rename (no half table, ever)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        table.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


# ------------------------------------------------------------------------------ labels
@dataclass
class Axis:
    key: str    # column (config path)
    label: str  # what it is, in words
    unit: str

    @property
    def text(self) -> str:
        """Axis title: label and unit, wrapped to fit beside a small panel."""
        return textwrap.fill(f"{self.label} ({self.unit})" if self.unit else self.label, 42)


def describe_parameter(key: str) -> Axis:
    """Label and unit of a parameter from the comment beside it in its config file.

    Comments read ``name: value   # meaning (unit)``; a parameter not found gets its path.
    """
    parts = key.split(".")
    path = CONFIG_DIR / parts[0] / "default.yaml"
    comment = _yaml_comment(path, parts[1:]) if len(parts) > 1 and path.is_file() else None
    if key == "seed":
        return Axis("base_seed", "Base seed", "")
    if not comment:
        return Axis(key, key, "")
    unit_match = re.search(r"\(([^()]*)\)\s*$", comment)
    unit = unit_match.group(1) if unit_match else ""
    label = comment[: unit_match.start()].strip() if unit_match else comment
    return Axis(key, f"{key}: {label}" if label else key, unit)


def _yaml_comment(path: Path, parts: list[str]) -> str | None:
    """The trailing comment of the line that sets ``parts`` (a nested key) in a YAML file."""
    stack: list[tuple[int, str]] = []
    for line in path.read_text().splitlines():
        m = re.match(r"^(\s*)([\w-]+):(.*)$", line)
        if not m:
            continue
        indent, name, rest = len(m.group(1)), m.group(2), m.group(3)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, name))
        if [n for _, n in stack] == parts and "#" in rest:
            return rest.split("#", 1)[1].strip()
    return None


def read_experiment(folder: Path) -> dict[str, Any]:
    """The ``experiment`` node of the sweep's ``multirun.yaml`` (empty for ad-hoc sweeps).

    Checked for what the figures read (``title``, ``axes``, ``metrics``); a file that cannot
    be read or holds them in another form raises ``AggregateError`` with one line.
    """
    import yaml
    from omegaconf import OmegaConf

    path = folder / "multirun.yaml"
    if not path.is_file():
        return {}
    try:
        data = OmegaConf.load(path)
        node = data.get("experiment") if OmegaConf.is_dict(data) else None
        experiment = OmegaConf.to_container(node, resolve=False) if OmegaConf.is_config(node) else node
    except (OSError, ValueError, yaml.YAMLError) as exc:  # (OmegaConf's errors are ValueErrors)
        raise AggregateError(f"{path}: cannot read it ({' '.join(str(exc).split())[:120]}); restore it or "
                             f"draw the table only with --no-figures") from None
    return _check_experiment(path, experiment)


def _check_experiment(path: Path, experiment: Any) -> dict[str, Any]:
    if experiment is None:
        return {}
    where = f"{path}: experiment"
    if not isinstance(experiment, dict):
        raise AggregateError(f"{where}: {experiment!r} is not a mapping; allowed: name, title, axes, metrics")
    if not isinstance(experiment.get("title", ""), str):
        raise AggregateError(f"{where}.title: {experiment['title']!r} is not a text")
    for name in ("axes", "metrics"):
        if not isinstance(experiment.get(name) or [], list):
            raise AggregateError(f"{where}.{name}: {experiment[name]!r} is not a list")
    for k, axis in enumerate(experiment.get("axes") or []):
        if not isinstance(axis, dict) or not isinstance(axis.get("key"), str):
            raise AggregateError(f"{where}.axes[{k}]: {axis!r} is not a mapping with key, label, unit")
    for k, metric in enumerate(experiment.get("metrics") or []):
        if not isinstance(metric, str):
            raise AggregateError(f"{where}.metrics[{k}]: {metric!r} is not a metric name")
    return experiment


def choose_axes(table: pd.DataFrame, experiment: dict[str, Any], wanted: list[str] | None = None) -> list[Axis]:
    """The swept axes to draw: ``wanted``, else the experiment's axes, else the varying parameters."""
    declared = {a["key"]: Axis(a["key"], a.get("label", a["key"]), a.get("unit", ""))
                for a in experiment.get("axes", []) or []}
    params = param_columns(table)
    varying = [c for c in params if table[c].nunique(dropna=False) > 1]
    if wanted:
        drawable = [*params, "base_seed"]
        missing = [k for k in wanted if k not in drawable]
        if missing:
            raise AggregateError(f"--axes: {missing[0]!r} is not a swept parameter of the table; allowed: "
                                 f"{', '.join(varying or params)}")
        twice = [k for i, k in enumerate(wanted) if k in wanted[:i]]
        if twice:
            raise AggregateError(f"--axes: {twice[0]} is given twice; give each axis once (x,y)")
        keys = wanted
    else:
        keys = [k for k in declared if k in varying] or varying
    return [declared.get(k) or describe_parameter(k) for k in keys]


# ---------------------------------------------------------------------------- statistics
@dataclass
class Grid:
    """Statistics of one metric per cell of two swept axes (rows = y values, columns = x values)."""

    xs: list
    ys: list
    mean: np.ndarray
    std: np.ndarray
    n: np.ndarray       # runs with the metric defined
    runs: np.ndarray    # runs with status ok


def grid(table: pd.DataFrame, x: str, y: str | None, metric: str) -> Grid:
    """Mean and spread (sample standard deviation, ddof=1) across seeds of ``metric`` per cell.

    Only runs with status ok count; a metric that is NaN for a run (undefined) is left
    out of that cell's statistics. A cell with no defined value has mean NaN; one with a
    single value has spread NaN. ``y=None`` gives a single row (one swept axis).
    """
    ok = table[table["status"] == STATUS_OK]
    xs = sorted(table[x].dropna().unique().tolist())
    ys = sorted(table[y].dropna().unique().tolist()) if y else [None]
    shape = (len(ys), len(xs))
    mean, std = np.full(shape, np.nan), np.full(shape, np.nan)
    n, runs = np.zeros(shape, dtype=int), np.zeros(shape, dtype=int)
    for (i, yv), (j, xv) in ((iy, jx) for iy in enumerate(ys) for jx in enumerate(xs)):
        mask = ok[x] == xv
        if y:
            mask &= ok[y] == yv
        cell = ok[mask]
        values = cell[metric].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        runs[i, j], n[i, j] = len(cell), values.size
        if values.size:
            mean[i, j] = values.mean()
        if values.size > 1:
            std[i, j] = values.std(ddof=1)
    return Grid(xs, ys, mean, std, n, runs)


# ------------------------------------------------------------------------------ figures
def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _heatmap(fig: Figure, ax, data: np.ndarray, g: Grid, xa: Axis, ya: Axis, cmap: str, cbar_label: str,
             boundary: tuple[float, str] | None = None) -> None:
    masked = np.ma.masked_invalid(data)
    cm = matplotlib.colormaps[cmap].with_extremes(bad="#d9d9d9")  # grey: undefined in every run
    im = ax.imshow(masked, origin="lower", aspect="auto", cmap=cm, interpolation="nearest")
    cbar = fig.colorbar(im, ax=ax)
    cbar.set_label(textwrap.fill(cbar_label, 40))
    ax.set_xticks(range(len(g.xs)), [_fmt(v) for v in g.xs])
    ax.set_yticks(range(len(g.ys)), [_fmt(v) for v in g.ys])
    ax.set_xlabel(xa.text)
    ax.set_ylabel(ya.text)
    finite = data[np.isfinite(data)]
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            v = data[i, j]
            text = "n/a" if not np.isfinite(v) else f"{v:.3g}"
            if 0 < g.n[i, j] < g.runs[i, j]:
                text += f"\n(n={g.n[i, j]})"
            r, gr, b, _ = cm(im.norm(v)) if np.isfinite(v) else (1, 1, 1, 1)
            dark = 0.299 * r + 0.587 * gr + 0.114 * b < 0.5  # perceived brightness of the cell
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black")
    if boundary is not None and min(data.shape) > 1 and finite.size:
        level, what = boundary
        if finite.min() < level < finite.max():
            filled = np.where(np.isfinite(data), data, np.nanmean(data))
            ax.contour(np.arange(data.shape[1]), np.arange(data.shape[0]), filled, levels=[level],
                       colors="red", linestyles="--", linewidths=1.5)
            ax.plot([], [], "r--", label=f"boundary: {what}")
            ax.legend(loc="upper left", bbox_to_anchor=(0, -0.18), fontsize=8, frameon=False)


def plot_metric(table: pd.DataFrame, metric: str, axes: list[Axis], title: str = "") -> Figure:
    """Mean and spread of one metric over the first two swept axes (or one)."""
    name, unit = METRIC_INFO.get(metric, (metric, ""))
    xa = axes[0]
    ya = axes[1] if len(axes) > 1 else None
    g = grid(table, xa.key, ya.key if ya else None, metric)
    seeds = int(table.groupby("point")["seed"].nunique().max())
    failed = int((table["status"] != STATUS_OK).sum())
    notes = [f"{seeds} seeds per point; n = runs where the metric is defined, if fewer; grey = never defined"]
    if failed:
        notes.append(f"{failed} failed runs left out")
    pooled = [a.key for a in axes[2:]]
    if pooled:
        notes.append(f"pooled over {', '.join(pooled)}")
    fig = Figure(figsize=(13, 5.2) if ya else (8, 4.8), layout="constrained")
    fig.suptitle(f"{name}\n{title + ': ' if title else ''}{'; '.join(notes)}", fontsize=11)
    if ya is None:
        ax = fig.add_subplot()
        xs = np.arange(len(g.xs))
        ax.plot(xs, g.mean[0], "o-", label="mean across seeds")
        ax.fill_between(xs, g.mean[0] - g.std[0], g.mean[0] + g.std[0], alpha=0.25,
                        label="mean +/- one standard deviation")
        ax.set_xticks(xs, [_fmt(v) for v in g.xs])
        ax.set_xlabel(xa.text)
        ax.set_ylabel(f"{name} ({unit})")
        if metric in BOUNDARIES:
            level, what = BOUNDARIES[metric]
            ax.axhline(level, color="red", ls="--", lw=1, label=f"boundary: {what}")
        ax.legend(fontsize=8)
        return fig
    left, right = fig.subplots(1, 2)
    left.set_title("Mean across seeds")
    _heatmap(fig, left, g.mean, g, xa, ya, "viridis", f"mean ({unit})", BOUNDARIES.get(metric))
    right.set_title("Spread: standard deviation across seeds")
    _heatmap(fig, right, g.std, g, xa, ya, "Oranges", f"standard deviation ({unit})")
    return fig


def plot_overview(table: pd.DataFrame, metrics: list[str], axes: list[Axis], title: str = "") -> Figure:
    """The mean of every key metric over the two swept axes, side by side."""
    cols = min(3, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    fig = Figure(figsize=(6.2 * cols, 4.8 * rows), layout="constrained")
    fig.suptitle(f"{title or 'Sweep'}: mean across seeds of the key pattern metrics", fontsize=12)
    for k, metric in enumerate(metrics):
        ax = fig.add_subplot(rows, cols, k + 1)
        name, unit = METRIC_INFO.get(metric, (metric, ""))
        g = grid(table, axes[0].key, axes[1].key, metric)
        _heatmap(fig, ax, g.mean, g, axes[0], axes[1], "viridis", unit, BOUNDARIES.get(metric))
        ax.set_title(name, fontsize=9)
    return fig


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
