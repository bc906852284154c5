"""A sweep's progress while its jobs run, and its report at the end (any launcher).

Jobs leave a marker in ``<sweep dir>/.progress/`` for every point they finish (run,
skipped or finished by another process): ``<tag>-<point>-s<base seed>.json``, holding
what the job did. The tag is the invocation's id for the batched sweeper (so sweeps
running at once into one folder count only their own points) and ``solo`` for jobs of
another sweeper (Optuna). A thread of the launching process counts the markers: a tqdm
bar in a terminal, a log line per finished point otherwise (a SLURM log).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from sim.config import ConfigError
from sim.sweeps.grid import expand
from sim.sweeps.files import points_dir

PROGRESS_DIR = ".progress"     # sub-folder of "point done" markers
SOLO_TAG = "solo"              # marker tag of jobs not launched by the batched sweeper
PROGRESS_POLL_SECONDS = 0.5    # how often the progress display looks for finished points (not a model parameter)
MAX_FAILED_LINES = 20          # failed runs listed one by one in the report; the rest are counted


def marker_dir(sweep_dir: str | Path) -> Path:
    return Path(sweep_dir) / PROGRESS_DIR


def marker_path(sweep_dir: str | Path, tag: str, point: str, base_seed: int) -> Path:
    return marker_dir(sweep_dir) / f"{tag}-{point}-s{base_seed}.json"


def mark_done(sweep_dir: str | Path, tag: str, summary: dict[str, Any]) -> None:
    """Leave the marker of a finished point (written atomically)."""
    marks = marker_dir(sweep_dir)
    marks.mkdir(parents=True, exist_ok=True)
    path = marker_path(sweep_dir, tag, summary["point"], summary["base_seed"])
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(summary))
    os.replace(tmp, path)


def read_marks(sweep_dir: str | Path, tag: str, since: float | None = None) -> list[dict[str, Any]]:
    """The summaries of the markers with ``tag`` (written at or after ``since``, a wall-clock time)."""
    out = []
    for path in sorted(marker_dir(sweep_dir).glob(f"{tag}-*.json")):
        try:
            if since is not None and path.stat().st_mtime < since:
                continue
            out.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return out


def clear_marks(sweep_dir: str | Path, tag: str) -> None:
    for path in marker_dir(sweep_dir).glob(f"{tag}-*.json"):
        path.unlink(missing_ok=True)


class Monitor:
    """A thread that counts a sweep's markers with one tag and shows progress."""

    def __init__(self, sweep_dir: str | Path, tag: str, total: int | None) -> None:
        self.marks, self.tag, self.total = marker_dir(sweep_dir), tag, total
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> Monitor:
        self.marks.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _watch(self) -> None:
        from tqdm import tqdm

        tty = sys.stderr.isatty()
        bar = tqdm(total=self.total, unit="point", desc="sweep", file=sys.stderr, disable=not tty)
        seen = 0
        while True:
            stopping = self._stop.wait(PROGRESS_POLL_SECONDS)
            done = sum(1 for _ in self.marks.glob(f"{self.tag}-*.json"))
            if done != seen:
                bar.update(done - seen)
                if not tty:
                    print(f"sweep progress: {done}/{self.total or '?'} points done", file=sys.stderr, flush=True)
                seen = done
            if stopping:
                break
        bar.close()


def report(sweep_dir: str | Path, summaries: list[dict[str, Any]], aggregate_hint: bool = True) -> list[str]:
    """Plain lines on what one invocation of a sweep did: points run, skipped, failed runs."""
    n = len(summaries)
    other = sum(bool(d.get("by_other")) for d in summaries)
    skipped = sum(bool(d["skipped"]) and not d.get("by_other") for d in summaries)
    ok = sum(d["ok"] for d in summaries)
    n_failed = sum(d["failed"] for d in summaries)
    also = f", {other} finished meanwhile by another sweep into this folder" if other else ""
    lines = [f"Sweep finished: {n} point{'s' * (n != 1)} ({n - skipped - other} run, {skipped} already finished and "
             f"skipped{also}); {ok} runs ok, {n_failed} failed. Results: {points_dir(sweep_dir)}/"]
    failed = [(d, e) for d in summaries for e in d["errors"]]
    for d, err in failed[:MAX_FAILED_LINES]:
        lines.append(f"  FAILED point {d['point']} ({' '.join(d['overrides'])}) {err}")
    if len(failed) > MAX_FAILED_LINES:
        lines.append(f"  ... and {len(failed) - MAX_FAILED_LINES} more failed runs (column 'error' of the table)")
    if n_failed:
        lines.append(f"  {n_failed} failed runs are in the table with status 'failed' and their error; "
                     f"re-run with sweep.retry_failed=true to run those points again.")
    if aggregate_hint:
        lines.append(f"Aggregate with: python -m sim.aggregate {sweep_dir}")
    return lines


def is_batched(config: DictConfig) -> bool:
    """Does the batched sweeper (sim/sweeps/sweeper.py) run this multirun? It then reports itself."""
    target = str(OmegaConf.select(config, "hydra.sweeper._target_", default="") or "")
    return target.endswith("BatchedSweeper")


class SweepCallback(Callback):
    """Hydra callback (configs/config.yaml): lean job returns, and progress and a report for
    sweeps whose sweeper is not the batched one (the batched sweeper shows its own)."""

    def __init__(self) -> None:
        self._monitor: Monitor | None = None
        self._start = 0.0

    # Launchers (joblib, Ray, submitit) pickle the callbacks with each job; the watcher
    # thread stays in the launching process.
    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        """Where a sweep's job ran, just before its return goes back to the launching process.

        Launchers keep every job's return until the sweep ends. Without the job's two
        composed configs (about 0.3 MB, unused once the job is done; the point file holds
        its results) the launching process stays the same size however many points there are.
        """
        if OmegaConf.select(config, "hydra.mode") == RunMode.MULTIRUN:
            job_return.cfg = job_return.hydra_cfg = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if is_batched(config):
            return
        sweep_dir = Path(str(config.hydra.sweep.dir))
        clear_marks(sweep_dir, SOLO_TAG)
        self._start = time.time() - 1.0  # (file times may be rounded down to the second)
        params = OmegaConf.select(config, "hydra.sweeper.params") or {}
        lines = [f"{k}={v}" for k, v in params.items()] + [str(t) for t in config.hydra.overrides.task]
        total = OmegaConf.select(config, "hydra.sweeper.n_trials", default=None)
        if total is None:
            try:
                total = len(expand(lines))
            except ConfigError:  # checked before Hydra started; a progress bar is no reason to stop
                total = None
        if OmegaConf.select(config, "sweep.progress", default=True):
            self._monitor = Monitor(sweep_dir, SOLO_TAG, total).start()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if is_batched(config):
            return
        if self._monitor is not None:
            self._monitor.stop()
        sweep_dir = Path(str(config.hydra.sweep.dir))
        for line in report(sweep_dir, read_marks(sweep_dir, SOLO_TAG, since=self._start)):
            print(line)
