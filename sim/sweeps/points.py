"""A sweep point's file, and running a point's seeds into it: claimed, resumable, atomic.

Each point has one Parquet file, ``<sweep dir>/points/<point id>.parquet``, one row per
run (seed): the point id, the swept parameters, ``base_seed``, ``replicate``, ``seed``,
``status`` (``ok`` or ``failed``), ``error`` and every pattern metric. ``run_block`` runs
the seeds a job asks for that the file does not hold yet:

1. it claims the point (sim/sweeps/claims.py); a point another live process holds is
   left for later (``None``), so no two processes ever run or write one point at once;
2. it reads the file: seeds already there (``ok``, or ``failed`` unless
   ``sweep.retry_failed``) are not run again; a file whose seeds or statuses cannot be
   read is moved to ``points/damaged/`` (kept) and its seeds are run again;
3. it runs the others, one after the other, each on its own copy of the point's checked
   config (a run that raises is recorded as ``failed`` with its error; the job goes on);
4. it writes the file's old rows plus the new ones to a temporary file and renames it
   over the old one, then gives up the claim. A killed job leaves at most a temporary
   file, which is never read as a result.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.analysis.metrics import METRIC_NAMES, REQUIRED_COLUMNS, metrics_from_columns
from sim.config import Config
from sim.model.policy_model import PolicyModel
from sim.sweeps import claims
from sim.sweeps.design import Block
from sim.sweeps.files import (
    DAMAGED_DIR,
    RUNS_DIR,
    STATUS_FAILED,
    STATUS_OK,
    done_seeds,
    lock_path,
    point_path,
    read_point,
    write_parquet_atomic,
)

log = logging.getLogger(__name__)


class DeliberateFailure(RuntimeError):
    """Raised by the testing aid ``sweep.fail_on_seed``."""


@dataclass
class Outcome:
    """What one job did with one block (what the end-of-sweep report counts)."""

    point: str
    base_seed: int
    overrides: list[str]
    ok: int = 0              # runs done now that succeeded
    failed: int = 0          # runs done now that failed
    skipped: bool = False    # every seed was already in the point's file
    by_other: bool = False   # another process held the point; it finished it meanwhile
    sibling: bool = False    # another job of the same sweep dealt with the point (not this job's to report)
    errors: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)  # the block's rows (its seeds), for the objective

    def summary(self) -> dict[str, Any]:
        """The outcome without its rows, as plain data (a job's return, a progress marker)."""
        data = dataclasses.asdict(self)
        data.pop("rows")
        return data


def column(key: str) -> str:
    """Table column of a swept parameter: its config path (the base seed is ``base_seed``)."""
    return "base_seed" if key == "seed" else key


@dataclass
class RunSettings:
    """What ``run_block`` needs of the sweep settings (``sweep.*``)."""

    retry_failed: bool
    keep_runs: bool
    collect: str
    fail_on_seed: int | None
    stale_after: float          # seconds without a sign of life before another host's claim is stale


def run_metrics(config: Config, seed: int, settings: RunSettings, keep_dir: Path | None,
                raw: Callable[[], Any] | None) -> dict[str, float]:
    """One run of a point (the model runs on its own copy of ``config``) and its pattern metrics."""
    config = dataclasses.replace(config, seed=seed)
    if settings.fail_on_seed is not None and seed == settings.fail_on_seed:
        raise DeliberateFailure(f"deliberate failure of the run with seed {seed} (testing aid sweep.fail_on_seed)")
    full = keep_dir is not None or settings.collect == "full"
    model = PolicyModel(config, collect=True if full else REQUIRED_COLUMNS).run()
    if keep_dir is not None:
        from sim.output.files import write_run

        raw_cfg = raw() if raw is not None else None
        if raw_cfg is not None:
            raw_cfg.seed = seed
        write_run(model, keep_dir / f"seed{seed}", raw_cfg)
    # From the collected columns: no frame is built for the metrics (the same values as from the frame).
    return metrics_from_columns(model.datacollector.model_vars, config.extras.get("metrics"))


def resume_problem(frame) -> str:
    """What makes a point file's rows unusable for resuming (``""`` if nothing): its seeds must be
    whole numbers and its statuses ok or failed, or the seeds already done cannot be told."""
    import pandas as pd

    seeds = frame["seed"]
    if not pd.api.types.is_numeric_dtype(seeds) or pd.api.types.is_bool_dtype(seeds) or seeds.isna().any() \
            or (seeds.astype(float) % 1 != 0).any():
        first = seeds.iloc[0].item() if hasattr(seeds.iloc[0], "item") else seeds.iloc[0]
        return f"column 'seed' holds {first!r}; allowed whole numbers in every row"
    bad = ~frame["status"].isin((STATUS_OK, STATUS_FAILED))
    if bad.any():
        return f"status {frame['status'][bad].iloc[0]!r}; allowed {STATUS_OK}, {STATUS_FAILED}"
    return ""


def _usable(existing, path: Path):
    """The point file's rows, or None after moving a damaged file to ``points/damaged/`` (its seeds
    are run again; the file is kept there, as ``python -m sim.aggregate`` keeps the files it sets aside)."""
    if existing is None or not len(existing):
        return existing
    problem = resume_problem(existing)
    if not problem:
        return existing
    aside = path.parent / DAMAGED_DIR
    aside.mkdir(exist_ok=True)
    os.replace(path, aside / path.name)
    log.warning("point file %s is damaged (%s); moved to %s, its seeds are run again", path.name, problem, aside)
    return None


def run_block(block: Block, sweep_dir: Path, make_config: Callable[[], Config], settings: RunSettings,
              die_mid_write: bool = False, make_raw: Callable[[], Any] | None = None,
              seen: Callable[[], bool] | None = None, on_done: Callable[[Outcome], None] | None = None,
              keep_rows: bool = False) -> Outcome | None:
    """Run the seeds of ``block`` its point's file lacks; None if another live process holds the point.

    With the claim held: ``seen()`` true means another job of the same sweep has already
    dealt with the block (the returned outcome has ``sibling`` set, nothing is done);
    ``on_done(outcome)`` is called before the claim is given up (the progress marker, so
    that a job of the same sweep that claims the point next sees it). ``keep_rows``: put
    the block's rows in the outcome (for a search's objective).
    """
    import pandas as pd

    lock = lock_path(sweep_dir, block.point)
    if not claims.try_claim(lock, settings.stale_after):
        return None
    outcome = Outcome(block.point, block.base_seed, list(block.overrides))
    try:
        if seen is not None and seen():
            outcome.sibling = True
            return outcome
        path = point_path(sweep_dir, block.point)
        existing = _usable(read_point(path), path)
        done = done_seeds(existing, settings.retry_failed)
        todo = [s for s in block.seeds if s not in done]
        if not todo:
            outcome.skipped = True
            if keep_rows:
                outcome.rows = existing[existing["seed"].isin(block.seeds)].to_dict("records")
            if on_done is not None:
                on_done(outcome)
            return outcome
        base = {"point": block.point, **{column(k): v for k, v in block.params.items()}, "base_seed": block.base_seed}
        try:
            config, build_error = make_config(), None
        except Exception as exc:  # noqa: BLE001 - a point that cannot be built is recorded, the sweep goes on
            config, build_error = None, exc
        keep_dir = sweep_dir / RUNS_DIR / block.point if settings.keep_runs else None
        new = []
        for seed in todo:
            row = {**base, "replicate": seed - block.base_seed, "seed": seed}
            try:
                if build_error is not None:
                    raise build_error
                metrics = run_metrics(config, seed, settings, keep_dir, make_raw)
                row.update(status=STATUS_OK, error=None, **{m: float(metrics[m]) for m in METRIC_NAMES})
                outcome.ok += 1
            except Exception as exc:  # noqa: BLE001 - a failed run is recorded, the sweep goes on
                log.warning("point %s seed %d failed", block.point, seed, exc_info=build_error is None)
                error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
                row.update(status=STATUS_FAILED, error=error, **dict.fromkeys(METRIC_NAMES, float("nan")))
                outcome.failed += 1
                outcome.errors.append(f"seed {seed}: {error}")
            new.append(row)
            claims.touch(lock)
        frame = pd.DataFrame(new)
        if existing is not None:
            old = existing[~existing["seed"].isin(todo)].copy()
            for key, value in base.items():  # a column this block's spelling adds: same point, same value
                if key not in old.columns:
                    old[key] = value
            frame = pd.concat([old, frame], ignore_index=True)
        frame["error"] = frame["error"].astype("string")
        frame = frame.sort_values("seed", kind="stable").reset_index(drop=True)
        write_parquet_atomic(frame, path, die_mid_write=die_mid_write)
        if keep_rows:
            outcome.rows = frame[frame["seed"].isin(block.seeds)].to_dict("records")
        if on_done is not None:
            on_done(outcome)
        return outcome
    finally:
        claims.release(lock)
