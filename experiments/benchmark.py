"""Benchmark: one run, the bare loop, a sweep through Hydra vs Mesa's batch_run, and scaling.

    python -m experiments.benchmark            # full benchmark (about 10 minutes on 2 cores)
    python -m experiments.benchmark --quick    # 40 x 25 grid, about 2 minutes: one JSON line
    python -m experiments.benchmark --help     # every setting and its default

What it measures, in one process on one machine (figures in docs/benchmark.md; every
ratio is taken within one run, so a change of machine or load moves both sides):

0. **The public API and a reference**: ``sim.run(...)`` against the model run it wraps,
   ``build_model(config).run().frame()`` with the config loaded once (``api_vs_model``);
   an outside client, EMA Workbench's ``perform_experiments`` over ``sim.ema_model``
   (``--ema-experiments`` experiments of 2 seeds; the workbench hands numpy values),
   against the same runs of the model, configs made beforehand (``ema_vs_model``);
   a 120-month run with collection against 3,600 scalar NumPy draws (30 a month, the
   model's order of magnitude: ``random``, ``normal``, ``poisson``, ``binomial`` in turn
   on one ``Generator``) timed in the same process (``run_vs_reference``; the bare loop's
   ``bare_vs_reference``).

1. **One run**: a default run (scenario ``baseline``, 120 months) built, stepped with
   collection and turned into its frame; the median of ``--runs`` runs (``run_ms``),
   split into model stepping (the bare loop), data collection (table and event log,
   and building the frame) and writing its outputs (``sim.outputs.write_run``: table,
   config, event log, metrics; the dashboard figure separately). A cProfile of the
   same runs names the top costs.
2. **The bare loop**: ``PolicyModel(config, collect=False).run()``, no table, no event
   log, no I/O: the practical lower bound (``bare_run_ms``).
3. **A sweep of a fixed grid** (``--grid-points`` values of ``--grid-param`` x
   ``--grid-seeds`` seeds x ``--months``) two ways on ``--cores`` processes, and bare
   (each ``--grid-repeats`` times in turn; medians):
   - the project's path, ``python -m sim -m ... hydra/launcher=joblib`` (a subprocess,
     timed from start to exit): every point is checked, the batched sweeper launches one
     job per worker, each job runs points (their seeds) and writes one Parquet file of
     pattern metrics per point, and takes the points no other job has taken yet when its
     own are done (sim/sweeps/);
   - ``mesa.batch_run`` over ``BatchRunModel`` (below): one task per run, each builds
     the model from keyword arguments, steps it with Mesa's full collection, and
     returns the pattern metrics of the run with its last collected row.
   Both compute the same per-run pattern metrics for the same points and seeds; the
   benchmark checks that they agree. ``sweep_vs_batch_run`` = the sweep's throughput /
   batch_run's; ``sweep_vs_bare`` = the sweep's wall time / (bare-loop compute of the
   same grid, timed here run by run / cores). CPU seconds of each path are kept too
   (less sensitive to a shared machine's load). Peak memory: the largest resident set
   of any process of each path, and of the sweep's launching process (psutil, polled).
4. **Scaling**: runs of ``--scaling-months`` months, and sweeps of ``--scaling-runs``
   runs (``--scaling-seeds`` seeds per point): time per month and per run, a straight-
   line fit (fixed + per-run cost), and the peak memory of each sweep (it should stay
   flat: results stream to disk).
5. **Where a month goes**: the month's cost by stage of the step (``stage_us_per_month``:
   each stage's functions timed with ``perf_counter`` around every call, in ``--runs``
   runs with collection; each timer adds about 0.1 µs to its stage), the step's own glue
   as the rest, against the month the ``run_vs_reference`` target allows
   (``target_month_us`` = 4 x the reference ÷ 120).

Results go to ``--out`` (``results/benchmark/benchmark.json``, or ``quick.json`` with
``--quick``; each run is also kept in ``history/``); an earlier file there is compared
with the new figures. ``--quick`` prints the key figures as one JSON line (``run_ms``,
``bare_run_ms``, ``api_vs_model``, ``run_vs_reference``, ``sweep_vs_batch_run``,
``sweep_vs_bare``, ``grid``: the grid's size, ...). Timings depend on the load of the
machine: the file records the load average before and after.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import dataclasses
import functools
import io
import json
import math
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from sim.config import Config, compose, load_config
from sim.model.policy_model import PolicyModel

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "results" / "benchmark"
MEMORY_POLL_SECONDS = 0.05  # how often the memory watcher samples the processes' resident sets


# ---------------------------------------------------------------------------- settings
def setting(default: Any, text: str) -> Any:
    """A benchmark setting: its default and the help text of its command-line flag."""
    return field(default=default, metadata={"help": text})


@dataclass
class Settings:
    """Benchmark parameters; each is a command-line flag (``--grid-points 50``)."""

    scenario: str = setting("baseline", "scenario of every run")
    months: int = setting(120, "months of a run and of the grid's runs")
    runs: int = setting(200, "runs timed for the median run figures")
    profile_runs: int = setting(50, "runs profiled with cProfile")
    profile_top: int = setting(12, "functions listed from each profile")
    figure_runs: int = setting(3, "runs whose dashboard figure is timed")
    api_runs: int = setting(30, "runs timed each way for api_vs_model")
    ema_experiments: int = setting(60, "EMA Workbench experiments (2 seeds each) timed for ema_vs_model")
    reference_repeats: int = setting(200, "times the 3,600 reference draws are timed (median)")
    grid_param: str = setting("pakistan.tolerance", "config path swept in the grid")
    grid_low: float = setting(20.0, "lowest value of the grid parameter")
    grid_high: float = setting(120.0, "highest value of the grid parameter")
    grid_points: int = setting(80, "values of the grid parameter (points)")
    grid_seeds: int = setting(25, "seeds per point (sweep.replicates)")
    grid_repeats: int = setting(3, "times the grid is run each way, in turn (medians)")
    cores: int = setting(os.cpu_count() or 1, "processes of the sweep and of batch_run")
    scaling_months: tuple[int, ...] = setting((60, 120, 240, 480), "run lengths timed")
    scaling_month_runs: int = setting(40, "runs timed per run length")
    scaling_runs: tuple[int, ...] = setting((250, 500, 1000, 2000), "sweep sizes (runs)")
    scaling_seeds: int = setting(10, "seeds per point in the scaling sweeps")
    out: Path = setting(RESULTS_DIR, "folder of the results file")


# --quick: fewer repetitions, but a grid of 40 points x 25 seeds (1,000 runs): large enough
# that a sweep's start-up (~3 s) does not dominate its ratios; about two minutes.
QUICK = {"runs": 40, "profile_runs": 10, "figure_runs": 1, "api_runs": 10, "ema_experiments": 20, "reference_repeats": 50,
         "grid_points": 40, "grid_seeds": 25, "grid_repeats": 1, "scaling_month_runs": 8, "scaling_runs": (100, 200)}
REFERENCE_DRAWS = 3_600  # scalar NumPy draws of the reference: 30 a month for 120 months


def _parse_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


def parse_args(argv: list[str] | None) -> tuple[Settings, bool]:
    ap = argparse.ArgumentParser(prog="python -m experiments.benchmark", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"smaller grid, a few minutes (about 2.5 on 2 cores); sets {QUICK} "
                                                         "unless given; prints one JSON line")
    for f in dataclasses.fields(Settings):
        kind = _parse_tuple if f.type == "tuple[int, ...]" else {"int": int, "float": float, "str": str,
                                                                   "Path": Path}[str(f.type)]
        default = ",".join(map(str, f.default)) if isinstance(f.default, tuple) else f.default
        ap.add_argument(f"--{f.name.replace('_', '-')}", type=kind, default=None,
                        help=f"{f.metadata['help']} (default {default})")
    args = ap.parse_args(argv)
    chosen = {f.name: getattr(args, f.name) for f in dataclasses.fields(Settings) if getattr(args, f.name) is not None}
    preset = QUICK if args.quick else {}
    return Settings(**{**preset, **chosen}), args.quick


# ---------------------------------------------------------------------------- helpers
def median_ms(seconds: list[float]) -> float:
    return 1e3 * statistics.median(seconds)


def timed(fn, *args) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def children_cpu_seconds() -> float:
    """User + system CPU time of this process's finished (reaped) descendants so far."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def note(text: str) -> None:
    print(f"[benchmark {datetime.now():%H:%M:%S}] {text}", file=sys.stderr, flush=True)


def with_seed(config: Config, seed: int, months: int | None = None) -> Config:
    cfg = copy.copy(config)  # PolicyModel deep-copies its config; a shallow copy keeps the seed apart
    cfg.seed = seed
    if months is not None:
        cfg.months = months
    return cfg


def grid_values(s: Settings) -> list[float]:
    values = [round(float(v), 3) for v in np.linspace(s.grid_low, s.grid_high, s.grid_points)]
    if len(set(values)) != len(values):
        raise SystemExit("error: the grid has repeated values; widen --grid-low/--grid-high or use fewer points")
    return values


def set_path(config: Config, path: str, value: Any) -> None:
    """Set a config path (``pakistan.tolerance``) on a typed Config."""
    *parents, leaf = path.split(".")
    node: Any = config
    for part in parents:
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    if isinstance(node, dict):
        node[leaf] = value
    else:
        setattr(node, leaf, value)


class MemoryWatch:
    """Peak resident set of a process tree, sampled by a thread while the work runs.

    ``root`` is a pid (that process and its descendants) or None (this process's
    descendants only). ``peak_process_mb`` is the largest single process seen,
    ``peak_total_mb`` the largest sum over the tree at one sample, ``peak_root_mb``
    the root process's own peak (the launching process of a sweep).
    """

    def __init__(self, root: int | None = None):
        self.root = root
        self.peak_process = 0
        self.peak_total = 0
        self.peak_root = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        import psutil

        try:
            top = psutil.Process(self.root if self.root is not None else os.getpid())
            procs = top.children(recursive=True) + ([top] if self.root is not None else [])
        except psutil.Error:
            return
        sizes = []
        for p in procs:
            try:
                sizes.append(p.memory_info().rss)
            except psutil.Error:
                continue
            if p.pid == self.root:
                self.peak_root = max(self.peak_root, sizes[-1])
        if sizes:
            self.peak_process = max(self.peak_process, max(sizes))
            self.peak_total = max(self.peak_total, sum(sizes))

    def _run(self) -> None:
        while not self._stop.wait(MEMORY_POLL_SECONDS):
            self._sample()

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def figures(self) -> dict[str, float]:
        peaks = {"peak_process_mb": self.peak_process, "peak_total_mb": self.peak_total, "peak_root_mb": self.peak_root}
        return {name: round(value / 2**20, 1) for name, value in peaks.items()}


def warm_seeds(s: Settings, seeds: int) -> None:
    """Build (not run) a model for each seed about to be timed.

    A model starting from today begins with the replay of the record for its seed
    (sim/model/handover.py), kept per process and on disk. Building the models first
    makes every timed path (bare, collected, sweep workers, batch_run) start from the
    same warm cache, so none is charged for a replay another path made.
    """
    config = load_config(s.scenario, 0, s.months)
    for seed in range(seeds):
        PolicyModel(with_seed(config, seed), collect=False)


# ---------------------------------------------------------------------------- 1-2. one run
def measure_run(s: Settings) -> dict[str, Any]:
    """Median costs of one run: bare loop, with collection, frame, sweep-style run, writing."""
    from sim.analysis.metrics import REQUIRED_COLUMNS, metrics_from_columns, pattern_metrics
    from sim.output.files import write_run

    config = load_config(s.scenario, 0, s.months)
    config.output.figures = False  # the dashboard figure is timed on its own below
    raw = compose(s.scenario, 0, s.months)
    params = config.extras.get("metrics")
    names = ("bare", "collect", "frame", "metrics", "sweep_run", "write")
    parts: dict[str, list[float]] = {k: [] for k in names}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(s.runs + 3):  # the first three warm caches and are dropped
            cfg = with_seed(config, i)
            t_bare, _ = timed(lambda: PolicyModel(cfg, collect=False).run())
            t_collect, model = timed(lambda: PolicyModel(cfg).run())
            t_frame, frame = timed(model.frame)
            t_metrics, _ = timed(pattern_metrics, frame, params)
            # A sweep's run: the metric columns only, metrics from them (no frame), as sim/sweeps/points.py.
            t_sweep, _ = timed(lambda: metrics_from_columns(
                PolicyModel(cfg, collect=REQUIRED_COLUMNS).run().datacollector.model_vars, params))
            t_write, _ = timed(write_run, model, Path(tmp) / "run", raw)
            if i >= 3:
                for key, value in zip(names, (t_bare, t_collect, t_frame, t_metrics, t_sweep, t_write)):
                    parts[key].append(value)
        with_figure = copy.deepcopy(config)
        with_figure.output.figures = True
        figure = [timed(write_run, PolicyModel(with_seed(with_figure, i)).run(), Path(tmp) / "fig", raw)[0]
                  for i in range(s.figure_runs)]
    med = {k: median_ms(v) for k, v in parts.items()}
    run_ms = 1e3 * statistics.median(c + f for c, f in zip(parts["collect"], parts["frame"]))
    return {
        "run_ms": run_ms,
        "bare_run_ms": med["bare"],
        "stepping_ms": med["bare"],
        "collection_ms": run_ms - med["bare"],
        "frame_ms": med["frame"],
        "write_ms": med["write"],
        "figure_ms": median_ms(figure) - med["write"] if figure else float("nan"),
        "metrics_ms": med["metrics"],
        "sweep_run_ms": med["sweep_run"],
    }


def profile_run(s: Settings) -> dict[str, Any]:
    """cProfile of ``profile_runs`` default runs (collection and frame), then of writing their outputs."""
    from sim.output.files import write_run

    config = load_config(s.scenario, 0, s.months)
    config.output.figures = False
    raw = compose(s.scenario, 0, s.months)
    PolicyModel(config).run().frame()  # warm-up outside the profile
    run, write = cProfile.Profile(), cProfile.Profile()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(s.profile_runs):
            model = run.runcall(lambda: PolicyModel(with_seed(config, i)).run())
            run.runcall(model.frame)
            write.runcall(write_run, model, Path(tmp) / "run", raw)
    run_total, run_top = _top(run, s.profile_runs, s.profile_top)
    write_total, write_top = _top(write, s.profile_runs, s.profile_top)
    return {"profile_run_ms": run_total, "profile_top": run_top,
            "profile_write_ms": write_total, "profile_write_top": write_top}


def _top(prof: cProfile.Profile, runs: int, n: int) -> tuple[float, list[dict[str, Any]]]:
    """Total profiled ms per run, and the ``n`` functions with the most self time."""
    stats = pstats.Stats(prof, stream=io.StringIO())
    rows = sorted(((tt, ct, _where(*key)) for key, (_cc, _nc, tt, ct, _callers) in stats.stats.items()), reverse=True)
    top = [{"function": where, "self_ms_per_run": round(1e3 * tt / runs, 3),
            "cumulative_ms_per_run": round(1e3 * ct / runs, 3), "self_share": round(tt / stats.total_tt, 3)}
           for tt, ct, where in rows[:n]]
    return 1e3 * stats.total_tt / runs, top


def _where(filename: str, line: int, func: str) -> str:
    """``path:line(function)``: a library by its import path, the project's by its repository path."""
    if filename == "~":
        return func  # a built-in
    parts = Path(filename).parts
    if "site-packages" in parts:
        name = "/".join(parts[parts.index("site-packages") + 1:])
    elif Path(filename).is_relative_to(ROOT):
        name = str(Path(filename).relative_to(ROOT))
    else:
        name = Path(filename).name
    return f"{name}:{line}({func})"


# ---------------------------------------------------------------------------- 5. where a month goes
def _stage_callables() -> list[tuple[str, Any, str]]:
    """(stage, owner, attribute) of every function a month of the step calls, in the order of the step."""
    import sim.model.policy_model as policy_model
    from sim.agents.mediator import Mediator
    from sim.agents.militant import MilitantGroup
    from sim.agents.pakistan import Pakistan
    from sim.agents.taliban import Taliban
    from sim.model.collector import RowCollector
    from sim.model.events import Timeline
    from sim.model.sectarian import SectarianConflict
    from sim.model.world import WorldState
    from sim.output.narrative import EventLog

    return [("1 scenario events", Timeline, "apply"), ("2 mediators decide", Mediator, "decide"),
            ("3 Pakistan decides", Pakistan, "decide"), ("3 Taliban decide", Taliban, "decide"),
            ("4 militants act (draws and deaths)", MilitantGroup, "act"),
            ("5 world update", WorldState, "update"), ("5 Taliban absorb", Taliban, "absorb"),
            ("5 militant strengths and ceasefire", policy_model, "update_flows"),
            ("5 Kurram clashes", SectarianConflict, "update"),
            ("6 Pakistan learns", Pakistan, "learn"), ("6 Taliban learn", Taliban, "learn"),
            ("6 collection (table row)", RowCollector, "collect"), ("6 event log", EventLog, "record")]


def measure_stages(s: Settings, reference_ms: float) -> dict[str, Any]:
    """Microseconds a month by stage of the step (runs with collection), the glue as the rest."""
    spent: dict[str, float] = {}
    clock = time.perf_counter

    def timer(stage: str, fn):
        @functools.wraps(fn)
        def timed_call(*args, **kwargs):
            start = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[stage] = spent.get(stage, 0.0) + clock() - start
        return timed_call

    config = load_config(s.scenario, 0, s.months)
    configs = [with_seed(config, i) for i in range(s.runs)]
    PolicyModel(configs[0]).run()  # warm-up, untimed
    originals = [(owner, name, getattr(owner, name)) for _stage, owner, name in _stage_callables()]
    try:
        for (stage, owner, name), (_o, _n, fn) in zip(_stage_callables(), originals):
            setattr(owner, name, timer(stage, fn))
        models = [PolicyModel(c) for c in configs]  # built outside the clock: the months alone are timed
        start = clock()
        for model in models:
            model.run()
        total = clock() - start
    finally:
        for owner, name, fn in originals:
            setattr(owner, name, fn)
    months = s.runs * s.months
    stages = {stage: 1e6 * spent.get(stage, 0.0) / months for stage, _o, _n in _stage_callables()}
    stages["the step's glue (the rest)"] = 1e6 * total / months - sum(stages.values())
    return {"stage_us_per_month": stages, "month_us": 1e6 * total / months,
            # the reference is 120 months' draws: the month a run may cost under the run_vs_reference target
            "target_month_us": 1e3 * TARGETS["run_vs_reference"][0] * reference_ms / 120}


# ---------------------------------------------------------------------------- 0. API and reference
def measure_api(s: Settings) -> dict[str, Any]:
    """``sim.run`` against the model run it wraps, in turn (so a change of load hits both); medians."""
    import sim

    config = load_config(s.scenario, 0, s.months)
    api, model = [], []
    for i in range(s.api_runs + 1):  # the first pair warms caches and is dropped
        t_api, _ = timed(lambda: sim.run(s.scenario, seed=i, months=s.months))
        t_model, _ = timed(lambda: sim.build_model(with_seed(config, i)).run().frame())
        if i:
            api.append(t_api)
            model.append(t_model)
    return {"api_run_ms": median_ms(api), "api_model_run_ms": median_ms(model),
            "api_vs_model": statistics.median(api) / statistics.median(model)}


def measure_ema(s: Settings) -> dict[str, Any]:
    """EMA Workbench's ``perform_experiments`` over ``sim.ema_model`` against the model runs it makes.

    The model side runs the same experiments' runs (same values, same seeds, the columns
    the outcomes read), with every config made before the clock starts: what is left on the
    workbench's side is its own bookkeeping, making each config and the metrics.
    """
    import logging

    import sim
    from ema_workbench import perform_experiments

    from sim.analysis.metrics import REQUIRED_COLUMNS

    logging.getLogger("EMA").setLevel(logging.WARNING)
    model = sim.ema_model(s.scenario, months=s.months, seeds=2, levers=False)
    seeds = dict((c.name, c.value) for c in model.constants)["seeds"]
    perform_experiments(model, scenarios=2)  # warm-up, untimed: the workbench's first call, the config caches
    start = time.perf_counter()
    experiments, _outcomes = perform_experiments(model, scenarios=s.ema_experiments)
    ema_s = time.perf_counter() - start
    names = [u.name for u in model.uncertainties]
    configs = [load_config(s.scenario, seed, s.months, {n.replace("__", "."): row[n] for n in names})
               for _, row in experiments.iterrows() for seed in seeds]
    start = time.perf_counter()
    for config in configs:
        PolicyModel(config, collect=REQUIRED_COLUMNS).run()
    model_s = time.perf_counter() - start
    return {"ema_experiments_s": ema_s, "ema_model_s": model_s, "ema_vs_model": ema_s / model_s}


def reference_draws(rng: np.random.Generator) -> None:
    """3,600 scalar draws, 30 a month for 120 months, of the kinds the model makes."""
    for _ in range(REFERENCE_DRAWS // 4):
        rng.random()
        rng.normal()
        rng.poisson(3.0)
        rng.binomial(10, 0.3)


def measure_reference(s: Settings, run_ms: float, bare_run_ms: float) -> dict[str, Any]:
    """The reference's median time; a run and the bare loop as multiples of it."""
    rng = np.random.default_rng(0)
    reference_draws(rng)  # warm-up
    times = [timed(reference_draws, rng)[0] for _ in range(s.reference_repeats)]
    ref = median_ms(times)
    return {"reference_ms": ref, "run_vs_reference": run_ms / ref, "bare_vs_reference": bare_run_ms / ref}


def measure_months(s: Settings) -> dict[str, Any]:
    """Median run time (with collection, and bare) per run length: cost should grow linearly."""
    config = load_config(s.scenario, 0)
    rows = []
    for months in s.scaling_months:
        full, bare = [], []
        for i in range(s.scaling_month_runs + 1):
            cfg = with_seed(config, i, months)
            t_full, _ = timed(lambda: PolicyModel(cfg).run().frame())
            t_bare, _ = timed(lambda: PolicyModel(cfg, collect=False).run())
            if i:
                full.append(t_full)
                bare.append(t_bare)
        rows.append({"months": months, "run_ms": median_ms(full), "bare_run_ms": median_ms(bare),
                     "run_us_per_month": 1e3 * median_ms(full) / months})
    return {"months_scaling": rows, "months_fit": linear_fit([r["months"] for r in rows], [r["run_ms"] for r in rows])}


def linear_fit(x: list[float], y: list[float]) -> dict[str, float]:
    """Least-squares y = fixed + per_unit * x, and the largest relative miss of the line."""
    slope, intercept = np.polyfit(np.asarray(x, float), np.asarray(y, float), 1)
    fitted = intercept + slope * np.asarray(x, float)
    miss = float(np.max(np.abs(np.asarray(y) - fitted) / np.asarray(y))) if len(x) > 2 else 0.0
    return {"fixed": float(intercept), "per_unit": float(slope), "max_relative_miss": miss}


# ---------------------------------------------------------------------------- 3. sweeps
def run_sweep(s: Settings, values: list[float], seeds: int, folder: Path) -> dict[str, Any]:
    """The project's sweep path, ``python -m sim -m ... hydra/launcher=joblib``, timed end to end."""
    from sim.sweeps.aggregate import load_table

    cmd = [sys.executable, "-m", "sim", "-m", f"{s.grid_param}={','.join(map(repr, values))}",
           f"sweep.replicates={seeds}", f"months={s.months}", f"scenario={s.scenario}",
           "hydra/launcher=joblib", f"hydra.launcher.n_jobs={s.cores}", f"hydra.sweep.dir={folder}"]
    cpu0, t0 = children_cpu_seconds(), time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with MemoryWatch(proc.pid) as mem:
        _, err = proc.communicate()
    wall, cpu = time.perf_counter() - t0, children_cpu_seconds() - cpu0
    if proc.returncode != 0:
        raise RuntimeError(f"the sweep failed ({' '.join(cmd)}):\n{err[-2000:]}")
    table = load_table(folder)
    runs = len(values) * seeds
    if len(table) != runs or not (table["status"] == "ok").all():
        raise RuntimeError(f"the sweep wrote {len(table)} rows of {runs}, or some failed")
    return {"points": len(values), "seeds": seeds, "runs": runs, "wall_s": wall, "cpu_s": cpu,
            "runs_per_s": runs / wall, **mem.figures(), "table": table}


class BatchRunModel(PolicyModel):
    """``PolicyModel`` built from keyword arguments, as ``mesa.batch_run`` builds models.

    ``BatchRunModel(rng=SEED, months=M, scenario=NAME, pakistan__tolerance=40.0)``:
    ``__`` in a keyword stands for a dot of the config path. The scenario's Config is
    loaded once per process (cached) and deep-copied per run. At the last month the
    run's pattern metrics are added to its last collected row, which is what
    ``batch_run(..., data_collection_period=-1)`` returns: so batch_run yields the same
    per-run metrics as a sweep.
    """

    def __init__(self, rng: int = 0, months: int = 120, scenario: str = "baseline", **params: Any):
        config = copy.deepcopy(_scenario_config(scenario))
        for key, value in params.items():
            set_path(config, key.replace("__", "."), value)
        config.seed, config.months = int(rng), int(months)
        super().__init__(config)

    def step(self) -> None:
        super().step()
        if not self.running:
            from sim.analysis.metrics import pattern_metrics

            columns = self.datacollector.model_vars
            n = len(columns["month"])
            for name, value in pattern_metrics(self.frame(), self.config.extras.get("metrics")).items():
                columns[name] = [None] * (n - 1) + [value]


@functools.lru_cache(maxsize=None)
def _scenario_config(scenario: str) -> Config:
    return load_config(scenario)


def run_batch(s: Settings, values: list[float], seeds: int) -> dict[str, Any]:
    """The same grid through ``mesa.batch_run`` on the same number of processes."""
    import pandas as pd
    from mesa.batchrunner import batch_run

    # pickled by its module path, so the pool's processes import it (also under ``python -m``)
    from experiments.benchmark import BatchRunModel as model_cls

    key = s.grid_param.replace(".", "__")
    cpu0, own0, t0 = children_cpu_seconds(), time.process_time(), time.perf_counter()
    with MemoryWatch() as mem:
        rows = batch_run(model_cls, parameters={key: values, "months": s.months, "scenario": s.scenario},
                         rng=list(range(seeds)), number_processes=s.cores, data_collection_period=-1,
                         max_steps=s.months, display_progress=False)
    wall = time.perf_counter() - t0
    cpu = children_cpu_seconds() - cpu0 + time.process_time() - own0
    table = pd.DataFrame(rows).rename(columns={key: s.grid_param, "rng": "seed"})
    runs = len(values) * seeds
    return {"points": len(values), "seeds": seeds, "runs": runs, "wall_s": wall, "cpu_s": cpu,
            "runs_per_s": runs / wall, **mem.figures(), "table": table}


def bare_grid_seconds(s: Settings, values: list[float], seeds: int) -> tuple[float, float]:
    """Bare-loop compute of a grid, every run in this process one after the other: (wall, CPU) seconds."""
    wall = cpu = 0.0
    for value in values:
        config = load_config(s.scenario, 0, s.months, overrides={s.grid_param: value})
        for seed in range(seeds):
            cfg = with_seed(config, seed)
            c0, t0 = time.process_time(), time.perf_counter()
            PolicyModel(cfg, collect=False).run()
            wall += time.perf_counter() - t0
            cpu += time.process_time() - c0
    return wall, cpu


def metrics_agree(sweep_table, batch_table, param: str) -> bool:
    """Do the two paths give the same pattern metrics for every point and seed?"""
    from sim.analysis.metrics import METRIC_NAMES

    keys = [param, "seed"]
    a = sweep_table.set_index(keys)[list(METRIC_NAMES)].sort_index()
    b = batch_table.set_index(keys)[list(METRIC_NAMES)].astype(float).sort_index()
    return a.index.equals(b.index) and bool(((a == b) | (a.isna() & b.isna())).all().all())


def measure_sweeps(s: Settings, work: Path) -> dict[str, Any]:
    """The grid three ways, ``grid_repeats`` times in turn (so a change of load hits all three); medians.

    The bare loop brackets the sweep: half of the grid's points (every other one) is timed
    just before the sweep and the other half just after, so a drift of the machine's
    speed during the sweep (on a shared VM, 10-15% from minute to minute) hits the
    sweep and the bare compute it is divided by alike.
    """
    values = grid_values(s)
    sweeps, batches, bares, agree = [], [], [], True
    for rep in range(s.grid_repeats):
        note(f"the grid's bare loop, every other point, one run after the other ({rep + 1} of {s.grid_repeats})")
        before = bare_grid_seconds(s, values[::2], s.grid_seeds)
        note(f"grid sweep through Hydra + joblib, {len(values)} points x {s.grid_seeds} seeds")
        sweeps.append(run_sweep(s, values, s.grid_seeds, work / f"grid{rep}"))
        shutil.rmtree(work / f"grid{rep}", ignore_errors=True)
        note("the grid's bare loop, the other points")
        after = bare_grid_seconds(s, values[1::2], s.grid_seeds)
        bares.append((before[0] + after[0], before[1] + after[1]))
        note("the same grid through mesa.batch_run")
        batches.append(run_batch(s, values, s.grid_seeds))
        same = metrics_agree(sweeps[-1].pop("table"), batches[-1].pop("table"), s.grid_param)
        agree = agree and same
    sweep, batch = _median_by_wall(sweeps), _median_by_wall(batches)
    bare, bare_cpu = sorted(bares)[(len(bares) - 1) // 2]
    ideal = bare / s.cores
    return {
        "sweep": sweep,
        "batch_run": batch,
        "bare_grid_compute_s": bare,
        "bare_grid_cpu_s": bare_cpu,
        "bare_grid_ideal_wall_s": ideal,
        "sweep_vs_batch_run": sweep["runs_per_s"] / batch["runs_per_s"],
        "sweep_vs_bare": sweep["wall_s"] / ideal,
        "batch_run_vs_bare": batch["wall_s"] / ideal,
        "sweep_cpu_vs_bare": sweep["cpu_s"] / bare_cpu,
        "batch_run_cpu_vs_bare": batch["cpu_s"] / bare_cpu,
        "metrics_agree": agree,
    }


def _median_by_wall(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The result with the median wall time (the lower one of an even count), with every wall time seen."""
    chosen = dict(sorted(results, key=lambda r: r["wall_s"])[(len(results) - 1) // 2])
    chosen["wall_s_all"] = [r["wall_s"] for r in results]
    return chosen


def measure_sweep_scaling(s: Settings, work: Path, sweep_run_ms: float) -> dict[str, Any]:
    """Sweeps of growing size; a line through their wall times splits fixed from per-run cost.

    ``job_overhead_ms``: what a job costs besides its runs (Hydra composing the job's
    config and setting up its folder, the point file), from the line's slope: slope x
    cores = per-run cost in a job = ``sweep_run_ms`` + job overhead / seeds.
    """
    rows = []
    for n in s.scaling_runs:
        note(f"scaling sweep of {n} runs")
        points = max(1, n // s.scaling_seeds)
        span = dataclasses.replace(s, grid_points=points)
        result = run_sweep(span, grid_values(span), s.scaling_seeds, work / f"scaling_{n}")
        result.pop("table")
        result["ms_per_run"] = 1e3 * result["wall_s"] / result["runs"]
        rows.append(result)
        shutil.rmtree(work / f"scaling_{n}", ignore_errors=True)
    fit = linear_fit([r["runs"] for r in rows], [r["wall_s"] for r in rows])
    fit["job_overhead_ms"] = (1e3 * fit["per_unit"] * s.cores - sweep_run_ms) * s.scaling_seeds
    # flat memory: neither the largest process (a worker) nor the launching process grows with the sweep
    growth = [rows[-1][k] / rows[0][k] for k in ("peak_process_mb", "peak_root_mb") if rows and rows[0][k]]
    return {"sweep_scaling": rows, "sweep_fit": fit, "memory_growth": max(growth, default=float("nan"))}


# ---------------------------------------------------------------------------- report
def machine() -> dict[str, Any]:
    import hydra
    import mesa
    import pandas as pd

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "mesa": mesa.__version__, "hydra": hydra.__version__, "numpy": np.__version__, "pandas": pd.__version__}


TARGETS = {  # figure: (limit, meaning); each checked as figure <= limit, or >= for "min"
    "run_ms": (20.0, "max", "a 120-month default run, ms"),
    "api_vs_model": (1.3, "max", "sim.run / build_model(config).run().frame()"),
    "ema_vs_model": (1.3, "max", "EMA Workbench's perform_experiments / the model runs it makes"),
    "run_vs_reference": (4.0, "max", "a 120-month run with collection / 3,600 scalar NumPy draws"),
    "sweep_vs_bare": (1.25, "max", "sweep wall / (bare-loop compute / cores); goal 1.10"),
    "sweep_vs_batch_run": (3.0, "min", "sweep throughput / batch_run throughput"),
    "memory_growth": (1.10, "max", "peak memory of a worker and of the launcher, largest sweep / smallest"),
}

# Every figure of the results file (tests/test_benchmark.py checks that each is there).
FIGURES = ("date", "machine", "settings", "load_before", "load_after", "run_ms", "bare_run_ms", "stepping_ms",
           "collection_ms", "frame_ms", "write_ms", "figure_ms", "metrics_ms", "sweep_run_ms", "api_run_ms",
           "api_model_run_ms", "api_vs_model", "ema_experiments_s", "ema_model_s", "ema_vs_model", "reference_ms", "run_vs_reference", "bare_vs_reference", "profile_run_ms",
           "profile_top", "profile_write_ms", "profile_write_top", "stage_us_per_month", "month_us",
           "target_month_us", "months_scaling", "months_fit", "sweep",
           "batch_run", "bare_grid_compute_s", "bare_grid_cpu_s", "bare_grid_ideal_wall_s", "sweep_vs_batch_run",
           "sweep_vs_bare", "batch_run_vs_bare", "sweep_cpu_vs_bare", "batch_run_cpu_vs_bare", "metrics_agree",
           "sweep_scaling", "sweep_fit", "memory_growth", "targets")
QUICK_KEYS = ("run_ms", "bare_run_ms", "api_vs_model", "run_vs_reference", "sweep_vs_batch_run", "sweep_vs_bare",
              "grid")  # promised in the --quick line

KEY_FIGURES = ("run_ms", "bare_run_ms", "stepping_ms", "collection_ms", "write_ms", "sweep_run_ms", "api_vs_model",
               "ema_vs_model",
               "run_vs_reference", "bare_vs_reference", "sweep_vs_batch_run", "sweep_vs_bare", "batch_run_vs_bare",
               "sweep_cpu_vs_bare", "memory_growth")


def summary_line(result: dict[str, Any]) -> dict[str, Any]:
    """The key figures as one flat mapping (the --quick JSON line)."""
    flat = {k: _round(result[k]) for k in KEY_FIGURES if k in result}
    sw = result["sweep"]
    flat.update(grid=f"{sw['points']} points x {sw['seeds']} seeds x {result['settings']['months']} months "
                     f"= {sw['runs']} runs on {result['settings']['cores']} cores",
                sweep_wall_s=_round(result["sweep"]["wall_s"]), batch_run_wall_s=_round(result["batch_run"]["wall_s"]),
                sweep_peak_process_mb=result["sweep"]["peak_process_mb"], metrics_agree=result["metrics_agree"],
                load=result["load_before"][0])
    return flat


def _round(x: Any) -> Any:
    return round(x, 3) if isinstance(x, float) and math.isfinite(x) else x


def report_lines(r: dict[str, Any], previous: dict[str, Any] | None) -> list[str]:
    sw, br, fit = r["sweep"], r["batch_run"], r["sweep_fit"]
    lines = [
        f"Benchmark {r['date']} on {r['machine']['cpu']} ({r['machine']['cores']} cores), "
        f"load {r['load_before'][0]:.2f} -> {r['load_after'][0]:.2f}",
        f"  one {r['settings']['months']}-month run   {r['run_ms']:7.2f} ms  = stepping {r['stepping_ms']:.2f} + "
        f"collection {r['collection_ms']:.2f} (of which frame {r['frame_ms']:.2f}); writing outputs "
        f"{r['write_ms']:.2f} ms, dashboard figure {r['figure_ms']:.0f} ms",
        f"  bare loop              {r['bare_run_ms']:7.2f} ms;  a sweep's run (metric columns + metrics) "
        f"{r['sweep_run_ms']:.2f} ms",
        f"  sim.run {r['api_run_ms']:.2f} ms vs build_model(config).run().frame() {r['api_model_run_ms']:.2f} ms: "
        f"api_vs_model {r['api_vs_model']:.2f};  reference ({REFERENCE_DRAWS} scalar draws) {r['reference_ms']:.2f} ms: "
        f"run_vs_reference {r['run_vs_reference']:.2f}, bare_vs_reference {r['bare_vs_reference']:.2f}",
        f"  EMA Workbench, {r['settings']['ema_experiments']} experiments x 2 seeds: {r['ema_experiments_s']:.2f} s "
        f"vs the model runs {r['ema_model_s']:.2f} s: ema_vs_model {r['ema_vs_model']:.2f}",
        f"  grid {sw['points']} x {sw['seeds']} = {sw['runs']} runs on {r['settings']['cores']} cores: "
        f"sweep {sw['wall_s']:.2f} s ({sw['runs_per_s']:.0f} runs/s, CPU {sw['cpu_s']:.1f} s, "
        f"peak {sw['peak_process_mb']:.0f} MB/process); batch_run {br['wall_s']:.2f} s ({br['runs_per_s']:.0f} runs/s, "
        f"CPU {br['cpu_s']:.1f} s, peak {br['peak_process_mb']:.0f} MB/process); "
        f"bare compute {r['bare_grid_compute_s']:.2f} s",
        f"  sweep_vs_batch_run {r['sweep_vs_batch_run']:.2f}   sweep_vs_bare {r['sweep_vs_bare']:.2f}   "
        f"batch_run_vs_bare {r['batch_run_vs_bare']:.2f}   (CPU: sweep {r['sweep_cpu_vs_bare']:.2f}, "
        f"batch_run {r['batch_run_cpu_vs_bare']:.2f} x bare)   metrics agree: {r['metrics_agree']}",
    ]
    lines += [f"  {row['months']:4d} months: run {row['run_ms']:7.2f} ms, bare {row['bare_run_ms']:7.2f} ms, "
              f"{row['run_us_per_month']:.1f} us/month" for row in r["months_scaling"]]
    lines += [f"  sweep of {row['runs']:5d} runs: {row['wall_s']:6.2f} s, {row['ms_per_run']:.2f} ms/run, "
              f"peak {row['peak_process_mb']:.0f} MB/process (launcher {row['peak_root_mb']:.0f} MB), "
              f"{row['peak_total_mb']:.0f} MB all" for row in r["sweep_scaling"]]
    lines.append(f"  sweep wall = {fit['fixed']:.2f} s + {1e3 * fit['per_unit']:.2f} ms x runs "
                 f"(largest miss {100 * fit['max_relative_miss']:.0f}%); a job costs {fit['job_overhead_ms']:.0f} ms "
                 f"besides its runs")
    for title, key in (("the run", "profile_top"), ("writing outputs", "profile_write_top")):
        lines.append(f"  top costs of {title} (self time per run, cProfile):")
        lines += [f"    {p['self_ms_per_run']:6.3f} ms  {100 * p['self_share']:4.1f}%  {p['function']}"
                  for p in r[key][:8]]
    lines.append(f"  a month with collection {r['month_us']:.1f} us (the run_vs_reference target allows "
                 f"{r['target_month_us']:.1f} us), by stage:")
    lines += [f"    {us:6.1f} us  {stage}" for stage, us in r["stage_us_per_month"].items()]
    for name, (limit, kind, meaning) in TARGETS.items():
        value = r.get(name, float("nan"))
        ok = value <= limit if kind == "max" else value >= limit
        lines.append(f"  target {name} {'<=' if kind == 'max' else '>='} {limit}: {value:.2f} "
                     f"{'met' if ok else 'NOT met'} ({meaning})")
    if previous:
        changes = ", ".join(f"{k} {previous[k]:.3g} -> {r[k]:.3g}" for k in KEY_FIGURES
                            if isinstance(previous.get(k), (int, float)) and isinstance(r.get(k), (int, float)))
        lines.append(f"  vs previous ({previous.get('date', '?')}): {changes}")
    return lines


def run_benchmark(s: Settings, quick: bool) -> dict[str, Any]:
    import logging

    logging.getLogger("MESA").setLevel(logging.WARNING)
    result: dict[str, Any] = {"kind": "quick" if quick else "full",
                              "date": datetime.now().isoformat(timespec="seconds"),
                              "machine": machine(), "load_before": list(os.getloadavg()),
                              "settings": {k: (str(v) if isinstance(v, Path) else v)
                                           for k, v in dataclasses.asdict(s).items()}}
    note("the models of the seeds to be timed, built once (warm replay cache)")
    warm_seeds(s, max(s.runs, s.profile_runs, s.api_runs, s.scaling_month_runs, s.grid_seeds, s.scaling_seeds) + 3)
    note(f"one run: {s.runs} runs of {s.months} months")
    result.update(measure_run(s))
    note(f"sim.run against the model run it wraps, {s.api_runs} runs each")
    result.update(measure_api(s))
    note(f"EMA Workbench: {s.ema_experiments} experiments against the model runs they make")
    result.update(measure_ema(s))
    note(f"reference: {REFERENCE_DRAWS} scalar NumPy draws, {s.reference_repeats} times")
    result.update(measure_reference(s, result["run_ms"], result["bare_run_ms"]))
    note(f"profile of {s.profile_runs} runs")
    result.update(profile_run(s))
    note(f"the month by stage of the step, {s.runs} runs")
    result.update(measure_stages(s, result["reference_ms"]))
    note(f"run lengths {s.scaling_months}")
    result.update(measure_months(s))
    work = Path(tempfile.mkdtemp(prefix="benchmark_"))
    try:
        result.update(measure_sweeps(s, work))
        result.update(measure_sweep_scaling(s, work, result["sweep_run_ms"]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["load_after"] = list(os.getloadavg())
    result["targets"] = {name: {"limit": limit, "kind": kind, "meaning": meaning, "value": result.get(name)}
                         for name, (limit, kind, meaning) in TARGETS.items()}
    return result


def main(argv: list[str] | None = None) -> int:
    s, quick = parse_args(argv)
    result = run_benchmark(s, quick)
    path = s.out / ("quick.json" if quick else "benchmark.json")
    previous = json.loads(path.read_text()) if path.exists() else None
    text = json.dumps(result, indent=2, default=str) + "\n"
    (s.out / "history").mkdir(parents=True, exist_ok=True)  # every run kept, for later comparison
    (s.out / "history" / f"{path.stem}-{result['date'].replace(':', '')}.json").write_text(text)
    path.write_text(text)
    if quick:
        print(json.dumps(summary_line(result)))
    else:
        print("\n".join(report_lines(result, previous)))
        print(f"Results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
