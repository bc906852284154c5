"""Where a sweep keeps its results: one Parquet file per point, written atomically.

``<sweep dir>/points/<point id>.parquet`` holds one row per run of the point (columns:
``point``, the swept parameters, ``base_seed``, ``replicate``, ``seed``, ``status``,
``error``, every pattern metric); ``<point id>.lock`` is the claim of the process
running it (sim/sweeps/claims.py). This module is light (no model import): the
launching process and ``python -m sim.aggregate`` use it too.
"""

from __future__ import annotations

import os
from pathlib import Path

POINTS_DIR = "points"          # sub-folder of the sweep folder holding one Parquet file per point
POINT_SUFFIX = ".parquet"
LOCK_SUFFIX = ".lock"
RUNS_DIR = "runs"              # sub-folder of each run's own files when sweep.keep_runs is true
DAMAGED_DIR = "damaged"        # sub-folder of points/ where damaged point files are moved aside
RUN_COLUMNS = ("point", "base_seed", "replicate", "seed", "status", "error")
STATUS_OK, STATUS_FAILED = "ok", "failed"


def points_dir(sweep_dir: str | Path) -> Path:
    return Path(sweep_dir) / POINTS_DIR


def point_path(sweep_dir: str | Path, point: str) -> Path:
    return points_dir(sweep_dir) / f"{point}{POINT_SUFFIX}"


def lock_path(sweep_dir: str | Path, point: str) -> Path:
    return points_dir(sweep_dir) / f"{point}{LOCK_SUFFIX}"


def write_parquet_atomic(frame, path: Path, die_mid_write: bool = False) -> None:
    """Write ``frame`` to ``path`` via a temporary file in the same folder and a rename.

    ``die_mid_write`` (testing aid ``sweep.exit_in_job``) leaves a half-written temporary
    file and ends the process at once, as a kill would.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.to_parquet(tmp, index=False)
    if die_mid_write:
        with open(tmp, "r+b") as fh:
            fh.truncate(tmp.stat().st_size // 2)
        os._exit(3)
    os.replace(tmp, path)


def read_point(path: Path):
    """A point file as a DataFrame, or None if it is missing, unreadable or lacks the run columns."""
    import pandas as pd

    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError):
        return None
    if any(c not in frame.columns for c in RUN_COLUMNS):
        return None
    return frame


def done_seeds(frame, retry_failed: bool) -> set[int]:
    """Seeds a point file holds that need no new run."""
    if frame is None or not len(frame):
        return set()
    keep = frame if not retry_failed else frame[frame["status"] == STATUS_OK]
    return {int(s) for s in keep["seed"]}
