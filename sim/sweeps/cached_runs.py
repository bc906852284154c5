"""Cached, parallel, resumable runs of (config, seed): the run machinery of comparisons.

Each run's frame (only the columns asked for) is kept as one Parquet file,
``<cache>/<config key>/seed<N>.parquet``. The config key hashes the validated config
(every dataclass value except the seed and the output switches, with the run length
made explicit) together with a fingerprint of what else decides a run: the
``sim/model``, ``sim/agents`` and ``sim/config`` sources, the model's config files
(a run starting today continues the history replay, whose config is not the run's
own) and the Mesa and NumPy versions. So a cached frame is reused only when the same
config would run the same code on the same data. Files are written to a temporary name and renamed, so a killed comparison never
leaves a half file that looks finished; running the same command again skips every
run already on disk. Runs not in the cache go through joblib (``jobs`` processes)
with a tqdm progress bar.

Without a cache folder the runs are simply done (in parallel if asked) and returned.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import mesa
import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from sim.config import CONFIG_DIR, Config
from sim.model.policy_model import PolicyModel

PACKAGE_DIR = Path(__file__).resolve().parents[1]
# Sub-packages whose source decides what a run produces (a change there invalidates the cache).
CODE_DIRS = ("model", "agents", "config")
# Config folders that only steer analyses, never a run: left out of the fingerprint.
ANALYSIS_CONFIG_DIRS = ("compare", "sensitivity", "calibration", "experiment", "sweep", "hydra")
# Parts of the config that change no frame: left out of the key. ``metrics`` only
# changes how a frame is summarised, which is recomputed from the cached frame.
NEUTRAL_FIELDS = ("seed", "output")
NEUTRAL_EXTRAS = ("hydra", "sweep", "experiment", "metrics")
CONFIG_FILE = "config.json"    # the config of a cache folder, for a reader who opens it
PLAIN_LOG_SECONDS = 10.0       # progress lines at most this often when stderr is a log file, not a terminal


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Hash of the run-deciding sources and library versions (computed once a process)."""
    digest = hashlib.sha256(f"mesa {mesa.__version__}; numpy {np.__version__}".encode())
    files = [p for sub in CODE_DIRS for p in sorted((PACKAGE_DIR / sub).rglob("*.py"))]
    files += [p for p in sorted(CONFIG_DIR.rglob("*.yaml"))
              if p.relative_to(CONFIG_DIR).parts[0] not in ANALYSIS_CONFIG_DIRS]
    for path in files:
        digest.update(str(path.relative_to(PACKAGE_DIR.parent)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def config_values(config: Config) -> dict:
    """The config's values that decide a run's frame, as plain data."""
    data = dataclasses.asdict(config)
    for name in NEUTRAL_FIELDS:
        data.pop(name, None)
    data["months"] = config.n_months  # "the scenario's own length" and that length stated are one run
    data["extras"] = {k: v for k, v in data.get("extras", {}).items() if k not in NEUTRAL_EXTRAS}
    return data


def config_key(config: Config) -> str:
    """Stable short hash of a config's run-deciding values and the code fingerprint."""
    text = json.dumps(config_values(config), sort_keys=True, default=str)
    return hashlib.sha256(f"{code_fingerprint()}\n{text}".encode()).hexdigest()[:16]


def run_frame(config: Config, seed: int, columns: Sequence[str]) -> pd.DataFrame:
    """One run of ``config`` with ``seed``, collecting only ``columns``."""
    model = PolicyModel(dataclasses.replace(config, seed=int(seed)), collect=list(columns)).run()
    frame = model.frame()[list(columns)].reset_index(drop=True)
    for name in frame.columns:  # Parquet has no second-resolution dates: one unit, fresh or cached
        if pd.api.types.is_datetime64_any_dtype(frame[name]):
            frame[name] = frame[name].astype("datetime64[ns]")
    return frame


def write_atomic(frame: pd.DataFrame, path: Path) -> None:
    """Write a Parquet file under a temporary name, then rename it: a reader sees all of it or nothing."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def _run_and_store(config: Config, seed: int, columns: tuple[str, ...], path: Path | None) -> pd.DataFrame:
    frame = run_frame(config, seed, columns)
    if path is not None:
        write_atomic(frame, path)
    return frame


def _read_cached(path: Path, columns: tuple[str, ...]) -> pd.DataFrame | None:
    """A cached frame with every column asked for, or None (missing, unreadable or too few columns)."""
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError):
        return None
    if any(c not in frame.columns for c in columns):
        return None
    return frame[list(columns)]


def _write_config_note(folder: Path, config: Config) -> None:
    note = folder / CONFIG_FILE
    if note.exists():
        return
    tmp = note.with_name(f".{note.name}.tmp")
    tmp.write_text(json.dumps(config_values(config), indent=1, sort_keys=True, default=str))
    tmp.replace(note)


class RunFrames(NamedTuple):
    frames: list[pd.DataFrame]  # one per task, in the order of the tasks
    ran: int                    # distinct runs done now
    reused: int                 # distinct runs read from the cache


def run_frames(tasks: Sequence[tuple[Config, int]], columns: Sequence[str], cache_dir: Path | None = None,
               jobs: int = 1, progress: bool | None = None, desc: str = "runs") -> RunFrames:
    """The frames of ``tasks`` (pairs of config and seed), in the order given, and what ran.

    ``cache_dir``: folder of the run cache (None: nothing is read or written).
    ``jobs``: processes for the runs not cached (joblib; 1 runs them in this process).
    ``progress``: show a progress bar (None: only on a terminal).
    A task repeated (the same config and seed twice) runs once.
    """
    columns = tuple(columns)
    keys = [(config_key(config), int(seed)) for config, seed in tasks]
    unique: dict[tuple[str, int], tuple[Config, int]] = {}
    for key, (config, seed) in zip(keys, tasks):
        unique.setdefault(key, (config, int(seed)))
    frames: dict[tuple[str, int], pd.DataFrame] = {}
    paths: dict[tuple[str, int], Path | None] = dict.fromkeys(unique)
    if cache_dir is not None:
        for key, (config, _) in unique.items():
            folder = Path(cache_dir) / key[0]
            folder.mkdir(parents=True, exist_ok=True)
            _write_config_note(folder, config)
            paths[key] = folder / f"seed{key[1]}.parquet"
            cached = _read_cached(paths[key], columns)
            if cached is not None:
                frames[key] = cached
    pending = [key for key in unique if key not in frames]
    if pending:
        work = (delayed(_run_and_store)(*unique[key], columns, paths[key]) for key in pending)
        results = Parallel(n_jobs=jobs, return_as="generator")(work)
        bar = tqdm(results, total=len(pending), desc=desc, unit="run", disable=None if progress is None else not progress,
                   leave=False, mininterval=0.1 if sys.stderr.isatty() else PLAIN_LOG_SECONDS)
        for key, frame in zip(pending, bar):
            frames[key] = frame
    return RunFrames([frames[key] for key in keys], ran=len(pending), reused=len(unique) - len(pending))
