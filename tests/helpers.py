"""Shared helpers for the core tests: build configs once, vary them cheaply, run ensembles."""

from __future__ import annotations

import copy
import functools

import numpy as np
import pandas as pd

from sim.config import Config, load_config
from sim.model.policy_model import PolicyModel


@functools.lru_cache(maxsize=None)
def _base(scenario: str) -> Config:
    return load_config(scenario)


def config(scenario: str = "baseline", seed: int = 0, months: int | None = None, **changes) -> Config:
    """A deep copy of the scenario's config with dotted-path attribute changes applied.

    ``changes`` use ``__`` for dots, e.g. ``pakistan__tolerance=50`` or
    ``militants__groups__ttp__attack_rate=8``; ``events=[...]`` replaces the scenario events.
    """
    cfg = copy.deepcopy(_base(scenario))
    cfg.seed = seed
    cfg.months = months
    for key, value in changes.items():
        if key == "events":
            from sim.config import EventSpec

            cfg.scenario.events = [EventSpec(**e) for e in value]
            continue
        *path, leaf = key.split("__")
        obj = cfg
        for part in path:
            obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
        if isinstance(obj, dict):
            obj[leaf] = value
        else:
            assert hasattr(obj, leaf), f"no parameter {key}"
            setattr(obj, leaf, value)
    return cfg


def run(cfg: Config) -> pd.DataFrame:
    return PolicyModel(cfg).run().frame()


def ensemble(seeds: int, months: int, **changes) -> list[pd.DataFrame]:
    return [run(config(seed=s, months=months, **changes)) for s in range(seeds)]


def mean_of(frames: list[pd.DataFrame], column: str, rows: slice = slice(None)) -> float:
    return float(np.mean([f[column].iloc[rows].mean() for f in frames]))


def hold(target: str, value, months: int, date: str = "+0") -> dict:
    """An event that holds ``target`` at ``value`` for ``months`` from ``date``."""
    return {"date": date, "target": target, "value": value, "months": months}
