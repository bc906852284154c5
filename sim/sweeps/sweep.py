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

from sim.config import ConfigError, SweepSettings, compose, validate
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
from sim.sweeps.progress import PROGRESS_DIR, SOLO_TAG, SweepCallback, mark_done  # noqa: F401 - re-exported

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
    die = settings.exit_in_job is not None and int(hc.job.num) == settings.exit_in_job
    if settings.batch is not None:
        return run_batch(sweep_dir, settings, die)
    return run_solo(cfg, list(hc.overrides.task), sweep_dir, settings, die)


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
                          make_raw=lambda: copy.deepcopy(cfg))
    mark_done(sweep_dir, SOLO_TAG, outcome.summary())
    return point_objective(cfg, outcome.rows)


def run_batch(sweep_dir: Path, settings: SweepSettings, die: bool) -> list[dict[str, Any]]:
    """The points of one batch of a design record; returns what was done with each.

    Each point's config is composed from its override lines through the per-process
    cache (``sim.config.load_config``: Hydra composes once per group choice, the
    point's values are applied to a copy), then checked.
    """
    if settings.invocation is None:
        raise ConfigError("sweep.batch: needs sweep.invocation, the design record the batched sweeper wrote")
    design = read_design(sweep_dir, settings.invocation)
    rs = run_settings(settings)
    summaries, deferred = [], []
    for index in design.batches[settings.batch]:
        block, make_config = _checked(design.blocks[index])
        raw = _raw_maker(block)
        outcome = run_block(block, sweep_dir, make_config, rs, die, make_raw=raw)
        if outcome is None:  # another live process holds the point: come back to it at the end
            deferred.append((block, make_config, raw))
            continue
        summaries.append(_finish(sweep_dir, settings.invocation, outcome))
    for block, make_config, raw in deferred:
        outcome = run_claimed(block, sweep_dir, make_config, rs, die, make_raw=raw)
        summaries.append(_finish(sweep_dir, settings.invocation, outcome))
    return summaries


def _checked(block: Block) -> tuple[Block, Any]:
    """The block with its point's config built here, and its id re-derived from that config.

    The id differs from the planned one only if the code changed since the sweep
    started; the runs are then filed under the id of the code that made them. A point
    whose config cannot be built (e.g. its design file changed since) gets its runs
    recorded as failed.
    """
    try:
        pc = point_config(block.overrides)
    except ConfigError as exc:
        error = exc

        def fail():
            raise error
        return block, fail
    pid = point_id(pc.config, pc.design_row)
    if pid != block.point:
        log.warning("point %s: the code changed since the sweep started; its runs are filed as point %s",
                    block.point, pid)
        block = dataclasses.replace(block, point=pid)
    return block, lambda: pc.config


def _raw_maker(block: Block):
    """The point's composed (unchecked) config, for the files of ``sweep.keep_runs``."""
    return lambda: compose(overrides=resolve_design(block.overrides)[0])


def run_claimed(block: Block, sweep_dir: Path, make_config, rs: RunSettings, die: bool, make_raw=None) -> Outcome:
    """``run_block``, waiting while another process holds the point (then it is usually finished)."""
    waited = False
    while True:
        outcome = run_block(block, sweep_dir, make_config, rs, die, make_raw=make_raw)
        if outcome is not None:
            outcome.by_other = waited and outcome.skipped
            return outcome
        log.info("point %s is being run by another process; waiting for it", block.point)
        claims.wait_released(lock_path(sweep_dir, block.point), rs.stale_after, CLAIM_POLL_SECONDS)
        waited = True


def _finish(sweep_dir: Path, tag: str, outcome: Outcome) -> dict[str, Any]:
    summary = outcome.summary()
    what = ("finished meanwhile by another process" if outcome.by_other else "already finished, skipped"
            if outcome.skipped else f"{outcome.ok} runs ok, {outcome.failed} failed")
    log.info("point %s (%s): %s", outcome.point, " ".join(outcome.overrides), what)
    mark_done(sweep_dir, tag, summary)
    return summary
