"""Start a joblib sweep's worker processes while the launching process checks the sweep.

A worker of Hydra's joblib launcher is a fresh Python process (joblib's ``loky``
backend): before its first point it imports Mesa, pandas, SciPy and the model (about
two seconds) and composes its first config. The launching process meanwhile checks
every point and starts Hydra, about as long, with the workers not yet started. joblib
keeps its loky workers between ``Parallel`` calls made with the same settings (its
documented "reusable executor"), so a first call with the launcher's own settings,
started in the background as soon as the sweep is checked (while Hydra starts), has the
workers started and their imports under way by the time Hydra's launcher hands them the
jobs.

Nothing depends on it: if the settings differ, joblib starts fresh workers as it always
would. The workers are started once the sweep's settings are checked and while its
points are checked (0.1-0.3 s for 20-80 points, otherwise added to the workers' start):
a sweep refused before that starts no worker; one refused by a point's check has its
workers killed (``cancel``) before the error is printed. When the sweep is over, its
idle workers are killed rather than shut down politely at exit (``stop``: about 0.3 s
of every sweep command).
"""

from __future__ import annotations

import importlib
import threading
import time
from typing import Any

from omegaconf import DictConfig, OmegaConf

from sim.adapters import joblib_executor_running, stop_joblib_workers

JOBLIB_LAUNCHER = "hydra_joblib_launcher"
CANCEL_WAIT_SECONDS = 10.0  # at most this long ``cancel`` waits for a starting pool to exist, to kill it
_LOCK = threading.Lock()
_STATE = {"cancelled": False, "starting": False}  # the warm-up of this process's sweep (one at a time)


def joblib_settings(launch_cfg: DictConfig) -> dict[str, Any] | None:
    """The ``joblib.Parallel`` settings Hydra's joblib launcher will use, or None for another launcher."""
    launcher = OmegaConf.select(launch_cfg, "hydra.launcher")
    if launcher is None or JOBLIB_LAUNCHER not in str(launcher.get("_target_", "")):
        return None
    params = {k: v for k, v in OmegaConf.to_container(launcher, resolve=True).items() if k != "_target_"}
    params["backend"] = "loky"  # (the launcher forces loky too)
    for key in ("pre_dispatch", "batch_size", "max_nbytes"):  # as the launcher reads them
        try:
            if params.get(key):
                params[key] = int(params[key])
        except ValueError:
            pass
    return params


def prepare(groups: list[str]) -> None:
    """Run in each worker: import what a sweep's job imports (the model, metrics, pandas, pyarrow) and
    compose the sweep's config once (kept per process: its points' configs are copies of it)."""
    importlib.import_module("sim.sweeps.sweep")
    importlib.import_module("pyarrow.parquet")  # (pandas imports it at a job's first point file otherwise)
    from sim.config import load_config

    try:
        load_config(overrides=groups)
    except Exception:  # noqa: BLE001 - checked in the launching process; nothing to report from here
        pass


def start(launch_cfg: DictConfig, groups: list[str]) -> threading.Thread | None:
    """Start the joblib launcher's workers in the background (module docstring); None if not joblib.

    ``groups``: the sweep's fixed config-group choices (``experiment=NAME``), composed in
    each worker ahead of its first point.
    """
    params = joblib_settings(launch_cfg)
    if params is None:
        return None
    from joblib import Parallel, delayed, effective_n_jobs

    workers = effective_n_jobs(params.get("n_jobs", -1))
    with _LOCK:
        _STATE.update(cancelled=False, starting=False)

    def warm() -> None:
        with _LOCK:  # (cancel either comes first, and nothing starts, or waits for the pool to exist)
            if _STATE["cancelled"]:
                return
            _STATE["starting"] = True
        try:
            Parallel(**params)(delayed(prepare)(list(groups)) for _ in range(workers))
        except Exception:  # noqa: BLE001 - a head start only (or cancelled); the launcher starts its own workers
            pass
        with _LOCK:
            cancelled = _STATE["cancelled"]
        if cancelled:  # (cancelled while joblib was still making its pool: killed here)
            stop_joblib_workers()

    thread = threading.Thread(target=warm, name="sweep-warmup", daemon=True)
    thread.start()
    return thread


def stop() -> None:
    """Kill the joblib workers a finished sweep left idle (every job has returned its result)."""
    stop_joblib_workers()


def cancel() -> None:
    """The sweep was refused after ``start``: start nothing more and kill the workers already started."""
    with _LOCK:
        _STATE["cancelled"] = True
        starting = _STATE["starting"]
    if not starting:
        return
    deadline = time.monotonic() + CANCEL_WAIT_SECONDS
    while not joblib_executor_running() and time.monotonic() < deadline:
        time.sleep(0.005)  # (the thread is making the pool: it exists within milliseconds)
    stop_joblib_workers()
