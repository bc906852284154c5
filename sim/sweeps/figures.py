"""The sweep's figures: one metric's mean and spread across seeds over the swept axes.

Statistics per point use its runs with status ``ok`` for which the metric is defined
(e.g. the reversal probability is undefined for a run with no ended thaw); each cell
says how many runs that was when fewer than all. Failed runs are left out and counted
in the figure's subtitle. Axes and their labels come from the experiment config
(``experiment.axes``, read from the sweep's ``multirun.yaml``), else from the swept
parameters and the comments of their config files.
"""

from __future__ import annotations

import math
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.config import CONFIG_DIR
from sim.sweeps.files import STATUS_OK
from sim.sweeps.table import AggregateError, param_columns

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

    Comments read ``name: value   # meaning (unit)`` or ``(unit; range)``: the axis keeps the unit,
    the text before the first semicolon; a parameter not found gets its path.
    """
    parts = key.split(".")
    path = CONFIG_DIR / parts[0] / "default.yaml"
    comment = _yaml_comment(path, parts[1:]) if len(parts) > 1 and path.is_file() else None
    if key == "seed":
        return Axis("base_seed", "Base seed", "")
    if not comment:
        return Axis(key, key, "")
    unit_match = re.search(r"\(([^()]*)\)\s*$", comment)
    unit = unit_match.group(1).split(";")[0].strip() if unit_match else ""
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
