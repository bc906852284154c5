"""The sweep table: a sweep folder's point files, checked against its designs, as one tidy table.

A sweep (``python -m sim -m ...``, sim/sweeps/sweep.py) leaves one Parquet file per parameter
point in ``FOLDER/points/``. ``collect`` reads them against the sweep's design records
(``.sweep/designs/``, sim/sweeps/design.py) without changing anything: a damaged file
(unreadable, a column missing, seeds that are not whole numbers, a status other than
ok/failed, a metric that is not a number, rows that name another point) is named with what
is wrong; points of the design without results and files no design of the current code
lists are reported. ``load_table`` gives the usable runs; ``set_aside`` moves damaged files
to ``points/damaged/`` with the command that runs their point again (``python -m
sim.aggregate``, sim/sweeps/aggregate.py, does both and draws the figures).
"""

from __future__ import annotations

import dataclasses
import math
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.metrics import METRIC_NAMES
from sim.sweeps.design import Design, Expected, designs_dir, expected_points, read_designs
from sim.sweeps.files import DAMAGED_DIR, POINT_SUFFIX, POINTS_DIR, RUN_COLUMNS, STATUS_FAILED, STATUS_OK, points_dir

TABLE_NAME = "sweep_table.parquet"


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
