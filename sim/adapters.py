"""The one place that touches private internals of the libraries this project builds on.

Each function wraps one private detail of Mesa, Hydra or joblib, says why the project needs it
and what to check when the library changes; ``pyproject.toml`` bounds those libraries
from above so an upgrade is a deliberate step.
"""

from __future__ import annotations

import os


# ------------------------------------------------------------------------------ Mesa
def note_collection_step(collector, time: float) -> None:
    """Record the step a row was collected at, as Mesa's own ``DataCollector.collect`` does.

    ``sim.model.collector.RowCollector`` replaces ``collect`` (Mesa deep-copies every
    value, half of a run's cost; the collector keeps one row a month), so it must keep the
    private ``_collection_steps`` list that ``mesa.batch_run`` reads to match rows to steps
    (mesa 3.x batchrunner).
    """
    if hasattr(collector, "_collection_steps"):
        collector._collection_steps.append(time)


def step_without_event_list(model, step, finished) -> bool:
    """Run ``step`` until ``finished()`` as Mesa's ``model.step()`` would, bypassing Mesa's event list.

    Mesa 3.5 runs every ``model.step()`` as a scheduled event: it pops the default step
    schedule's event, formats a log line, calls the step, creates the next event and pushes
    it on a heap; about 15 microseconds a step, a tenth of a month of this model. When the
    only pending event is that schedule's next step (nothing else scheduled, one step a
    time unit, no end), this does exactly what those steps do to the model (``steps += 1``,
    ``time += 1``, then the step) and hands the schedule its next event back at the new time,
    so ``model.step()`` carries on as before. Returns False, having done nothing, when
    anything else is pending or these private parts of Mesa (``_default_schedule``,
    ``_event_list``, ``EventGenerator._current_event`` / ``_execution_count`` /
    ``_schedule_next``; mesa 3.5) are not there: the caller then steps through ``model.step()``.
    Skipped: Mesa's per-step ``"Step N at time T"`` debug log line.
    """
    schedule = getattr(model, "_default_schedule", None)
    events = getattr(model, "_event_list", None)
    pending = getattr(schedule, "_current_event", None)
    if pending is None or events is None or not hasattr(schedule, "_schedule_next"):
        return False
    plan = schedule.schedule
    if (not schedule.is_active or getattr(schedule, "_paused", True) or plan.interval != 1
            or plan.end is not None or plan.count is not None or pending.time != model.time + 1
            or events.peek_ahead(2) != [pending]):
        return False
    pending.cancel()
    done = 0
    while not finished():
        model.steps += 1
        model.time += 1
        step()
        done += 1
    schedule._execution_count += done
    schedule._schedule_next(model.time + 1)
    return True


# ----------------------------------------------------------------------------- Hydra
# Hydra 1.3 keeps the pieces below in ``hydra._internal``; the sweep machinery
# (sim/sweeps/) needs them to expand and check a sweep before any job runs, exactly as
# Hydra's own sweeper would. When Hydra changes, run tests/test_sweeps.py and
# tests/test_sweep_reliability.py: a moved or renamed function fails there at once.

def override_parser(config_dir: str | os.PathLike, with_config_loader: bool):
    """Hydra's override parser; with a config loader it can also expand ``glob(...)`` over groups.

    ``glob(*)`` needs to list a config group's options, which only Hydra's (private)
    ``ConfigLoaderImpl`` over the config search path can do. Breaks if
    ``hydra._internal.config_loader_impl.ConfigLoaderImpl`` or
    ``hydra._internal.utils.create_config_search_path`` move or change signature.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    if not with_config_loader:
        return OverridesParser.create()
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.utils import create_config_search_path

    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(str(config_dir)))
    return OverridesParser.create(config_loader=loader)


def grid_of(overrides: list) -> list[list[str]]:
    """Every job (one override list each) Hydra's basic sweeper makes of parsed overrides.

    The cartesian product of the swept values, in Hydra's order, so a job here is the
    job Hydra would launch. Breaks if
    ``hydra._internal.core_plugins.basic_sweeper.BasicSweeper.split_arguments`` (a
    static method) changes its signature or its return shape (a list of batches).
    """
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    return [job for batch in BasicSweeper.split_arguments(overrides, None) for job in batch]


def apply_overrides(cfg, overrides: list) -> None:
    """Apply parsed value overrides to a composed config, in place, as Hydra does after composing.

    Hydra applies ``key=value``, ``+key=value``, ``++key=value`` and ``~key`` with
    ``ConfigLoaderImpl._apply_overrides_to_config`` (private, static); the same function
    keeps a point checked before a sweep identical to the point its job composes. Breaks
    if that method is renamed or changes its signature ``(overrides, cfg)``.
    """
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    ConfigLoaderImpl._apply_overrides_to_config(list(overrides), cfg)


# ---------------------------------------------------------------------------- joblib
def stop_joblib_workers() -> None:
    """Kill the idle worker processes of joblib's reusable (loky) executor, if there is one.

    A sweep run with Hydra's joblib launcher leaves its workers alive in joblib's
    reusable executor; at exit, loky shuts them down politely, which costs a quarter to
    half a second of every ``python -m sim -m`` command. Once the launcher has returned
    every job's result nothing is left for them to do, so they are killed at once
    (sim/sweeps/warmup.py, ``stop``).
    loky's public ``get_reusable_executor`` would *create* an executor when there is none,
    so this reads the module-level ``_executor`` of
    ``joblib.externals.loky.reusable_executor`` (joblib 1.3-1.5): breaks if it is renamed.
    """
    executor = _joblib_executor()
    if executor is not None:
        executor.shutdown(wait=False, kill_workers=True)


def joblib_executor_running() -> bool:
    """Whether joblib's reusable (loky) executor exists in this process and is not shut down
    (same private ``_executor`` as ``stop_joblib_workers``, and its private ``_flags.shutdown``,
    which loky itself reads to decide whether to make a new one); sim/sweeps/warmup.py waits for
    it before stopping it."""
    executor = _joblib_executor()
    return executor is not None and not getattr(getattr(executor, "_flags", None), "shutdown", False)


def _joblib_executor():
    import sys

    module = sys.modules.get("joblib.externals.loky.reusable_executor")
    return getattr(module, "_executor", None) if module is not None else None
