"""Parameter sweeps: `python -m sim -m [experiment=NAME] [overrides]` (docs/sweeps.md).

Hydra's multirun expands the sweep (comma lists, ``range(...)``, ``glob(...)`` on the
command line, plus ``hydra.sweeper.params`` of a named experiment) into *points*; each
point runs ``sweep.replicates`` seeds ``seed, seed+1, ...`` (``seed`` is its base seed).
The pieces, each in its own module:

- ``sim.sweeps.plan``: ``check_sweep``, called before Hydra starts: every point is
  expanded, checked and identified before any job runs (a search's space is checked);
- ``sim.sweeps.identity``: a point's identity is its resolved, typed values and the
  code version, never the spelling of the command;
- ``sim.sweeps.sweeper``: the batched sweeper (the default ``hydra/sweeper``): it records
  the sweep's design, then hands each job several points (``sweep.points_per_job``), so
  Hydra's per-job cost (composing, folders, logging) is paid a few times, not per point;
- ``sim.sweeps.points``: a job claims a point atomically, runs the seeds its file lacks
  and writes the file atomically, so re-runs and sweeps running at once into one folder
  never run or write a point twice; ``sim.sweeps.claims`` holds the claim;
- ``sim.sweeps.progress``: progress while jobs run, and the report at the end.

This module holds the job function Hydra calls, ``run_point``: a job of the batched
sweeper runs its batch of points (``sweep.batch`` of the design record
``sweep.invocation``) and returns what it did; a job of another sweeper (the basic one,
Optuna) runs the one point its overrides name and returns the point's objective
(``sweep.objectives``, sim/sweeps/objective.py; ``None`` when there are none).
``python -m sim.aggregate FOLDER`` reads the point files into one table (sim/sweeps/aggregate.py).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from sim.config import CONFIG_DIR, ConfigError, SweepSettings, add_config_dir, compose, validate
from sim.sweeps import claims
from sim.sweeps.design import Block, read_design
from sim.sweeps.files import (  # noqa: F401 - re-exported: where the rest of the project looks for them
    POINT_SUFFIX,
    POINTS_DIR,
    RUN_COLUMNS,
    STATUS_FAILED,
    STATUS_OK,
    lock_path,
    points_dir,
    read_point,
    write_parquet_atomic,
)
from sim.sweeps.grid import DESIGN_ROW_KEY, expand, experiment_names, parse_overrides  # noqa: F401 - re-exported
from sim.sweeps.identity import point_id
from sim.sweeps.objective import point_objective
from sim.sweeps.plan import (  # noqa: F401 - re-exported
    PointConfig,
    apply_design_row,
    check_sweep,
    make_block,
    point_config,
    point_params,
    read_design_file,
    resolve_design,
    sweep_settings,
)
from sim.sweeps.points import DeliberateFailure, Outcome, RunSettings, run_block  # noqa: F401 - re-exported
from sim.sweeps.progress import PROGRESS_DIR, SOLO_TAG, SweepCallback, mark_done, marker_path  # noqa: F401

log = logging.getLogger(__name__)

CLAIM_POLL_SECONDS = 0.5  # how often a job looks whether another process has finished a point it holds


def run_settings(settings: SweepSettings) -> RunSettings:
    return RunSettings(retry_failed=settings.retry_failed, keep_runs=settings.keep_runs, collect=settings.collect,
                       fail_on_seed=settings.fail_on_seed, stale_after=60.0 * settings.stale_claim_minutes)


def run_point(cfg: DictConfig) -> Any:
    """Hydra job function of a multirun (module docstring): a batch of points, or one point."""
    from hydra.core.hydra_config import HydraConfig

    logging.getLogger("MESA").setLevel(logging.WARNING)
    hc = HydraConfig.get()
    sweep_dir = Path(hc.sweep.dir)
    points_dir(sweep_dir).mkdir(parents=True, exist_ok=True)
    settings = sweep_settings(cfg)  # checked with the sweep before it started
    use_config_folders(hc.runtime.config_sources)
    die = settings.exit_in_job is not None and int(hc.job.num) == settings.exit_in_job
    if settings.batch is not None:
        return run_batch(sweep_dir, settings, die)
    return run_solo(cfg, list(hc.overrides.task), sweep_dir, settings, die)


def use_config_folders(sources) -> None:
    """Search the user's config folders (``--config-dir``, ``hydra.searchpath``) in this job too.

    A job composes its points through ``sim.config.load_config``, which searches
    ``configs/`` and the folders added with ``add_config_dir``; in a worker process that
    list starts empty, so the folders Hydra searched for this job are added here.
    """
    for source in sources or []:
        if source.get("schema") == "file" and source.get("path") and Path(source.path).resolve() != CONFIG_DIR:
            add_config_dir(source.path)


def run_solo(cfg: DictConfig, job_overrides: list[str], sweep_dir: Path, settings: SweepSettings,
             die: bool) -> float | tuple[float, ...] | None:
    """One point from a job Hydra composed (another sweeper than the batched one); its objective."""
    row = cfg.get(DESIGN_ROW_KEY) if DESIGN_ROW_KEY in cfg else None
    if row is not None:
        cfg = copy.deepcopy(cfg)  # a design sweep: this job's row of sweep.design is set on a copy
    design_keys = apply_design_row(cfg)
    config = validate(cfg)  # once per point: every run builds its model from a private copy
    block = make_block(job_overrides, PointConfig(config, row, design_keys))
    outcome = run_claimed(block, sweep_dir, lambda: config, run_settings(settings), die,
                          make_raw=lambda: copy.deepcopy(cfg), keep_rows=True)
    _finish(sweep_dir, SOLO_TAG, outcome)
    return point_objective(cfg, outcome.rows)


def run_batch(sweep_dir: Path, settings: SweepSettings, die: bool) -> list[dict[str, Any]]:
    """The points of one batch of a design record, then (automatic batching) the rest of
    the design's points no other job has taken yet; returns what was done with each.

    Each point's config is composed from its override lines through the per-process
    cache (``sim.config.load_config``: Hydra composes once per group choice, the point's
    values are applied to a copy), then checked. With automatic batching there is one job
    per worker; a job that finishes its own points helps with the others' (from the end of
    each other batch, away from its owner), claiming each point as always, so no worker
    waits while another still has points to run. A point is reported by the one job of
    the sweep that dealt with it first (its progress marker says so to the others).
    """
    if settings.invocation is None:
        raise ConfigError("sweep.batch: needs sweep.invocation, the design record the batched sweeper wrote")
    tag = settings.invocation
    design = read_design(sweep_dir, tag)
    rs = run_settings(settings)
    own = design.batches[settings.batch]
    order = list(own)
    if settings.points_per_job is None:
        n = len(design.batches)
        for k in range(1, n):
            order.extend(reversed(design.batches[(settings.batch + k) % n]))
    summaries, deferred = [], []
    for index in order:
        block = design.blocks[index]
        outcome = _run_once(block, sweep_dir, tag, rs, die)
        if outcome is None:  # held by another live process: its owner job waits for it at the end
            if index in own:
                deferred.append(block)
        elif not outcome.sibling:
            summaries.append(outcome.summary())
    for block in deferred:
        outcome = run_claimed(block, sweep_dir, _checked(block), rs, die, make_raw=_raw_maker(block),
                              seen=_seen(sweep_dir, tag, block), on_done=_marker(sweep_dir, tag))
        if not outcome.sibling:
            summaries.append(outcome.summary())
    return summaries


def _run_once(block: Block, sweep_dir: Path, tag: str, rs: RunSettings, die: bool) -> Outcome | None:
    return run_block(block, sweep_dir, _checked(block), rs, die, make_raw=_raw_maker(block),
                     seen=_seen(sweep_dir, tag, block), on_done=_marker(sweep_dir, tag))


def _seen(sweep_dir: Path, tag: str, block: Block):
    """Has a job of this invocation already dealt with the block (its marker is there)?"""
    return lambda: marker_path(sweep_dir, tag, block.point, block.base_seed).exists()


def _marker(sweep_dir: Path, tag: str):
    return lambda outcome: _finish(sweep_dir, tag, outcome)


def _checked(block: Block):
    """The block's config, built when it is first needed (a finished point needs none).

    The config is composed from the block's override lines and checked; its point id is
    derived again, and differs from the planned one only if the model's code changed
    since the sweep started: the point's runs are then recorded as failed with that
    reason (a re-run runs every point under the new code's ids).
    """
    def make() -> Any:
        pc = point_config(block.overrides)
        pid = point_id(pc.config, pc.design_row)
        if pid != block.point:
            raise ConfigError(f"the model's code changed since this sweep started (point {block.point} is now "
                              f"{pid}); run the sweep again to run every point with the new code")
        return pc.config
    return make


def _raw_maker(block: Block):
    """The point's composed (unchecked) config, for the files of ``sweep.keep_runs``."""
    return lambda: compose(overrides=resolve_design(block.overrides)[0])


def run_claimed(block: Block, sweep_dir: Path, make_config, rs: RunSettings, die: bool, **kwargs: Any) -> Outcome:
    """``run_block``, waiting while another process holds the point (then it is usually finished)."""
    waited = False
    while True:
        outcome = run_block(block, sweep_dir, make_config, rs, die, **kwargs)
        if outcome is not None:
            outcome.by_other = waited and outcome.skipped
            return outcome
        log.info("point %s is being run by another process; waiting for it", block.point)
        claims.wait_released(lock_path(sweep_dir, block.point), rs.stale_after, CLAIM_POLL_SECONDS)
        waited = True


def _finish(sweep_dir: Path, tag: str, outcome: Outcome) -> None:
    """Log what was done with a point and leave its progress marker."""
    what = ("finished meanwhile by another process" if outcome.by_other else "already finished, skipped"
            if outcome.skipped else f"{outcome.ok} runs ok, {outcome.failed} failed")
    log.info("point %s (%s): %s", outcome.point, " ".join(outcome.overrides), what)
    mark_done(sweep_dir, tag, outcome.summary())
