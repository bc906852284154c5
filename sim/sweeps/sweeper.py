"""The batched sweeper: Hydra's grid sweep, with several points per job and a recorded design.

Hydra's basic sweeper launches one job per point; each job composes its config from the
YAML files again, creates its folder and logging, writes ``.hydra/`` files and is sent
to a worker and back: about 0.1-0.3 s a point, more than a point's runs cost in a small
sweep. This sweeper (the default ``hydra/sweeper``, configs/hydra/sweeper/batched.yaml)
runs the same grid, in the same order, with the same launchers (basic, joblib, Ray,
submitit/SLURM), but:

1. it takes the grid ``check_sweep`` already expanded and checked in this process
   (sim/sweeps/plan.py), so nothing is composed twice before the jobs start;
2. it writes the design record (sim/sweeps/design.py) with every point's id and seeds
   and the batches, before any job runs;
3. it launches one job per *batch* of ``sweep.points_per_job`` points (automatic: one
   job per worker of the launcher; a job that has finished its own points then runs
   those no other job has taken yet, so the work stays balanced); a job composes each
   point's config from the per-process cache (``sim.config.load_config``);
4. jobs write no ``.hydra/`` folder (``hydra.output_subdir=null``) unless the command
   line sets ``hydra.output_subdir``;
5. it shows progress, and at the end reports exactly what this invocation did.

The class Hydra instantiates is ``hydra_plugins.pakaf_sim.batched_sweeper.BatchedSweeper``
(Hydra finds plugins only under ``hydra_plugins``); it is this class under that name.
"""

from __future__ import annotations

import os
import re
import socket
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from sim.sweeps.design import Block, Design, write_design
from sim.sweeps.grid import is_group, is_hydra, parse_overrides
from sim.sweeps.identity import resolved_version
from sim.sweeps.plan import plan_blocks, sweep_settings
from sim.sweeps.progress import Monitor, clear_marks, report
from sim.sweeps.warmup import stop as stop_idle_workers

JOBS_PER_WORKER = 1  # automatic batching: jobs per worker; the work is balanced by jobs helping each other


def invocation_id() -> str:
    """A name for one invocation of a sweep: time, host and process (unique on a shared folder)."""
    host = re.sub(r"[^A-Za-z0-9]+", "-", socket.gethostname()).strip("-") or "host"
    return f"{datetime.now():%Y%m%d-%H%M%S}-{host}-{os.getpid()}"


def workers(config: DictConfig) -> int:
    """How many jobs the launcher runs at once, as far as this process can tell: joblib's
    ``n_jobs``, SLURM's ``array_parallelism``, else the cores of this machine."""
    cores = os.cpu_count() or 1
    n_jobs = OmegaConf.select(config, "hydra.launcher.n_jobs", default=None)
    if isinstance(n_jobs, int) and n_jobs != 0:
        return n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs)  # joblib: -1 = all cores, -2 = all but one
    parallel = OmegaConf.select(config, "hydra.launcher.array_parallelism", default=None)
    if isinstance(parallel, int) and parallel > 0:
        return parallel
    return cores


def group_lines(block: Block) -> tuple[str, ...]:
    """A block's config-group choices (``scenario=NAME``): what Hydra composes its job from."""
    return tuple(o.input_line for o in parse_overrides(block.overrides) if is_group(o) and not is_hydra(o))


def make_batches(blocks: list[Block], per_job: int) -> list[list[int]]:
    """Groups of about ``per_job`` blocks, in order; a batch holds blocks with the same group
    choices only (its job composes them once), and the blocks of one point stay together."""
    by_point: dict[tuple, list[int]] = {}
    for i, block in enumerate(blocks):
        by_point.setdefault((group_lines(block), block.point), []).append(i)
    batches: list[list[int]] = []
    last_groups = None
    for (groups, _), indices in by_point.items():
        if not batches or len(batches[-1]) >= per_job or groups != last_groups:
            batches.append([])
        batches[-1].extend(indices)
        last_groups = groups
    return batches


def points_per_job(n_blocks: int, config: DictConfig) -> int:
    """``sweep.points_per_job``, or automatic: one job for the basic launcher (it runs jobs in
    turn, in this process), else ``JOBS_PER_WORKER`` job per worker of the launcher. A job
    costs about a second besides its runs (Hydra composes its config, sets up its folder
    and logging, and it travels to a worker and back), so fewer jobs are faster; with
    automatic batching a job that has run its own points runs the points no other job has
    taken yet (sim/sweeps/sweep.py, ``run_batch``), so no worker idles while work is left."""
    chosen = sweep_settings(config).points_per_job
    if chosen is not None:
        return chosen
    if "basic_launcher" in str(OmegaConf.select(config, "hydra.launcher._target_", default="")):
        return max(1, n_blocks)
    return max(1, -(-n_blocks // (JOBS_PER_WORKER * workers(config))))


def _fixed_values(lines: list[str]) -> list[str]:
    """The sweep's overrides that are the same for every point and are not group choices."""
    return [o.input_line for o in parse_overrides(lines) if not o.is_sweep_override() and not is_group(o)]


class BatchedSweeperImpl(Sweeper):
    """The batched sweeper (module docstring). Settings: ``params`` (as Hydra's basic
    sweeper: swept values by config path) and ``max_batch_size`` (jobs launched at once)."""

    def __init__(self, max_batch_size: int | None = None, params: dict[str, str] | None = None) -> None:
        super().__init__()
        self.max_batch_size = max_batch_size
        self.params = dict(params or {})
        self.config: DictConfig | None = None
        self.launcher = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        assert self.config is not None and self.launcher is not None
        lines = [f"{k}={v}" for k, v in self.params.items()] + list(arguments)
        blocks = list(plan_blocks(tuple(lines)))  # (checked before Hydra started: kept in this process)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        invocation = invocation_id()
        settings = sweep_settings(self.config)
        batches = make_batches(blocks, points_per_job(len(blocks), self.config))
        write_design(sweep_dir, Design(invocation=invocation, code_version=resolved_version(settings.code_version),
                                       command=_command(), created=datetime.now().isoformat(timespec="seconds"),
                                       blocks=blocks, batches=batches))
        extra = [] if any(str(o).startswith("hydra.output_subdir") for o in self.config.hydra.overrides.hydra) \
            else ["hydra.output_subdir=null"]
        values = _fixed_values(lines)
        jobs = [[*group_lines(blocks[batch[0]]), *values, f"sweep.invocation={invocation}", f"sweep.batch={k}", *extra]
                for k, batch in enumerate(batches)]
        monitor = Monitor(sweep_dir, invocation, len(blocks)) if settings.progress else None
        if monitor is not None:
            monitor.start()
        returns = []
        try:
            size = self.max_batch_size or len(jobs) or 1
            for first in range(0, len(jobs), size):
                results = self.launcher.launch(jobs[first:first + size], initial_job_idx=first)
                for r in results:
                    _ = r.return_value  # a job that raised raises here, with its traceback
                returns.append(results)
        finally:
            if monitor is not None:
                monitor.stop()
            stop_idle_workers()  # (every job has returned: joblib's workers have nothing left to do)
        summaries = [s for results in returns for r in results for s in (r.return_value or [])]
        for line in report(sweep_dir, summaries):
            print(line)
        clear_marks(sweep_dir, invocation)
        return returns


def _command() -> str:
    import shlex

    return shlex.join(["python", "-m", "sim", *sys.argv[1:]])
