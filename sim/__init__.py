"""Agent-based simulation of Pakistan–Afghanistan policy dynamics.

A thinking tool, not a forecast. The public interface (the README, "Public interface"):

    import sim
    frame = sim.run(scenario="baseline", seed=0, months=None, overrides=None)
    model = sim.build_model(scenario="baseline", seed=0)   # then model.step(), model.frame()

(``scenario`` may be left out: ``baseline``, or the scenario ``overrides`` choose.)
    metrics = sim.pattern_metrics(frame)
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from sim.config import Config, ConfigError, load_config, validate

if TYPE_CHECKING:
    import pandas as pd

    from sim.model.policy_model import PolicyModel

__all__ = ["Config", "ConfigError", "build_model", "compare", "ema_model", "load_config", "pattern_metrics", "run"]


def build_model(scenario: str | Config | None = None, seed: int = 0, months: int | None = None,
                overrides: dict | list | None = None) -> PolicyModel:
    """Build a model from a scenario name plus overrides, or from a ready ``Config``.

    ``scenario`` None (the default) runs the scenario ``overrides`` choose
    (``{"scenario": "pressure_first"}``), else ``baseline``; a scenario named both here
    and in ``overrides`` must be the same one. Numbers may be numpy scalars. Bad input
    raises ``ConfigError`` with one line. With a ready ``Config``, ``overrides`` and
    ``months`` are refused and ``seed`` must be 0 or the Config's own seed; the Config
    is checked as ``load_config`` checks the configs it builds (``check_ready``).
    """
    from sim.model.policy_model import PolicyModel

    if isinstance(scenario, Config):
        if overrides:
            raise ConfigError("overrides: give overrides with a scenario name, not with a ready Config")
        if months is not None:
            raise ConfigError("months: set months in the ready Config (config.months), not beside it")
        if seed not in (0, scenario.seed):
            raise ConfigError(f"seed: {seed!r} differs from the ready Config's seed {scenario.seed}; "
                              f"set config.seed instead (dataclasses.replace(config, seed=...))")
        check_ready(scenario)
        return PolicyModel(scenario)
    return PolicyModel(load_config(scenario, seed, months, overrides))


def check_ready(config: Config) -> None:
    """Check a ready ``Config`` as ``load_config`` checks the configs it builds (on a copy: the
    config is not changed). A value set by hand after loading (``config.pakistan.tolerance = nan``,
    ``config.seed = -1``, ``config.start = "yesterday"``) raises ``ConfigError`` with one line
    before a model is built. (Under a millisecond; a run takes hundreds.)"""
    data = dataclasses.asdict(config)
    data.update(data.pop("extras"))
    validate(data)


def run(scenario: str | Config | None = None, seed: int = 0, months: int | None = None,
        overrides: dict | list | None = None) -> pd.DataFrame:
    """Run a scenario to its end and return the tidy per-month frame (arguments as ``build_model``)."""
    return build_model(scenario, seed, months, overrides).run().frame()


def pattern_metrics(frame: pd.DataFrame, params=None) -> dict[str, float]:
    """The "one step forward, two steps back" metrics of docs/ODD.md, "Pattern metrics" for one run's frame."""
    from sim.analysis.metrics import pattern_metrics as _pattern_metrics

    return _pattern_metrics(frame, params)


def ema_model(scenario: str = "baseline", **kwargs):
    """The model as an ``ema_workbench.Model`` for ``perform_experiments`` (sim/analysis/ema.py, README)."""
    from sim.analysis.ema import ema_model as _ema_model

    return _ema_model(scenario, **kwargs)


def compare(a, b, seeds=None, months: int | None = None, overrides=None, **kwargs) -> pd.DataFrame:
    """Effect of scenario ``b`` against ``a`` on the same seeds, with paired bootstrap intervals (docs/compare.md)."""
    from sim.analysis.compare import compare as _compare

    return _compare(a, b, seeds=seeds, months=months, overrides=overrides, **kwargs)
